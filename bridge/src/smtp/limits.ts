/**
 * Concurrency caps with a bounded wait: at most `limit` holders per key (an account, a
 * destination domain); the others wait in a FIFO queue of at most `maxWaiting` per key, and
 * beyond that fail at once with `QueueFullError`; a waiter that gets no place within its
 * `waitMs` fails with `QueueTimeoutError` (either way the item comes back as `retry`, and the
 * edge's queue sends it again later: nothing was sent). Keys with no holder and no waiter are forgotten, so the map
 * only holds the keys in use.
 */

/** Waiting deliveries per key beyond which new ones fail fast. */
export const MAX_WAITING = 10_000;

export class QueueFullError extends Error {
  override name = "QueueFullError";
}

export class QueueTimeoutError extends Error {
  override name = "QueueTimeoutError";
}

export class LimiterClosedError extends Error {
  override name = "LimiterClosedError";
}

type Waiter = { grant: () => void; refuse: (error: Error) => void };
type Slot = { active: number; waiting: Waiter[] };

export class KeyedLimiter {
  readonly #limit: number;
  readonly #maxWaiting: number;
  readonly #what: string;
  readonly #slots = new Map<string, Slot>();
  #closed = false;

  constructor(limit: number, what: string, maxWaiting = MAX_WAITING) {
    this.#limit = limit;
    this.#what = what;
    this.#maxWaiting = maxWaiting;
  }

  /** Resolves with a release function (safe to call more than once) once a place is free, within `waitMs`. */
  acquire(key: string, waitMs: number): Promise<() => void> {
    if (this.#closed) return Promise.reject(new LimiterClosedError("the SMTP relay is shutting down"));
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = { active: 0, waiting: [] };
      this.#slots.set(key, slot);
    }
    const held = slot;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = held.waiting.shift();
      if (next) return next.grant(); // the place passes straight to the next waiter
      held.active--;
      if (held.active === 0) this.#slots.delete(key);
    };
    if (held.active < this.#limit) {
      held.active++;
      return Promise.resolve(release);
    }
    if (held.waiting.length >= this.#maxWaiting) {
      return Promise.reject(new QueueFullError(`over ${this.#maxWaiting} deliveries wait for the same ${this.#what}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(timer);
          resolve(release);
        },
        refuse: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        const at = held.waiting.indexOf(waiter);
        if (at >= 0) held.waiting.splice(at, 1);
        reject(new QueueTimeoutError(`no free place for this ${this.#what} within ${waitMs} ms`));
      }, waitMs);
      held.waiting.push(waiter);
    });
  }

  /** Holders now, per key (tests, diagnostics). */
  active(key: string): number {
    return this.#slots.get(key)?.active ?? 0;
  }

  /** Refuses every waiter and every later acquire. Holders keep their place until they release. */
  close(): void {
    this.#closed = true;
    for (const slot of this.#slots.values()) {
      const waiting = slot.waiting;
      slot.waiting = [];
      for (const waiter of waiting) waiter.refuse(new LimiterClosedError("the SMTP relay is shutting down"));
    }
  }
}
