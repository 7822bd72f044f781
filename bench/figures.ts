// The figures. Each runs the baseline and lasthop with the identical client and settings,
// back to back, and notes every non-2xx answer, error, missing or repeated arrival in `notes`.
import { DEFAULT_MAX_CONCURRENT_STREAMS } from "../sandbox/apns.ts";
import { generateApnsKey, type ApnsKeyMaterial } from "../sandbox/keys.ts";
import type { Stack } from "../sandbox/stack.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import { APNS_PAYLOAD, APNS_TOPIC, apnsArrivals, apnsStats, clearApnsArrivals, matchArrivals, mintApnsTokens, sendThroughBridge, type ApnsStats } from "./apns.ts";
import { clearReceived, sendThroughLasthop, sendWithWebPush, waitForArrivals, waitForTagged, type Arrivals, type SendLog } from "./e2e.ts";
import { fcmArrivals, fcmRequest, fcmSend, fcmStats, sendFcmDirect } from "./fcm.ts";
import { waitForAppliedEvents } from "./feedback.ts";
import { load, type LoadResult, type LoadSettings, type Target } from "./load.ts";
import { sendWithNodeApn, type NodeApnJob, type NodeApnPhase } from "./node-apn-sender.ts";
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

export type Settings = {
  load: LoadSettings;
  warmup: LoadSettings;
  /** End-to-end runs (web push and FCM): sends per run, and how many in flight. */
  e2e: { pushes: number; concurrency: number };
  poolSize: number;
  /**
   * APNs: measured notifications per round (+ an untimed warm-up), rounds, items per bridge
   * request / node-apn send(), requests in flight, and the size of the MultiProvider probe.
   */
  apns: { notifications: number; warmup: number; rounds: number; batch: number; inFlight: number; probe: number };
};

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

/**
 * One end-to-end run: clear the sandbox's record, send (the clock starts here), wait for the
 * arrivals, and note the answers and every missing, refused-yet-arrived or repeated one.
 */
async function timedEndToEnd(
  name: string,
  sends: number,
  clear: () => Promise<void>,
  send: () => Promise<SendLog>,
  arrive: (log: SendLog, startedAt: number) => Promise<Arrivals>,
  notes: string[],
): Promise<{ log: SendLog; arrivals: Arrivals }> {
  await clear();
  const startedAt = Date.now();
  const log = await send();
  const answeredAfter = (Date.now() - startedAt) / 1000;
  const arrivals = await arrive(log, startedAt);
  const failures = Object.keys(log.failures).length ? ` (first failures: ${JSON.stringify(log.failures)})` : "";
  notes.push(`${name}: answers ${JSON.stringify(log.statuses)}${failures}, the last ${answeredAfter.toFixed(2)} s after the first send; ` +
    `the last push arrived after ${arrivals.seconds.toFixed(2)} s`);
  const refused = new Set(Array.from({ length: sends }, (_, i) => String(i)).filter((tag) => !log.accepted.has(tag)));
  notes.push(deliveries(name, { accepted: log.accepted, refused, unanswered: new Set() }, arrivals, 60));
  return { log, arrivals };
}

