/**
 * A destination's send budget, shared by every bridge and isolate through the pool's object:
 * the generic cell rate algorithm (GCRA) over messages per minute, a concurrency cap, and the
 * adaptive part (a throttling reply halves the rate, quiet minutes double it back), as the SMPP
 * throttle does per second (bridge/src/smpp/throttle.ts). Pure: the object keeps the state.
 *
 * Accuracy: a grant is allowed while the theoretical arrival time (TAT) is at most `TOLERANCE_MS`
 * ahead, less one interval, so any window of W ms holds at most (W + 1 s) / interval + 1 grants:
 * for 60 s, the rate plus a sixtieth of it (+1.7 %), for every rate from 60 per minute up.
 */

/** Burst tolerance: how far ahead of the schedule grants may run (less one interval). */
export const TOLERANCE_MS = 1_000;
/** A throttling reply halves the rate at most once in this window (one burst of 421s is one signal). */
export const SLOW_DOWN_EVERY_MS = 5_000;
/** Each minute without a throttling reply doubles the rate back toward the configured one. */
export const RECOVER_EVERY_MS = 60_000;
/** The rate never falls below the configured one over this. */
export const MIN_RATE_DIVISOR = 16;
/** A lease of in-flight messages not given back (a consumer that died) lapses after this. */
export const LEASE_MS = 300_000;

export type ThrottleState = {
  /** The configured messages per minute this state was made for (a new configuration starts over). */
  configured: number;
  /** Messages per minute in force now. */
  rate: number;
  /** Theoretical arrival time of the next grant (epoch ms). */
  tat: number;
  lastSlowDown: number;
  lastRecover: number;
  /** In-flight leases: id → [count, lapses at]. */
  leases: Record<string, [number, number]>;
};

export function newThrottle(perMinute: number): ThrottleState {
  return { configured: perMinute, rate: perMinute, tat: -Infinity, lastSlowDown: -Infinity, lastRecover: -Infinity, leases: {} };
}

/** The state for the configuration in force: a changed rate starts over. */
export function throttleFor(state: ThrottleState | undefined, perMinute: number): ThrottleState {
  return state && state.configured === perMinute ? state : newThrottle(perMinute);
}

function recovered(state: ThrottleState, now: number): ThrottleState {
  let { rate, lastRecover } = state;
  while (rate < state.configured && now - Math.max(state.lastSlowDown, lastRecover) >= RECOVER_EVERY_MS) {
    lastRecover = Math.max(state.lastSlowDown, lastRecover) + RECOVER_EVERY_MS;
    rate = Math.min(state.configured, rate * 2);
  }
  return rate === state.rate ? state : { ...state, rate, lastRecover };
}

function inFlight(state: ThrottleState, now: number): { count: number; leases: ThrottleState["leases"] } {
  const leases: ThrottleState["leases"] = {};
  let count = 0;
  for (const [id, [n, until]] of Object.entries(state.leases)) {
    if (until <= now) continue;
    leases[id] = [n, until];
    count += n;
  }
  return { count, leases };
}

export type Grant = {
  state: ThrottleState;
  /** How many of the `want` may go now (the first ones). */
  granted: number;
  /** For each one refused, in order: milliseconds until it should ask again (its slot at the current rate). */
  waitMs: number[];
  /** What held the rest back. */
  limit?: "rate" | "concurrency";
};

/**
 * Grants up to `want` messages now under the rate and the concurrency cap; the grants are one
 * lease (`leaseId`) counted in flight until `release` or `LEASE_MS`. The refused get spread slots:
 * the k-th waits until the k-th interval after the last grant, so they come back at the rate.
 */
export function grant(
  current: ThrottleState,
  now: number,
  want: number,
  limits: { concurrency?: number | undefined },
  leaseId: string,
): Grant {
  const state = recovered(current, now);
  const interval = 60_000 / state.rate;
  const tolerance = Math.max(0, TOLERANCE_MS - interval);
  const flight = inFlight(state, now);
  const room = limits.concurrency === undefined ? Infinity : Math.max(0, limits.concurrency - flight.count);
  let tat = state.tat;
  let granted = 0;
  while (granted < want && granted < room && Math.max(tat, now) - tolerance <= now) {
    tat = Math.max(tat, now) + interval;
    granted++;
  }
  const leases = granted > 0 ? { ...flight.leases, [leaseId]: [granted, now + LEASE_MS] as [number, number] } : flight.leases;
  const waitMs: number[] = [];
  const byRate = granted < room;
  for (let k = 0; k < want - granted; k++) {
    // Held by concurrency: ask again soon (a lease may come back any moment); by rate: at its slot.
    waitMs.push(byRate ? Math.max(0, Math.max(tat, now) + k * interval - tolerance - now) : 1_000 + k * interval);
  }
  return {
    state: { ...state, tat, leases },
    granted,
    waitMs,
    ...(granted < want ? { limit: byRate ? ("rate" as const) : ("concurrency" as const) } : {}),
  };
}

/** The lease's messages are no longer in flight. */
export function release(state: ThrottleState, leaseId: string): ThrottleState {
  if (!(leaseId in state.leases)) return state;
  const { [leaseId]: _, ...leases } = state.leases;
  return { ...state, leases };
}

/** A throttling reply (421, 4.7.x rate limits): halve the rate, once per `SLOW_DOWN_EVERY_MS`, never under configured/16. */
export function slowDown(current: ThrottleState, now: number): ThrottleState {
  const state = recovered(current, now);
  if (now - state.lastSlowDown < SLOW_DOWN_EVERY_MS) return state;
  return { ...state, rate: Math.max(state.configured / MIN_RATE_DIVISOR, state.rate / 2), lastSlowDown: now, lastRecover: now };
}

/** The rate in force now (messages per minute). */
export function rateNow(state: ThrottleState, now: number): number {
  return recovered(state, now).rate;
}
