/**
 * Waiting in tests: on a condition, or on progress; never on a guess of how long work takes
 * (the machines are shared, and a busy one is slow without being broken). Shared by both vitest
 * projects (Node and workerd), so it uses nothing but timers.
 *
 * - waitFor: one event that must come (a status, a request, a count reached); within: the same
 *   for a promise.
 * - waitForProgress / waitForWhileProgressing / whileProgressing: long runs (hundreds of
 *   messages, a series of retries); they fail only when the work stops moving, and say how far
 *   it got.
 * - passTime: wall time itself, where the clock is what is tested (a token's lifetime, a
 *   one-second rate window) or where nothing could mark that a thing did not happen. Rare: a
 *   test that proves an absence waits for a later positive marker instead.
 */

/**
 * How long waitFor waits when not told: far above what any one step takes even on a busy machine,
 * so only a broken flow reaches it. vitest.config.ts sets per-test timeouts above several of these.
 */
export const WAIT_MS = 30_000;

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

/**
 * Polls `check` until it returns a truthy value and resolves with that value; after `ms` it throws
 * "timed out after … waiting for <what>" (`what` may be a function, to say how far it got). Polls every 5 ms at first, backing off to 200 ms, so an
 * in-process check answers at once and an HTTP poll stays light.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string | (() => string) = "a condition",
  ms = WAIT_MS,
): Promise<Truthy<T>> {
  const deadline = Date.now() + ms;
  let every = 5;
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "function" ? what() : what}`);
    await pause(every);
    every = Math.min(every * 2, 200);
  }
}

/** Resolves or rejects with `promise`; throws "<what> took over … ms" if it has not settled by then. */
export async function within<T>(promise: Promise<T>, what = "a promise", ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * vitest's per-test timeout for a long run guarded by waitForProgress / whileProgressing: far
 * beyond any stall limit, so the stall detector, which says how far the run got, always fires
 * first; this only catches a hang the detector cannot see.
 */
export const LONG_RUN_MS = 30 * 60_000;

export type ProgressOptions = {
  /** How long the count may stay put before the run counts as stuck. */
  stallMs: number;
  /** What is counted, for the error: "messages settled", "submits at the SMSC". */
  what: string;
  /** Between reads; default 250 ms. */
  everyMs?: number;
};

/** Tracks a count: throws once it has not gone up for `stallMs`. */
function stallGuard({ stallMs, what }: ProgressOptions, target?: number): (count: number) => void {
  let best = -Infinity;
  let movedAt = Date.now();
  return (count) => {
    if (count > best) {
      best = count;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      const of = target === undefined ? "" : ` of ${target}`;
      throw new Error(`${what}: stuck at ${count}${of}, no progress for ${stallMs} ms`);
    }
  };
}

/**
 * Polls `read` until it reaches `target`; resolves with the count. Fails only when the count has
 * not gone up for `stallMs`, however long the whole run takes.
 */
export async function waitForProgress(read: () => number | Promise<number>, target: number, options: ProgressOptions): Promise<number> {
  const guard = stallGuard(options, target);
  for (;;) {
    const count = await read();
    if (count >= target) return count;
    guard(count);
    await pause(options.everyMs ?? 250);
  }
}

/**
 * Polls `check` until it returns a truthy value, like waitFor, but with no deadline of its own:
 * fails only when `progress` (read each round) has not gone up for `stallMs`. For a flow that
 * takes an unknown number of steps (retries, attempts) to reach its end.
 */
export async function waitForWhileProgressing<T>(
  check: () => T | Promise<T>,
  progress: () => number | Promise<number>,
  options: ProgressOptions,
): Promise<Truthy<T>> {
  const guard = stallGuard(options);
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    guard(await progress());
    await pause(options.everyMs ?? 250);
  }
}

/**
 * Resolves (or rejects) with `work`, a call that answers only at the end of a long run; fails
 * sooner if `read`, its progress seen elsewhere, does not go up for `stallMs` while it runs.
 */
export async function whileProgressing<T>(work: Promise<T>, read: () => number | Promise<number>, options: ProgressOptions): Promise<T> {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  const guard = stallGuard(options);
  const watch = async (): Promise<T> => {
    while (!done) {
      guard(await read());
      await pause(options.everyMs ?? 250);
    }
    return finished;
  };
  return Promise.race([finished, watch()]);
}

/**
 * Lets `ms` of wall time pass. Only for what the clock itself defines (a lifetime, a rate window)
 * or for a quiet window that no later event could mark; every call says which in a comment.
 */
export function passTime(ms: number): Promise<void> {
  return pause(ms);
}
