// The three figures. Each runs the baseline and lasthop with the identical client and settings,
// back to back, and notes every non-2xx answer, error, missing or repeated arrival in `notes`.
import type { Stack } from "../sandbox/stack.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import { clearReceived, sendThroughLasthop, sendWithWebPush, waitForArrivals, type Arrivals, type SendLog } from "./e2e.ts";
import { waitForAppliedEvents } from "./feedback.ts";
import { load, type LoadResult, type LoadSettings, type Target } from "./load.ts";
import { signedEventPool, webpushSend } from "./payloads.ts";
import type { Figure } from "./report.ts";
import type { Secrets } from "./secrets.ts";

export type Systems = {
  stack: Stack;
  baselineUrl: string;
  nodeUrl: string;
  secrets: Secrets;
  subscription: PushSubscriptionJson;
};

export type Settings = { load: LoadSettings; warmup: LoadSettings; e2e: { pushes: number; concurrency: number }; poolSize: number };

const ACCOUNT = "bench"; // the account secrets.vars() maps the API key to

/** A short run first, so isolate start-up and first DO creation are not in the figure. */
async function measure(name: string, target: Target, s: Settings, notes: string[]): Promise<{ main: LoadResult; answers: Answers }> {
  const warm = await load(target, s.warmup);
  const answered = Object.values(warm.statusCodes).reduce((a, b) => a + b, 0);
  if (warm.ok < answered || warm.errors > 0) notes.push(describe(`${name} (warm-up)`, warm));
  const main = await load(target, s.load);
  notes.push(describe(name, main));
  const both = (pick: (r: LoadResult) => Set<string>) => new Set([...pick(warm), ...pick(main)]);
  return { main, answers: { accepted: both((r) => r.okTags), refused: both((r) => r.failedTags), unanswered: both((r) => r.unanswered) } };
}

/** Which requests (by tag) were answered 2xx, answered otherwise, or cut off when a run's time was up. */
type Answers = { accepted: Set<string>; refused: Set<string>; unanswered: Set<string> };

function describe(name: string, r: LoadResult): string {
  const failures = Object.entries(r.failures).map(([status, body]) => `${status} → \`${body}\``);
  return `${name}: ${r.ok} × 2xx in ${r.seconds} s; statuses ${JSON.stringify(r.statusCodes)}; socket errors ${r.errors - r.timeouts}, timeouts ${r.timeouts}; latency p50 ${r.p50} ms, p99 ${r.p99} ms${failures.length ? `; first non-2xx bodies: ${failures.join("; ")}` : ""}`;
}

/** What the sender was told against what reached the push service, push by push. */
function deliveries(name: string, answers: Answers, arrivals: Arrivals, boundSeconds: number): string {
  const { accepted, refused, unanswered } = answers;
  const arrived = [...arrivals.tags];
  const missing = [...accepted].filter((tag) => !arrivals.tags.has(tag));
  const list = (tags: string[]) => (tags.length ? ` (n = ${tags.slice(0, 10).join(", ")}${tags.length > 10 ? ", …" : ""})` : "");
  const refusedArrived = arrived.filter((tag) => refused.has(tag));
  const cutOffArrived = arrived.filter((tag) => unanswered.has(tag));
  const unknown = arrived.filter((tag) => !accepted.has(tag) && !refused.has(tag) && !unanswered.has(tag));
  return `${name}: ${accepted.size} answered 2xx, ${arrivals.tags.size} distinct pushes arrived in ${arrivals.deliveries} deliveries` +
    `${arrivals.complete ? "" : ` (the ${boundSeconds} s bound ran out)`}; answered 2xx but never arrived ${missing.length}${list(missing)}; ` +
    `answered non-2xx yet arrived ${refusedArrived.length}/${refused.size}${list(refusedArrived)}; ` +
    `cut off unanswered by the end of a timed run (client side) and arrived ${cutOffArrived.length}/${unanswered.size}; ` +
    `${unknown.length ? `arrived but never sent ${unknown.length}${list(unknown)}; ` : ""}` +
    `repeat deliveries ${arrivals.deliveries - arrivals.tags.size}; push service verdicts ${JSON.stringify(arrivals.outcomes)}`;
}

/** A target whose every request carries its own web push (so each arrival can be matched). */
function sendTarget(url: string, sys: Systems, run: string): Target {
  let n = 0;
  return {
    url: `${url}/v1/messages`,
    headers: { authorization: `Bearer ${sys.secrets.apiKey}`, "content-type": "application/json" },
    next: () => {
      const i = n++;
      return { headers: {}, body: webpushSend(sys.subscription, run, i), tag: String(i) };
    },
  };
}

const bytes = (text: string) => Buffer.byteLength(text);

/** 1. `POST /v1/messages` accepted per second, against baseline (a). */
export async function sendsAccepted(sys: Systems, s: Settings, notes: string[]): Promise<Figure> {
  const baseline = await measure("sends, baseline (a) Worker", sendTarget(sys.baselineUrl, sys, "sends-baseline"), s, notes);
  await clearReceived(sys.stack.sandbox);
  const startedAt = Date.now();
  const lasthop = await measure("sends, lasthop", sendTarget(sys.stack.workerUrl, sys, "sends-lasthop"), s, notes);
  // Every accepted send should reach the push service. Waiting for that also lets the queue
  // drain, so the next figure starts on an idle Worker.
  const { answers } = lasthop;
  const arrivals = await waitForArrivals(sys.stack.sandbox, "sends-lasthop", answers.accepted, startedAt, 90_000);
  notes.push(`${deliveries("sends, lasthop (incl. warm-up)", answers, arrivals, 90)}; the last 2xx-answered push arrived ${arrivals.seconds.toFixed(1)} s after the load began`);
  return {
    name: "sends accepted/s (POST /v1/messages, web push)",
    unit: "req/s",
    value: lasthop.main.rate,
    baselines: [{ name: "(a) minimal Worker: zod + 1 DO call", value: baseline.main.rate }],
    settings: `${s.load.connections} conns, ${s.load.durationSeconds} s (+${s.warmup.durationSeconds} s warm-up), ${bytes(webpushSend(sys.subscription, "sends-lasthop", 0))} B body`,
  };
}

