// Shared by the end-to-end fault tests: sending a load through the real API, reading every
// message until it has its final outcome, and counting what the simulators received.
import { expect } from "vitest";
import { waitForProgress } from "../../wait.ts";
import type { TestStack } from "../stack-helpers.ts";

/** mulberry32: small and deterministic, so a failing run is repeated by its printed seed. */
export function prng(seed: number): () => number {
  let state = seed | 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: FAULT_SEED when given (to replay one), else a fresh one. */
export function runSeed(): number {
  const given = process.env.FAULT_SEED;
  return given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
}

/**
 * Sends `messages` through POST /v1/messages/batch, 100 a request. A 5xx or a dropped request
 * (wrangler dev's proxy under load, or wrangler dev itself restarting) is sent again with the
 * same Idempotency-Key, as a client does, which sends nothing twice. Resolves with the ids in order.
 */
/**
 * An API call as a patient client makes it: a 429 (the key's rate, which the suite's own polling
 * spends too) is asked again after the second it names, up to `tries` times.
 */
export async function patient(call: () => Promise<{ status: number; body: any }>, tries = 60): Promise<{ status: number; body: any }> {
  let res = await call();
  for (let attempt = 1; attempt < tries && res.status === 429; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // the answer says "retry in 1 s"
    res = await call();
  }
  return res;
}

export async function sendBatches(stack: Pick<TestStack, "api">, messages: unknown[], tries = 6): Promise<string[]> {
  const ids: string[] = [];
  const run = Math.random().toString(36).slice(2);
  for (let i = 0; i < messages.length; i += 100) {
    const post = () =>
      patient(() =>
        stack.api("/v1/messages/batch", {
          method: "POST",
          headers: { "idempotency-key": `${run}-${i}` },
          body: JSON.stringify({ messages: messages.slice(i, i + 100) }),
        }),
      ).catch(() => ({ status: 0, body: null }));
    let res = await post();
    for (let attempt = 1; attempt < tries && res.status !== 202; attempt++) res = await post();
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    ids.push(...res.body.results.map((r: { id: string }) => r.id));
  }
  return ids;
}

/**
 * The events that are a message's send outcome, per channel: for email and APNs the peer's
 * custody (`accepted`: a 250, a 200) is the last thing the sender learns; SMS goes on to its
 * receipt. Each message must have exactly one of these.
 */
const OUTCOMES: Record<string, ReadonlySet<string>> = {
  email: new Set(["accepted", "bounced", "failed", "expired"]),
  apns: new Set(["accepted", "bounced", "failed", "expired"]),
  sms: new Set(["delivered", "bounced", "failed", "expired"]),
};

export type MessageView = {
  id: string;
  channel: string;
  status: string;
  events: Array<{ type: string; at?: string; occurredAt?: string; detail?: Record<string, any> }>;
  [field: string]: unknown;
};

/** A provider's later `delivered` (an ESP's event webhook) follows email's custody; the send's outcome is still the one before it. */
export const isSettled = (m: MessageView | undefined): boolean =>
  m !== undefined && (OUTCOMES[m.channel]?.has(m.status) === true || m.status === "delivered");

/** The message's outcome events (see OUTCOMES); a correct run has exactly one per message. */
export const outcomeEvents = (m: MessageView) => m.events.filter((e) => OUTCOMES[m.channel]!.has(e.type));

/**
 * Reads every message until each has its outcome. Fails only when no message has settled for
 * `stallMs` (a busy machine is slow; a stuck pipeline is still), saying how many had. `onRound`
 * sees the settled count after each round (for rates, or to inject faults at points of progress).
 */
export async function settle(
  stack: Pick<TestStack, "api">,
  ids: string[],
  options: { stallMs?: number; onRound?: (settled: number) => void | Promise<void> } = {},
): Promise<MessageView[]> {
  const states = new Map<string, MessageView>();
  const settled = async () => {
    const open = ids.filter((id) => !isSettled(states.get(id)));
    for (let i = 0; i < open.length; i += 50) {
      await Promise.all(
        open.slice(i, i + 50).map(async (id) => {
          const res = await stack.api(`/v1/messages/${id}`).catch(() => null);
          // wrangler dev restarting answers nothing: the message is read again next round.
          if (res?.status === 200) states.set(id, res.body);
        }),
      );
    }
    const count = ids.filter((id) => isSettled(states.get(id))).length;
    await options.onRound?.(count);
    return count;
  };
  try {
    await waitForProgress(settled, ids.length, { stallMs: options.stallMs ?? 90_000, what: "messages with an outcome", everyMs: 1000 });
  } catch (error) {
    // Say where the rest stand: their states, and the last event of one of them.
    const open = ids.map((id) => states.get(id)).filter((m) => !isSettled(m));
    const byStatus = tally(open, (m) => m?.status ?? "unread");
    const counts = Object.fromEntries([...byStatus].map(([status, list]) => [status, list.length]));
    throw new Error(`${(error as Error).message}; open: ${JSON.stringify(counts)}; e.g. ${JSON.stringify(open[0]?.events.slice(-3))}`);
  }
  return ids.map((id) => states.get(id)!);
}

/** How many times each key occurs. */
export function tally<T>(items: T[], key: (item: T) => string | null | undefined): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    if (k === null || k === undefined) continue;
    const list = out.get(k) ?? [];
    list.push(item);
    out.set(k, list);
  }
  return out;
}

/**
 * The most attempts a schedule allows in `elapsedSeconds`: the first at once, each later one
 * after at least `minDelaySeconds(retry)` (the schedule with its jitter at its low end), with a
 * second of slack for rounding. More than this, and something retried faster than its schedule.
 */
export function attemptsAllowed(elapsedSeconds: number, minDelaySeconds: (retry: number) => number): number {
  let attempts = 1;
  let spent = 0;
  for (; attempts < 10_000; attempts++) {
    const delay = minDelaySeconds(attempts);
    if (spent + delay > elapsedSeconds + 1) break;
    spent += delay;
  }
  return attempts;
}

/** Seconds from a message's creation to its outcome. */
export function secondsToOutcome(m: MessageView): number {
  const outcome = outcomeEvents(m)[0];
  return (Date.parse(outcome?.occurredAt ?? new Date().toISOString()) - Date.parse(String(m.createdAt))) / 1000;
}
