/**
 * SMPP flow control, part one: the window. A bind may have at most `size` submit_sm outstanding
 * (written to the socket, no submit_sm_resp yet). Each session of a bind gets a fresh `Window`
 * (a reconnect starts from zero: the old session's requests died with it), and a slot is given
 * back when its response arrives or its session ends, never earlier: a submit_sm whose response
 * is late still counts, because the SMSC still holds it.
 *
 * `WindowQueue` hands slots of a route's binds to the submits waiting for one, first come first
 * served, on whichever usable bind has the most room (ties go round-robin), so the parts of a
 * batch spread over the binds that are up.
 */

export class Window {
  readonly size: number;
  #outstanding = 0;
  #maxSeen = 0;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("window size must be a whole number ≥ 1");
    this.size = size;
  }

  get outstanding(): number {
    return this.#outstanding;
  }

  /** The most slots taken at once in this window's life. */
  get maxSeen(): number {
    return this.#maxSeen;
  }

  get free(): number {
    return this.size - this.#outstanding;
  }

  tryAcquire(): boolean {
    if (this.#outstanding >= this.size) return false;
    this.#outstanding++;
    if (this.#outstanding > this.#maxSeen) this.#maxSeen = this.#outstanding;
    return true;
  }

  release(): void {
    if (this.#outstanding > 0) this.#outstanding--;
  }
}

/** One bind as the queue sees it: its current window, and whether it can take a submit now. */
export type Lane<T> = { owner: T; window: Window; usable: boolean };

/** A taken slot: the bind and the window (of that session) to give it back to. */
export type Slot<T> = { owner: T; window: Window };

export type AcquireResult<T> = Slot<T> | "timeout" | "down" | "closed";

type Waiter<T> = {
  resolve(result: AcquireResult<T>): void;
  /** Give up with "down" when no lane is usable at all (the caller decides what that means). */
  abortOnDown: boolean;
  /** performance.now() ms at which it gives up with "timeout". */
  deadline: number;
};

export class WindowQueue<T> {
  readonly #lanes: () => Array<Lane<T>>;
  #waiters: Array<Waiter<T>> = [];
  #next = 0;
  #closed = false;
  /** One timer for every waiter's deadline (a timer per waiting submit cost more than the submit). */
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;

  constructor(lanes: () => Array<Lane<T>>) {
    this.#lanes = lanes;
  }

  /** Submits waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** A slot at once when nobody waits and a usable lane has room, else null (then `acquire`). */
  tryNow(): Slot<T> | null {
    if (this.#closed || this.#waiters.length > 0) return null;
    const usable = this.#lanes().filter((lane) => lane.usable);
    const lane = usable.length > 0 ? this.#pick(usable) : undefined;
    if (!lane?.window.tryAcquire()) return null;
    return { owner: lane.owner, window: lane.window };
  }

  /**
   * Resolves with a slot (the caller must write at once or give it back with `window.release()`),
   * "timeout" at `deadline` (performance.now() ms), "down" when `abortOnDown` and no lane is
   * usable (now or later while waiting), "closed" after `close()`.
   */
  acquire(deadline: number, abortOnDown: boolean): Promise<AcquireResult<T>> {
    if (this.#closed) return Promise.resolve("closed");
    return new Promise((resolve) => {
      this.#waiters.push({ resolve, abortOnDown, deadline });
      if (deadline < this.#timerAt) this.#arm(deadline);
      this.pump();
    });
  }

  /** Hands free slots to waiters; call when a slot is released or a lane's state changes. */
  pump(): void {
    if (this.#waiters.length === 0) return;
    const lanes = this.#lanes();
    const usable = lanes.filter((lane) => lane.usable);
    if (usable.length === 0) {
      // Nothing can take a submit: those who asked to be told give up, the others keep waiting.
      const keep: Array<Waiter<T>> = [];
      for (const waiter of this.#waiters) {
        if (waiter.abortOnDown) waiter.resolve("down");
        else keep.push(waiter);
      }
      this.#waiters = keep;
      if (keep.length === 0) this.#disarm();
      return;
    }
    while (this.#waiters.length > 0) {
      const lane = this.#pick(usable);
      if (!lane) return;
      if (!lane.window.tryAcquire()) return; // cannot happen (#pick saw room), but never over-commit
      const waiter = this.#waiters.shift()!;
      waiter.resolve({ owner: lane.owner, window: lane.window });
    }
    if (this.#waiters.length === 0) this.#disarm();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /** Every waiter gets "closed", and so does every later acquire. */
  close(): void {
    this.#closed = true;
    this.#disarm();
    for (const waiter of this.#waiters) waiter.resolve("closed");
    this.#waiters = [];
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#expire(), Math.max(0, at - performance.now()));
  }

  /** The earliest deadline came: those past theirs get "timeout"; the timer moves to the next one. */
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = performance.now();
    let next = Infinity;
    const keep: Array<Waiter<T>> = [];
    for (const waiter of this.#waiters) {
      if (waiter.deadline <= now) waiter.resolve("timeout");
      else {
        keep.push(waiter);
        next = Math.min(next, waiter.deadline);
      }
    }
    this.#waiters = keep;
    if (next < Infinity) this.#arm(next);
  }

  #pick(usable: Array<Lane<T>>): Lane<T> | undefined {
    let best: Lane<T> | undefined;
    const n = usable.length;
    for (let k = 0; k < n; k++) {
      const lane = usable[(this.#next + k) % n]!;
      if (lane.window.free > 0 && (!best || lane.window.free > best.window.free)) best = lane;
    }
    if (best) this.#next = (usable.indexOf(best) + 1) % n;
    return best;
  }
}
