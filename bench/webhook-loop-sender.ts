// The outbound webhook figure's baseline: a plain Node loop in a child process of its own (as
// lasthop's sender, workerd, is a process of its own) that POSTs the same deliveries lasthop
// made, signed as lasthop signs them (src/core/webhook-delivery.ts deliveryHeaders, each
// endpoint's own secret, signed per request inside the clock, as EndpointDO signs per attempt),
// to the same receiver, with at most `concurrency` requests in flight per endpoint (lasthop's
// ENDPOINT_CONCURRENCY). fetch() (undici, keep-alive), each answer's body read, as EndpointDO
// reads a prefix of it. An untimed warm-up first (connections, JIT), to a hook no figure counts.
import { deliveryHeaders } from "../src/core/webhook-delivery.ts";
import { runJobInChild, serveOneJob } from "./child-job.ts";
import { forEachConcurrent } from "./net.ts";

export type LoopJob = {
  endpoints: Array<{ url: string; secret: string }>;
  /** The deliveries, each sent once to every endpoint: webhook-id and the body bytes lasthop sent. */
  deliveries: Array<{ id: string; body: string }>;
  concurrency: number;
  warmup: { url: string; count: number };
};

export type LoopResult = {
  /** Date.now() just before the first timed POST. */
  startedAt: number;
  /** Date.now() when the last timed answer was read. */
  endedAt: number;
  statuses: Record<string, number>;
  errors: Record<string, number>;
};

async function post(url: string, secret: string, id: string, body: string, result: Pick<LoopResult, "statuses" | "errors">): Promise<void> {
  try {
    const headers = await deliveryHeaders([secret], id, body, Date.now());
    const answer = await fetch(url, { method: "POST", headers, body, redirect: "manual" });
    await answer.text();
    result.statuses[answer.status] = (result.statuses[answer.status] ?? 0) + 1;
  } catch (error) {
    const key = String(error).slice(0, 200);
    result.errors[key] = (result.errors[key] ?? 0) + 1;
  }
}

async function run(job: LoopJob): Promise<LoopResult> {
  const warm = { statuses: {}, errors: {} };
  const [first] = job.endpoints;
  const sample = job.deliveries[0];
  if (first && sample) {
    await forEachConcurrent(job.warmup.count, job.concurrency, (i) => post(job.warmup.url, first.secret, `warm_${i}`, sample.body, warm));
  }
  const result: LoopResult = { startedAt: Date.now(), endedAt: 0, statuses: {}, errors: {} };
  await Promise.all(
    job.endpoints.map((endpoint) =>
      forEachConcurrent(job.deliveries.length, job.concurrency, (i) => {
        const d = job.deliveries[i]!;
        return post(endpoint.url, endpoint.secret, d.id, d.body, result);
      }),
    ),
  );
  result.endedAt = Date.now();
  return result;
}

/** Runs one job in a child Node process; bounded by `timeoutMs`, after which the child is killed. */
export function sendWithPlainLoop(job: LoopJob, timeoutMs: number): Promise<LoopResult> {
  return runJobInChild<LoopResult>(import.meta.url, job, timeoutMs, "the plain webhook loop");
}

if (import.meta.main) await serveOneJob(run);
