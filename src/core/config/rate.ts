/**
 * Per-key rate limits without a lock per request: a LimiterDO per key holds the budget of the
 * current one-second window and leases slices of it to isolates, which spend them locally.
 * Over all isolates a key never gets more than its rate in a window; a lease not spent by the
 * window's end lapses.
 */

export const WINDOW_MS = 1_000;

/** How much an isolate asks for at once: a tenth of the rate, so ten isolates can share a window. */
export function leaseSize(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10));
}

export type Window = { start: number; granted: number };
export type Lease = { tokens: number; until: number };

/** Grants up to `want` tokens of this window's budget; a new window starts with the whole rate. */
export function grantLease(window: Window, now: number, ratePerSecond: number, want: number): { window: Window; lease: Lease } {
  const start = now - (now % WINDOW_MS);
  const current = window.start === start ? window : { start, granted: 0 };
  const tokens = Math.max(0, Math.min(want, ratePerSecond - current.granted));
  return { window: { start, granted: current.granted + tokens }, lease: { tokens, until: start + WINDOW_MS } };
}

/** Retry-After (whole seconds, at least 1) for a request refused until `until`. */
export function retryAfterSeconds(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000));
}
