// Misbehaviour shared by the provider simulators: a mode set for the next `times` requests, or
// for the next `seconds` (an outage window), or until set back to "ok"; and the "hang" and
// "drop" answers.
import type { IncomingMessage, ServerResponse } from "node:http";

// A hung request ends by itself eventually, so a forgotten behaviour can't pin sockets forever.
const HANG_MAX_MS = 120_000;

/** What each simulated send API counts: requests, their answers, and the misbehaviours served. */
export type SendStats = {
  requests: number;
  accepted: number;
  refused: number;
  unavailable: number;
  hung: number;
  dropped: number;
};

/** One behaviour: "ok", or a mode taken by each request until `remaining` runs out or `until` passes. */
export class BehaviourSlot<Mode extends string> {
  #current: { mode: Mode; remaining: number | null; until: number | null } | null = null;
  readonly #ok: Mode;
  readonly #now: () => number;

  constructor(ok: Mode, now: () => number = Date.now) {
    this.#ok = ok;
    this.#now = now;
  }

  /** `times`: for that many requests; `seconds`: for that long from now; both: whichever ends first. */
  set(mode: Mode, times?: number, seconds?: number): void {
    this.#current =
      mode === this.#ok ? null : { mode, remaining: times ?? null, until: seconds === undefined ? null : this.#now() + seconds * 1000 };
  }

  /** The mode now, the requests it has left (null: not counted) and, for a window, when it ends (ISO). */
  current(): { mode: Mode; remaining: number | null; until?: string } {
    const current = this.#live();
    return {
      mode: current?.mode ?? this.#ok,
      remaining: current?.remaining ?? null,
      ...(current?.until != null ? { until: new Date(current.until).toISOString() } : {}),
    };
  }

  /** The mode for this request; counts it against `times`. */
  take(): Mode {
    const current = this.#live();
    if (current === null) return this.#ok;
    if (current.remaining !== null && --current.remaining <= 0) this.#current = null;
    return current.mode;
  }

  #live() {
    if (this.#current?.until != null && this.#now() >= this.#current.until) this.#current = null;
    return this.#current;
  }
}

/** Responses kept open without an answer, so close() can end them. */
export class Hanging {
  readonly #open = new Set<ServerResponse>();

  /** Never answers: the response stays open until the client leaves or HANG_MAX_MS pass. */
  hold(res: ServerResponse): void {
    this.#open.add(res);
    const timer = setTimeout(() => res.destroy(), HANG_MAX_MS);
    timer.unref();
    res.on("close", () => {
      clearTimeout(timer);
      this.#open.delete(res);
    });
  }

  destroyAll(): void {
    for (const res of this.#open) res.destroy();
    this.#open.clear();
  }
}

/** Ends the connection without an answer (after the request was read). */
export function drop(req: IncomingMessage): void {
  req.socket.destroy();
}