/** 2. N web pushes from sender to push service, against the web-push package. */
export async function endToEndPushes(sys: Systems, s: Settings, notes: string[]): Promise<{ figure: Figure; messageIds: string[] }> {
  const { pushes, concurrency } = s.e2e;
  const { sandbox } = sys.stack;
  const run = (name: string, tag: string, send: (tag: string) => Promise<SendLog>) =>
    timedEndToEnd(name, pushes, () => clearReceived(sandbox), () => send(tag), (log, startedAt) => waitForArrivals(sandbox, tag, log.accepted, startedAt, 60_000), notes);
  const baseline = await run("e2e, web-push package", "e2e-web-push", (tag) =>
    sendWithWebPush(sys.subscription, sandbox.caPath, sys.secrets.vapid, tag, pushes, concurrency));
  const lasthop = await run("e2e, lasthop", "e2e-lasthop", (tag) =>
    sendThroughLasthop(sys.stack.workerUrl, sys.secrets.apiKey, (i) => webpushSend(sys.subscription, tag, i), pushes, concurrency));
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

/** 4. N FCM messages from sender to the FCM endpoint, against FCM v1 requests straight from Node. */
export async function endToEndFcm(sys: Systems, s: Settings, notes: string[]): Promise<Figure> {
  const { pushes, concurrency } = s.e2e;
  const { sandbox } = sys.stack;
  const run = (name: string, send: () => Promise<SendLog>) =>
    timedEndToEnd(name, pushes, () => clearReceived(sandbox, "fcm"), send, (log, startedAt) => waitForTagged(() => fcmArrivals(sandbox), log.accepted, startedAt, 60_000), notes);
  const first = await fcmStats(sandbox);
  const baseline = await run("e2e FCM, direct from Node", () => sendFcmDirect(sandbox, sys.stack.keys.fcm.json, pushes, concurrency));
  const before = await fcmStats(sandbox);
  const lasthop = await run("e2e FCM, lasthop", () => sendThroughLasthop(sys.stack.workerUrl, sys.secrets.apiKey, fcmSend, pushes, concurrency));
  const after = await fcmStats(sandbox);
  const tokens = (a: { tokensIssued: number; sends: number }, b: typeof a) => `${b.tokensIssued - a.tokensIssued} OAuth access token(s) issued, ${b.sends - a.sends} FCM sends answered`;
  notes.push(`e2e FCM, sandbox stats: direct from Node ${tokens(first, before)}; lasthop ${tokens(before, after)} for ${pushes} messages (lasthop should mint 1 token for the whole run)`);
  return {
    name: "end-to-end FCM sends/s (send → FCM v1)",
    unit: "msg/s",
    value: lasthop.arrivals.rate,
    baselines: [{ name: "FCM v1 requests from Node (fetch, own RS256 token), straight to FCM", value: baseline.arrivals.rate }],
    settings: `${pushes} sends, ${concurrency} in flight, ${bytes(fcmSend(0))} B API body / ${bytes(fcmRequest(0))} B baseline FCM body`,
  };
}

/** APNs arrivals once no more come for a second (bounded): answers are recorded before they leave, so this is quick. */
async function settledApnsArrivals(sys: Systems): Promise<Awaited<ReturnType<typeof apnsArrivals>>> {
  const deadline = Date.now() + 10_000;
  let seen = await apnsArrivals(sys.stack.sandbox);
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const now = await apnsArrivals(sys.stack.sandbox);
    if (now.length === seen.length || Date.now() > deadline) return now;
    seen = now;
  }
}

/** A second APNs key of the same team, for a sender that must not share the bridge's provider token. */
async function registerApnsKey(sys: Systems): Promise<ApnsKeyMaterial> {
  const key = { ...generateApnsKey(), teamId: sys.stack.keys.apns.teamId };
  const response = await fetch(`${sys.stack.sandbox.httpUrl}/_sandbox/apns/keys`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem }),
  });
  if (response.status !== 201) throw new Error(`sandbox APNs key: ${response.status} ${await response.text()}`);
  return key;
}

/** What the sandbox saw over several runs of one sender, added up, against what the sender was told. */
type Checked = {
  sent: number;
  accepted: number;
  arrivedOnce: number;
  missing: number;
  repeated: number;
  notAcceptedArrived: number;
  unknown: number;
  wrongToken: number;
  arrivals: number;
  statuses: Record<string, number>;
  sessionsOpened: number;
  providerTokens: number;
  tokenChanges: number;
};

const newChecked = (): Checked => ({
  sent: 0, accepted: 0, arrivedOnce: 0, missing: 0, repeated: 0, notAcceptedArrived: 0, unknown: 0, wrongToken: 0, arrivals: 0, statuses: {}, sessionsOpened: 0, providerTokens: 0, tokenChanges: 0,
});