/** 2. N web pushes from sender to push service, against the web-push package. */
export async function endToEndPushes(sys: Systems, s: Settings, notes: string[]): Promise<{ figure: Figure; messageIds: string[] }> {
  const { pushes, concurrency } = s.e2e;
  const { sandbox } = sys.stack;
  const run = async (name: string, tag: string, send: (tag: string) => Promise<SendLog>) => {
    await clearReceived(sandbox);
    const startedAt = Date.now();
    const log = await send(tag);
    const answeredAfter = (Date.now() - startedAt) / 1000;
    const arrivals = await waitForArrivals(sandbox, tag, log.accepted, startedAt, 60_000);
    const failures = Object.keys(log.failures).length ? ` (first failures: ${JSON.stringify(log.failures)})` : "";
    notes.push(`${name}: answers ${JSON.stringify(log.statuses)}${failures}, the last ${answeredAfter.toFixed(2)} s after the first send; ` +
      `the last push arrived after ${arrivals.seconds.toFixed(2)} s`);
    const refused = new Set(Array.from({ length: pushes }, (_, i) => String(i)).filter((tag) => !log.accepted.has(tag)));
    notes.push(deliveries(name, { accepted: log.accepted, refused, unanswered: new Set() }, arrivals, 60));
    return { log, arrivals };
  };
  const baseline = await run("e2e, web-push package", "e2e-web-push", (tag) =>
    sendWithWebPush(sys.subscription, sandbox.caPath, sys.secrets.vapid, tag, pushes, concurrency));
  const lasthop = await run("e2e, lasthop", "e2e-lasthop", (tag) =>
    sendThroughLasthop(sys.stack.workerUrl, sys.secrets.apiKey, sys.subscription, tag, pushes, concurrency));
  const body = webpushSend(sys.subscription, "e2e-lasthop", 0);
  return {
    figure: {
      name: "end-to-end web pushes/s (send → push service)",
      unit: "push/s",
      value: lasthop.arrivals.rate,
      baselines: [{ name: "web-push 3.6.7 from Node, straight to the push service", value: baseline.arrivals.rate }],
      settings: `${pushes} pushes, ${concurrency} in flight, ${bytes(body)} B API body / ${bytes(JSON.parse(body).payload)} B push payload`,
    },
    messageIds: lasthop.log.ids,
  };
}

/** 3. Signed feedback webhooks ingested per second, against baselines (a) and (b). */
export async function webhooksIngested(sys: Systems, s: Settings, sentIds: string[], notes: string[]): Promise<Figure> {
  // Events name real messages (the first few sent in figure 2), so lasthop's consumer applies
  // them as it would in production, and we can read them back from the timelines.
  const messageIds = sentIds.slice(0, 20);
  if (messageIds.length === 0) throw new Error("figure 3 needs messages sent in figure 2, and none was accepted");
  // A fresh pool per target (its own ids, a current timestamp); a fast target may go round it
  // more than once, which is still valid: verification keeps no state.
  const target = (name: string, url: string): Target => {
    const pool = signedEventPool(sys.secrets.webhookSecret, s.poolSize, ACCOUNT, messageIds);
    let i = 0;
    return {
      url: `${url}/v1/webhooks/bridge`,
      next: () => {
        if (i === pool.length) notes.push(`${name}: went past the ${pool.length} pre-signed requests; reusing them (same signatures and event ids)`);
        const request = pool[i++ % pool.length]!;
        return { headers: request.headers, body: request.body, tag: request.eventId };
      },
    };
  };
  const node = await measure("webhooks, baseline (b) Node http", target("webhooks, baseline (b) Node http", sys.nodeUrl), s, notes);
  const baseline = await measure("webhooks, baseline (a) Worker", target("webhooks, baseline (a) Worker", sys.baselineUrl), s, notes);
  const lasthop = await measure("webhooks, lasthop", target("webhooks, lasthop", sys.stack.workerUrl), s, notes);
  const applied = await waitForAppliedEvents(sys.stack.workerUrl, sys.secrets.apiKey, messageIds, lasthop.answers.accepted, 30_000);
  notes.push(`webhooks, lasthop: ${applied.applied}/${applied.expected} events answered 2xx (incl. warm-up) were on their message's timeline ${applied.seconds.toFixed(1)} s after the load ended${applied.applied < applied.expected ? " (the 30 s bound ran out)" : ""}`);
  return {
    name: "webhook events ingested/s (POST /v1/webhooks/bridge, 1 event)",
    unit: "req/s",
    value: lasthop.main.rate,
    baselines: [
      { name: "(a) minimal Worker: verify + Queue send", value: baseline.main.rate },
      { name: "(b) Node http: verify + zod, no queue", value: node.main.rate },
    ],
    settings: `${s.load.connections} conns, ${s.load.durationSeconds} s (+${s.warmup.durationSeconds} s warm-up), ${bytes(signedEventPool(sys.secrets.webhookSecret, 1, ACCOUNT, messageIds)[0]!.body)} B body, ${s.poolSize} signed requests per target`,
  };
}
