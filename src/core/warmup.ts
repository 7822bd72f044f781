/**
 * IP warm-up: a new source address sends a daily cap that ramps over a schedule, so receivers
 * see its volume grow with its history. Pure: the cap of a day, and which address of a pool
 * each message goes out from. The pool's object (src/state/pool.ts) keeps each address's count
 * of the UTC day, so the cap holds across every bridge and isolate.
 */
import { z } from "zod";

/**
 * Daily caps from day 1, the ramp of SendGrid's recommended IP warm-up schedule (50 → 4,000,000
 * over 17 days); after the last day the address is warm.
 */
export const DEFAULT_WARMUP = [
  50, 100, 500, 1_000, 5_000, 10_000, 20_000, 40_000, 70_000, 100_000, 150_000, 250_000, 400_000, 600_000, 1_000_000, 2_000_000, 4_000_000,
] as const;

export const warmupSchedule = z.array(z.number().int().min(1).max(100_000_000)).min(1).max(120);

const DAY_MS = 86_400_000;

/** The UTC day of a time, as `YYYY-MM-DD`. */
export function utcDay(now: number): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** Milliseconds until the next UTC day begins: when every cap starts again. */
export function msToNextDay(now: number): number {
  return DAY_MS - (now % DAY_MS);
}

/**
 * How many messages an address may send on `day`: Infinity when it is warm (no warm-up, or past
 * the schedule's last day), 0 before its warm-up starts.
 */
export function dailyCap(warmup: { startedOn: string; schedule?: readonly number[] } | undefined, day: string): number {
  if (!warmup) return Infinity;
  const schedule = warmup.schedule ?? DEFAULT_WARMUP;
  const index = Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${warmup.startedOn}T00:00:00Z`)) / DAY_MS);
  if (index < 0) return 0;
  return index < schedule.length ? schedule[index]! : Infinity;
}

export type AddressBudget = { ip: string; cap: number; used: number };

/**
 * Picks a source address for each of `count` messages, in turn over the pool from `rotation`.
 * A message whose address has reached its cap waits (null), or with `overflow` goes out from
 * the next address that is warm or still under its cap (SendGrid's automated warm-up: "the
 * warming IP stops sending when the hourly limit is reached, while the other IP addresses
 * continue"); when no address has room it waits either way. Returns the new counts and rotation.
 */
export function assignAddresses(
  budgets: readonly AddressBudget[],
  rotation: number,
  count: number,
  overflow: boolean,
): { assigned: Array<string | null>; budgets: AddressBudget[]; rotation: number } {
  const next = budgets.map((b) => ({ ...b }));
  const assigned: Array<string | null> = [];
  let turn = budgets.length === 0 ? 0 : rotation % budgets.length;
  for (let k = 0; k < count; k++) {
    if (next.length === 0) {
      assigned.push(null);
      continue;
    }
    const own = next[turn]!;
    turn = (turn + 1) % next.length;
    let chosen: AddressBudget | undefined = own.used < own.cap ? own : undefined;
    if (!chosen && overflow) {
      for (let step = 1; step < next.length && !chosen; step++) {
        const other = next[(next.indexOf(own) + step) % next.length]!;
        if (other.used < other.cap) chosen = other;
      }
    }
    if (chosen) chosen.used++;
    assigned.push(chosen?.ip ?? null);
  }
  return { assigned, budgets: next, rotation: turn };
}
