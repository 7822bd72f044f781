// Loopback helpers: a free port (the sandbox's), and a fixed-concurrency loop that always ends.

export { freePort } from "../sandbox/ports.ts";

/** Runs task(0..count-1) with at most `concurrency` in flight; resolves when all have settled. */
export async function forEachConcurrent(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
