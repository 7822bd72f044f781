// A Worker under wrangler dev (unstable_startWorker), started so that it either answers or fails
// with a reason. wrangler's own `ready` never settles when workerd cannot bind its port: workerd
// dies with "Address already in use", the DevEnv emits an error, and `ready` stays pending (a
// port picked free can be taken by another socket before workerd binds it; CI lost two stacks
// to that, each after the 300 s hook timeout). Here that error, or no readiness within
// READY_MS, ends the start, and what it left behind (workerd, a pending dispose) is cleaned up.
import { spawnSync } from "node:child_process";
import { canBind } from "./ports.ts";

type StartWorker = typeof import("wrangler").unstable_startWorker;
export type DevWorker = Awaited<ReturnType<StartWorker>>;
export type DevWorkerOptions = Parameters<StartWorker>[0];

/** How long a start may take before it is called failed (a few seconds when the machine is calm). */
export const READY_MS = 120_000;
/** wrangler's dispose can hang after a failed start; it is given this long. */
const DISPOSE_MS = 5_000;

/** The port was taken: the caller may pick another (or wait for this one) and start again. */
export class PortInUseError extends Error {}

export type StartedDevWorker = {
  worker: DevWorker;
  url: URL;
  /** The workerd processes this start made (children of this process): a crash test kills them. */
  workerds: number[];
};

/** Starts the Worker and waits until it answers, or throws (PortInUseError when its port was taken). */
export async function startDevWorker(options: DevWorkerOptions): Promise<StartedDevWorker> {
  const { unstable_startWorker } = await import("wrangler");
  const before = new Set(workerdPids());
  const workerds = () => workerdPids().filter((pid) => !before.has(pid));
  const worker = await unstable_startWorker(options);
  let onError: (error: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    onError = resolve;
    worker.raw.on("error", onError);
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Error>((resolve) => {
    timer = setTimeout(() => resolve(new Error(`wrangler dev did not become ready within ${READY_MS / 1000} s`)), READY_MS);
  });
  const outcome = await Promise.race([worker.ready.then(() => null), failed, late]);
  clearTimeout(timer);
  worker.raw.off("error", onError);
  if (outcome === null) return { worker, url: await worker.url, workerds: workerds() };

  // wrangler's dispose after a failed start can hang: it is given DISPOSE_MS. miniflare restarts
  // a runtime that died (its crash handler), so the workerd this start made are killed in
  // rounds until none is left.
  await Promise.race([worker.dispose().catch(() => {}), new Promise((resolve) => setTimeout(resolve, DISPOSE_MS))]);
  for (let round = 0; round < 10 && workerds().length > 0; round++) {
    for (const pid of workerds()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const message = outcome instanceof Error ? outcome.message : String(outcome);
  if (/address already in use/i.test(message)) throw new PortInUseError(message);
  throw outcome instanceof Error ? outcome : new Error(message);
}

/** Resolves once `port` can be bound on loopback again, bounded. */
export async function waitForPortFree(port: number, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await canBind(port))) {
    if (Date.now() > deadline) throw new PortInUseError(`127.0.0.1:${port} is still in use after ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The workerd processes (wrangler dev's runtime) that are children of this process. */
export function workerdPids(): number[] {
  const out = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(process.pid)], { encoding: "utf8" }).stdout ?? "";
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, name]) => pid && name === "workerd")
    .map(([pid]) => Number(pid));
}
