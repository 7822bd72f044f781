// End-to-end web push: pushes leave a sender and the sandbox push service records each one.
// Arrivals are matched to sends by their payload's (run, n), and the sandbox's own arrival
// timestamps end the interval, so the polling period does not blur it. The wait and the
// lasthop sender serve the other channels too (fcm.ts tags its arrivals by `data.i`).
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import webpush from "web-push";
import type { Sandbox } from "../sandbox/main.ts";
import type { Channel, Received } from "../sandbox/store.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import { forEachConcurrent, sleep } from "./net.ts";
import { notification } from "./payloads.ts";

export type Arrivals = {
  /** Distinct expected pushes per second, from `startedAt` until the last of them arrived. */
  rate: number;
  seconds: number;
  /** The distinct `n` that arrived, and how many arrivals there were in all (repeats included). */
  tags: Set<string>;
  deliveries: number;
  /** Arrivals by the sandbox's verdict, e.g. {accepted: 300}. */
  outcomes: Record<string, number>;
  complete: boolean;
};

/** Answers by status, the first body of each failing status, and which `n` were accepted (with lasthop's ids). */
export type SendLog = { statuses: Record<string, number>; failures: Record<string, string>; accepted: Set<string>; ids: string[] };

export async function clearReceived(sandbox: Sandbox, channel: Channel = "webpush"): Promise<void> {
  await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=${channel}`, { method: "DELETE" });
}

/** One arrival at a sandbox provider: which send it was (`tag`), when (ms since the epoch), and the provider's verdict. */
export type Arrival = { tag: string; at: number; outcome: string };

/** The web pushes of `run` that reached the sandbox push service so far. */
export async function webpushArrivals(sandbox: Sandbox, run: string): Promise<Arrival[]> {
  const entries = (await (await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=webpush`)).json()) as Received[];
  return entries.flatMap((e) => {
    const payload = JSON.parse(e.payload ?? "{}") as { run?: string; n?: number };
    return payload.run === run ? [{ tag: String(payload.n), at: Date.parse(e.at), outcome: e.outcome }] : [];
  });
}

/**
 * Waits until every push in `expected` (by `n`) of `run` has arrived and nothing more has come
 * for `settleMs` (so late repeats are seen too), or until `timeoutMs` has passed.
 */
export function waitForArrivals(
  sandbox: Sandbox,
  run: string,
  expected: Set<string>,
  startedAt: number,
  timeoutMs: number,
  settleMs = 2_000,
): Promise<Arrivals> {
  return waitForTagged(() => webpushArrivals(sandbox, run), expected, startedAt, timeoutMs, settleMs);
}

/** The same wait over any channel: `read` lists the arrivals of the run so far. */
export async function waitForTagged(
  read: () => Promise<Arrival[]>,
  expected: Set<string>,
  startedAt: number,
  timeoutMs: number,
  settleMs = 2_000,
): Promise<Arrivals> {
  const deadline = Date.now() + timeoutMs;
  const allIn = (arrivals: Array<{ tag: string }>) => {
    const tags = new Set(arrivals.map((a) => a.tag));
    return [...expected].every((tag) => tags.has(tag));
  };
  let seen = await read();
  let quietSince = Date.now();
  while (Date.now() < deadline && !(allIn(seen) && Date.now() - quietSince >= settleMs)) {
    await sleep(100);
    const now = await read();
    if (now.length !== seen.length) quietSince = Date.now();
    seen = now;
  }
  // The interval ends when the last expected push arrived (or at the deadline, if some never did).
  const complete = allIn(seen);
  const arrivedExpected = seen.filter((a) => expected.has(a.tag));
  const end = complete ? Math.max(startedAt, ...arrivedExpected.map((a) => a.at)) : Date.now();
  const outcomes: Record<string, number> = {};
  for (const a of seen) outcomes[a.outcome] = (outcomes[a.outcome] ?? 0) + 1;
  const seconds = (end - startedAt) / 1000;
  const tags = new Set(seen.map((a) => a.tag));
  return { rate: new Set(arrivedExpected.map((a) => a.tag)).size / seconds, seconds, tags, deliveries: seen.length, outcomes, complete };
}

/** N sends through the lasthop API (`POST /v1/messages`), `concurrency` in flight; `body(i)` is the i-th request's body. */
export async function sendThroughLasthop(
  workerUrl: string,
  apiKey: string,
  body: (i: number) => string,
  n: number,
  concurrency: number,
  path = "/v1/messages",
): Promise<SendLog> {
  const log: SendLog = { statuses: {}, failures: {}, accepted: new Set(), ids: [] };
  await forEachConcurrent(n, concurrency, async (i) => {
    let response: Response;
    try {
      response = await fetch(`${workerUrl}${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
        body: body(i),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      return note(log, "error", String(error));
    }
    if (response.ok) {
      note(log, String(response.status));
      log.accepted.add(String(i));
      log.ids.push(((await response.json()) as { id: string }).id);
    } else note(log, String(response.status), await response.text());
  });
  return log;
}

/** The same N pushes sent straight to the push service by the independent web-push package. */
export async function sendWithWebPush(
  to: PushSubscriptionJson,
  caPath: string,
  vapid: { subject: string; publicKey: string; privateKey: string },
  run: string,
  n: number,
  concurrency: number,
): Promise<SendLog> {
  const log: SendLog = { statuses: {}, failures: {}, accepted: new Set(), ids: [] };
  // Keep-alive with at most `concurrency` sockets: how a Node sender would pool its connections.
  const agent = new Agent({ ca: readFileSync(caPath), keepAlive: true, maxSockets: concurrency });
  try {
    await forEachConcurrent(n, concurrency, async (i) => {
      await webpush
        .sendNotification(to, notification(run, i), {
          vapidDetails: vapid,
          TTL: 3600,
          urgency: "normal",
          contentEncoding: "aes128gcm",
          agent,
          timeout: 30_000,
        })
        .then(
          (r) => {
            note(log, String(r.statusCode));
            log.accepted.add(String(i));
          },
          (error: { statusCode?: number; body?: string; message?: string }) =>
            note(log, error.statusCode ? String(error.statusCode) : "error", error.body ?? error.message ?? ""),
        );
    });
  } finally {
    agent.destroy();
  }
  return log;
}

/** Counts an answer; keeps the first body of each failing status as it was. */
export function note(log: SendLog, status: string, failure?: string): void {
  log.statuses[status] = (log.statuses[status] ?? 0) + 1;
  if (failure !== undefined) log.failures[status] ??= failure.slice(0, 300);
}
