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
/**
 * How far ahead a grant may be dated: a message whose slot falls within this is admitted with
 * the wait until its slot (the bridge holds it that long), so a send batch that arrives every few
 * seconds fills the slots between its arrivals instead of being refused all but one second's worth.
 */
export const HOLD_MS = 5_000;

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
  /** Where the slots told to refused messages end: the next refused start after it, so the backlog comes back spread at the rate. */
  promised: number;
};

export function newThrottle(perMinute: number): ThrottleState {
  return {
    configured: perMinute,
    rate: perMinute,
    tat: -Infinity,
    lastSlowDown: -Infinity,
    lastRecover: -Infinity,
    leases: {},
    promised: -Infinity,
  };
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
  /** How many of the `want` may go (the first ones). */
  granted: number;
  /** For each one granted, in order: milliseconds to hold it before sending (its slot; at most `HOLD_MS`). */
  holdMs: number[];
  /** For each one refused, in order: milliseconds until it should ask again (its slot at the current rate). */
  waitMs: number[];
  /** What held the rest back. */
  limit?: "rate" | "concurrency";
};

/**
 * Grants up to `want` messages under the rate and the concurrency cap, each dated to its slot
 * (held up to `HOLD_MS`); the grants are one lease (`leaseId`) counted in flight until `release`
 * or `LEASE_MS`. The refused are told slots after every slot already told (`promised`), one
 * interval apart, so a backlog comes back at the rate rather than all at once.
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
  const holdMs: number[] = [];
  // A grant is sent at its slot less the tolerance: the GCRA condition, dated up to HOLD_MS ahead.
  while (granted < want && granted < room && Math.max(tat, now) - tolerance <= now + HOLD_MS) {
    holdMs.push(Math.max(0, Math.max(tat, now) - tolerance - now));
    tat = Math.max(tat, now) + interval;
    granted++;
  }
  const leases = granted > 0 ? { ...flight.leases, [leaseId]: [granted, now + LEASE_MS] as [number, number] } : flight.leases;
  const waitMs: number[] = [];
  const byRate = granted < room;
  const refused = want - granted;
  // Refused by rate: slots after the grants and after every slot told before, asked for again a
  // little before the slot comes within reach (it is then granted, held until its time).
  const first = Math.max(tat, now, state.promised);
  for (let k = 0; k < refused; k++) {
    // Held by concurrency: ask again soon (a lease may come back any moment).
    waitMs.push(byRate ? Math.max(0, first + k * interval - tolerance - HOLD_MS / 2 - now) : 1_000 + k * interval);
  }
  const promised = byRate && refused > 0 ? first + refused * interval : state.promised;
  return {
    state: { ...state, tat, leases, promised },
    granted,
    holdMs,
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