function addUp(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function check(total: Checked, m: ReturnType<typeof matchArrivals>, arrivals: number, sent: number, accepted: number, before: ApnsStats, after: ApnsStats, wrongToken = 0): void {
  total.sent += sent;
  total.accepted += accepted;
  total.arrivedOnce += m.arrivedOnce;
  total.missing += m.missing.length;
  total.repeated += m.repeated.length;
  total.notAcceptedArrived += m.notAcceptedArrived.length;
  total.unknown += m.unknown;
  total.wrongToken += wrongToken;
  total.arrivals += arrivals;
  addUp(total.statuses, m.statuses);
  total.sessionsOpened += after.sessionsOpened - before.sessionsOpened;
  total.providerTokens += after.providerTokensSeen - before.providerTokensSeen;
  total.tokenChanges += after.tokenChanges - before.tokenChanges;
}

const describeChecked = (c: Checked, by: string) =>
  `${c.arrivals} arrivals ${JSON.stringify(c.statuses)}; of ${c.sent} attempted, ${c.accepted} accepted; those that arrived exactly once (${by}) ${c.arrivedOnce}, ` +
  `never ${c.missing}, more than once ${c.repeated}; not accepted yet arrived ${c.notAcceptedArrived}; arrivals matching nothing sent ${c.unknown}` +
  `${by === "by apns-id" ? `; arrived at another token than the item's ${c.wrongToken}` : ""}; the sandbox saw ${c.sessionsOpened} HTTP/2 session(s) opened, ` +
  `${c.providerTokens} provider token(s), ${c.tokenChanges} token change(s)`;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const rates = (values: number[]) => values.map((v) => v.toFixed(0)).join(", ");

function describeNodeApn(phases: NodeApnPhase[]): string {
  const failures: Record<string, number> = {};
  for (const p of phases) addUp(failures, p.failures);
  const first = phases.find((p) => p.firstFailure !== null)?.firstFailure;
  const thrown = phases.flatMap((p) => p.thrown);
  return `node-apn reported ${phases.reduce((n, p) => n + p.sent.length, 0)} sent, failures ${JSON.stringify(failures)}` +
    `${first ? ` (first as reported: ${JSON.stringify(first).slice(0, 300)})` : ""}${thrown.length ? `; send() threw ${thrown.length}× (first: ${thrown[0]!.slice(0, 200)})` : ""}`;
}

/**
 * 5. APNs notifications per second: the bridge's HTTP/2 pool against @parse/node-apn, same
 * sandbox APNs. Runs of ~1 s are at the mercy of a shared machine, so the two senders take
 * turns for `rounds` rounds (the order swapped every round) and the figure is each one's median.
 */
export async function apnsNotifications(sys: Systems, s: Settings, notes: string[]): Promise<Figure> {
  const { notifications: n, warmup: w, rounds, batch, inFlight, probe } = s.apns;
  const { sandbox, bridgeUrl } = sys.stack;
  // A fresh device token for every notification, minted before any clock starts.
  const bridgeTokens = await mintApnsTokens(sandbox, "bench-bridge", w + rounds * n);
  const nodeApnTokens = await mintApnsTokens(sandbox, "bench-node-apn", rounds * (w + n));
  const probeTokens = await mintApnsTokens(sandbox, "bench-probe", probe);

  // The bridge the stack started; it lives on between rounds, so one untimed warm-up (first session, JIT) serves all.
  const bridge = { check: newChecked(), statuses: {} as Record<string, number>, kinds: {} as Record<string, number>, failures: {} as Record<string, string>, firstNotAccepted: null as unknown, rates: [] as number[] };
  const bridgeRun = async (tokens: string[]) => {
    await clearApnsArrivals(sandbox);
    const before = await apnsStats(sandbox);
    const log = await sendThroughBridge(bridgeUrl, sys.secrets.webhookSecret, tokens, batch, inFlight);
    const arrivals = await settledApnsArrivals(sys);
    const after = await apnsStats(sandbox);
    const m = matchArrivals(arrivals, (r) => r.headers["apns-id"] ?? null, new Set(log.items.keys()), log.accepted);
    const wrongToken = arrivals.filter((r) => log.items.has(r.headers["apns-id"] ?? "") && log.items.get(r.headers["apns-id"]!) !== r.to).length;
    check(bridge.check, m, arrivals.length, log.items.size, log.accepted.size, before, after, wrongToken);
    addUp(bridge.statuses, log.statuses);
    addUp(bridge.kinds, log.kinds);
    bridge.failures = { ...log.failures, ...bridge.failures };
    bridge.firstNotAccepted ??= log.firstNotAccepted;
    return log;
  };

  // node-apn: a child process per round, each with its own key (one key's provider token per
  // sender: see the probe below) and its own untimed warm-up.
  const job = async (mode: NodeApnJob["mode"], clientCount: number, warmupTokens: string[], tokens: string[]): Promise<NodeApnJob> => {
    const key = await registerApnsKey(sys);
    return {
      mode, clientCount, warmupTokens, tokens, batch, inFlight,
      address: "127.0.0.1", port: Number(new URL(sandbox.apnsUrl).port), caPath: sandbox.caPath,
      key: { key: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      connectionRetryLimit: 3, requestTimeoutMs: 5_000, // node-apn's defaults, stated
      topic: APNS_TOPIC, pushType: "alert", priority: 10, payload: APNS_PAYLOAD,
    };
  };
  const node = { check: newChecked(), phases: [] as NodeApnPhase[], rates: [] as number[] };
  const nodeRun = async (warmupTokens: string[], tokens: string[]) => {
    const spec = await job("provider", 1, warmupTokens, tokens);
    await clearApnsArrivals(sandbox);
    const before = await apnsStats(sandbox);
    const result = await sendWithNodeApn(spec, 120_000);
    const arrivals = await settledApnsArrivals(sys);
    const after = await apnsStats(sandbox);
    const sent = new Set([...result.warmup.sent, ...result.main.sent]);
    const m = matchArrivals(arrivals, (r) => r.to, new Set([...warmupTokens, ...tokens]), sent);
    check(node.check, m, arrivals.length, warmupTokens.length + tokens.length, sent.size, before, after);
    node.phases.push(result.warmup, result.main);
    return result;
  };

  await bridgeRun(bridgeTokens.slice(0, w));
  for (let r = 0; r < rounds; r++) {
    const viaBridge = async () => {
      const log = await bridgeRun(bridgeTokens.slice(w + r * n, w + (r + 1) * n));
      bridge.rates.push(log.accepted.size / log.seconds);
    };
    const viaNodeApn = async () => {
      const from = r * (w + n);
      const result = await nodeRun(nodeApnTokens.slice(from, from + w), nodeApnTokens.slice(from + w, from + w + n));
      node.rates.push(result.main.sent.length / result.main.seconds);
    };
    for (const step of r % 2 === 0 ? [viaBridge, viaNodeApn] : [viaNodeApn, viaBridge]) await step();
  }
  const health = (await (await fetch(`${bridgeUrl}/healthz`)).json()) as { apns?: { sessions?: Record<string, number> } };
  notes.push(`APNs, bridge: ${w} warm-up + ${rounds} × ${n} measured notifications; accepted/s per round ${rates(bridge.rates)} (median ${median(bridge.rates).toFixed(0)}); ` +
    `HTTP answers ${JSON.stringify(bridge.statuses)}${Object.keys(bridge.failures).length ? ` (first non-200 bodies: ${JSON.stringify(bridge.failures)})` : ""}; ` +
    `item results ${JSON.stringify(bridge.kinds)}${bridge.firstNotAccepted ? ` (first not accepted: ${JSON.stringify(bridge.firstNotAccepted).slice(0, 300)})` : ""}`);
  notes.push(`APNs, bridge, at the sandbox APNs (all runs, warm-up included): ${describeChecked(bridge.check, "by apns-id")}; the bridge's /healthz sessions afterwards ${JSON.stringify(health.apns?.sessions ?? {})}`);
  notes.push(`APNs, node-apn Provider: ${rounds} child processes, each ${w} warm-up + ${n} measured notifications; sent/s per round ${rates(node.rates)} (median ${median(node.rates).toFixed(0)}); ${describeNodeApn(node.phases)}`);
  notes.push(`APNs, node-apn Provider, at the sandbox APNs (all runs, warm-ups included): ${describeChecked(node.check, "by device token")}`);

  // Why not MultiProvider: a short probe, reported, not a figure.
  await clearApnsArrivals(sandbox);
  const probeBefore = await apnsStats(sandbox);
  const multi = await sendWithNodeApn(await job("multi", 2, [], probeTokens), 60_000);
  const probeArrivals = await settledApnsArrivals(sys);
  const probeAfter = await apnsStats(sandbox);
  const probeCheck = newChecked();
  check(probeCheck, matchArrivals(probeArrivals, (r) => r.to, new Set(probeTokens), new Set(multi.main.sent)), probeArrivals.length, probe, multi.main.sent.length, probeBefore, probeAfter);
  const refusedTokens = Object.keys(multi.main.failures).some((k) => k.includes("TooManyProviderTokenUpdates"));
  notes.push(`APNs, probe (not a figure): node-apn MultiProvider clientCount 2, its own key, ${probe} notifications: ${describeNodeApn([multi.main])}; at the sandbox: ${describeChecked(probeCheck, "by device token")}` +
    `${refusedTokens ? ". Each MultiProvider client signs its own provider token from the one key, and the sandbox, following Apple's rule that a provider token may be replaced at most once per 20 minutes, answers the second client's token 429 TooManyProviderTokenUpdates; so the baseline is node-apn's Provider (one client, one HTTP/2 session)" : ""}`);

  await clearApnsArrivals(sandbox);
  return {
    name: `APNs notifications/s (bridge pool → APNs), median of ${rounds} rounds`,
    unit: "notif/s",
    value: median(bridge.rates),
    baselines: [{ name: "@parse/node-apn 8.1.0 Provider, straight to APNs", value: median(node.rates) }],
    settings: `${rounds} × ${n} notifications per sender (+ untimed warm-up of ${w}), each to a fresh token; ${batch} per signed bridge request / per node-apn send(), ${inFlight} in flight (${batch * inFlight} notifications); ` +
      `bridge APNS_SESSIONS_PER_ORIGIN ${process.env.APNS_SESSIONS_PER_ORIGIN || "2 (default)"}, ${bridge.check.sessionsOpened} opened; ` +
      `node-apn 1 session, connectionRetryLimit 3, requestTimeout 5000 ms; sandbox maxConcurrentStreams ${DEFAULT_MAX_CONCURRENT_STREAMS}; ${bytes(JSON.stringify(APNS_PAYLOAD))} B payload`,
  };
}
