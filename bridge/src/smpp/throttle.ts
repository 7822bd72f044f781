/**
 * SMPP flow control, part two: the rate. One `Throttle` per route, shared by its binds: every
 * submit_sm (every segment) takes one grant, first come first served, and is written at once.
 *
 * With a cap (`tps`), grants are strict on two counts:
 *   - spacing: grants fall due every 1000/rate ms, counted from when the previous one was due
 *     rather than when its timer fired (so timer lateness does not add up and the rate holds),
 *     as long as that is only a little late (no bursts after an idle spell);
 *   - sliding window: never more than ceil(tps) grants within any `1000 + marginMs` ms, so an
 *     SMSC that counts submits per second (any second, not aligned ones) never sees more than
 *     ceil(tps), even when the timers of the spacing rule fire late and then close together.
 *
 * ESME_RTHROTTLED / ESME_RMSGQFUL (`slowDown`): the route pauses (100 ms, doubling per throttle
 * answer in a row, at most 2 s) and, with a cap, the effective rate halves (down to tps/16). A
 * success resets the pause steps; the rate doubles back toward the cap after each second
 * without a throttle answer. Without a cap only the pause applies.
 */

export type ThrottleOptions = {
  /** Submits per second for the route; null = uncapped (only slow-down pauses apply). */
  tps: number | null;
  /** Added to the 1-second sliding window (timer jitter, the SMSC's clock). Default 10 ms. */
  marginMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /** Called each time a take has to wait (metrics). */
  onWait?: () => void;
};

export const MAX_PAUSE_MS = 2_000;
const FIRST_PAUSE_MS = 100;
const RECOVER_EVERY_MS = 1_000;
/** How late a grant may be and still count from when it was due. */
const LATENESS_MS = 20;

type Waiter = { resolve(granted: boolean): void; timer: NodeJS.Timeout | undefined };

export class Throttle {
  readonly tps: number | null;
  /** The most grants allowed within one sliding window (ceil(tps)); Infinity when uncapped. */
  readonly perWindow: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #onWait: (() => void) | undefined;
  #rate: number;
  /** When the spacing rule next allows a grant. */
  #nextDue = -Infinity;
  /** Times of the last `perWindow` grants, oldest first. */
  #log: number[] = [];
  #pausedUntil = -Infinity;
  #throttledInARow = 0;
  #lastSlowDown = -Infinity;
  #lastRecover = -Infinity;
  #queue: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #waits = 0;

  constructor(options: ThrottleOptions) {
    if (options.tps !== null && !(options.tps > 0)) throw new RangeError("tps must be > 0 or null");
    this.tps = options.tps;
    this.perWindow = options.tps === null ? Infinity : Math.ceil(options.tps);
    this.#rate = options.tps ?? Infinity;
    this.#marginMs = options.marginMs ?? 10;
    this.#now = options.now ?? (() => performance.now());
    this.#onWait = options.onWait;
  }

  /** The rate in force now (submits per second; Infinity when uncapped). */
  get rate(): number {
    this.#recover(this.#now());
    return this.#rate;
  }

  /** Grants that had to wait (for spacing, the window or a pause). */
  get waits(): number {
    return this.#waits;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Takes a grant if one is free at once (nobody waits, no spacing or pause due): the common case without a cap, with no promise. */
  tryTake(): boolean {
    if (this.#closed || this.#queue.length > 0) return false;
    const now = this.#now();
    if (this.#earliest(now) > now) return false;
    this.#grant(now);
    return true;
  }

  /**
   * Resolves true when the caller may write one submit_sm now (write it in the same tick), false
   * when `deadline` (clock ms) comes first or the throttle is closed.
   */
  take(deadline: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    const now = this.#now();
    if (this.#queue.length === 0 && this.#earliest(now) <= now) {
      this.#grant(now);
      return Promise.resolve(true);
    }
    this.#waits++;
    this.#onWait?.();
    return new Promise((resolve) => {
      const waiter: Waiter = { resolve, timer: undefined };
      waiter.timer = setTimeout(
        () => {
          const at = this.#queue.indexOf(waiter);
          if (at < 0) return;
          this.#queue.splice(at, 1);
          resolve(false);
          if (at === 0) this.#pump();
        },
        Math.max(0, deadline - now),
      );
      this.#queue.push(waiter);
      if (this.#queue.length === 1) this.#pump();
    });
  }

  /** The SMSC answered ESME_RTHROTTLED (or queue full): pause the route, halve the rate. Returns the pause in ms. */
  slowDown(): number {
    const now = this.#now();
    this.#throttledInARow++;
    const pause = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (this.#throttledInARow - 1));
    this.#pausedUntil = Math.max(this.#pausedUntil, now + pause);
    if (this.tps !== null) this.#rate = Math.max(this.tps / 16, this.#rate / 2);
    this.#lastSlowDown = now;
    this.#lastRecover = now;
    return pause;
  }

  /** A submit was accepted: the next throttle answer starts from the smallest pause again. */
  succeeded(): void {
    this.#throttledInARow = 0;
  }

  /** Waiters get false; later takes too. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const waiter of this.#queue) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.#queue = [];
  }

  #recover(now: number): void {
    if (this.tps === null || this.#rate >= this.tps) return;
    while (now - Math.max(this.#lastSlowDown, this.#lastRecover) >= RECOVER_EVERY_MS && this.#rate < this.tps) {
      this.#lastRecover = Math.max(this.#lastSlowDown, this.#lastRecover) + RECOVER_EVERY_MS;
      this.#rate = Math.min(this.tps, this.#rate * 2);
    }
  }

  /** The first time a grant is allowed. */
  #earliest(now: number): number {
    let at = this.#pausedUntil;
    if (this.tps !== null) {
      this.#recover(now);
      at = Math.max(at, this.#nextDue);
      if (this.#log.length >= this.perWindow) at = Math.max(at, this.#log[this.#log.length - this.perWindow]! + 1000 + this.#marginMs);
    }
    return at;
  }

  #grant(now: number): void {
    if (this.tps === null) return;
    const interval = 1000 / this.#rate;
    // Absorb timer lateness (a few ms), not idle time: after a pause the next grant is a full interval away.
    this.#nextDue = Math.max(this.#nextDue, now - Math.min(interval / 2, LATENESS_MS)) + interval;
    this.#log.push(now);
    if (this.#log.length > this.perWindow) this.#log.splice(0, this.#log.length - this.perWindow);
  }

  #pump(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const now = this.#now();
      const at = this.#earliest(now);
      if (at > now) {
        // Timers may fire a little early: wake up again and re-check rather than grant early.
        this.#timer = setTimeout(() => this.#pump(), Math.max(1, Math.ceil(at - now)));
        return;
      }
      const waiter = this.#queue.shift()!;
      clearTimeout(waiter.timer);
      this.#grant(now);
      waiter.resolve(true);
    }
  }
}
