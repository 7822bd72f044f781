// The figures. Each runs the baseline and lasthop with the identical client and settings,
// back to back, and notes every non-2xx answer, error, missing or repeated arrival in `notes`.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_MAX_CONCURRENT_STREAMS } from "../sandbox/apns.ts";
import { generateApnsKey, type ApnsKeyMaterial } from "../sandbox/keys.ts";
import { DEV_ADMIN_KEY, type Stack } from "../sandbox/stack.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import {
  APNS_PAYLOAD,
  APNS_TOPIC,
  apnsArrivals,
  apnsStats,
  clearApnsArrivals,
  matchArrivals,
  mintApnsTokens,
  sendThroughBridge,
  type ApnsStats,
} from "./apns.ts";
import { clearReceived, sendThroughLasthop, sendWithWebPush, waitForArrivals, waitForTagged, type Arrivals, type SendLog } from "./e2e.ts";
import { fcmArrivals, fcmRequest, fcmSend, fcmStats, sendFcmDirect } from "./fcm.ts";
import { waitForAppliedEvents } from "./feedback.ts";
import { load, type LoadResult, type LoadSettings, type Target } from "./load.ts";
import { sendWithNodeApn, type NodeApnJob, type NodeApnPhase } from "./node-apn-sender.ts";
import { signedEventPool, webpushSend } from "./payloads.ts";
import { EDGE_EVENTS_PATH, type DkimKey } from "../src/core/bridge.ts";
import { doorSecret } from "../src/core/standard-webhooks.ts";
import type { Figure } from "./report.ts";
import type { Secrets } from "./secrets.ts";
import {
  BENCH_FROM,
  benchRecipient,
  dkimHeaderBytes,
  emailSend,
  lasthopComposed,
  plainText,
  runSmtpSource,
  sendSmtpThroughBridge,
  sendWithNodemailer,
  smtpMessage,
  verp,
  waitForAcceptedEmails,
  type SmtpRelay,
  type SmtpSink,
  type SmtpSourceRun,
} from "./smtp.ts";

export type Systems = {
  stack: Stack;
  baselineUrl: string;
  nodeUrl: string;
  secrets: Secrets;
  subscription: PushSubscriptionJson;
  /** Postfix's smtp-sink: the receiving MTA of figures 6 and 7 (the stack's email relay points at it). */
  sink: SmtpSink;
  /** lasthop's Worker at an older revision (BENCH_BEFORE), same bindings: baseline (c) of the sends figure. */
  before?: { url: string; commit: string };
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
  /**
   * SMTP relay: measured messages per sender per round (+ an untimed bridge warm-up), rounds,
   * the message size in bytes (before DKIM), items per signed bridge request and requests in flight.
   */
  smtp: { messages: number; warmup: number; rounds: number; size: number; batch: number; inFlight: number };
  /** End-to-end email: sends per run, how many in flight, and the text body's size in bytes. */
  email: { messages: number; concurrency: number; textBytes: number };
  /**
   * SMPP submit_sm/s: measured messages per sender per round (+ an untimed warm-up), rounds, the
   * window (the stack route's, and the bare client's), items per signed bridge request and requests in flight.
   */
  /** `binds`: the bridge route's binds to the SMSC (each with its own window), BENCH_SMPP_BINDS. */
  smpp: { messages: number; warmup: number; rounds: number; window: number; batch: number; inFlight: number; binds: number };
  /** SMPP TPS accuracy: the caps tried (one route each), seconds of load at the cap, the route's window, items per request. */
  smppTps: { caps: number[]; seconds: number; window: number; batch: number };
  /**
   * Outbound webhooks (bench/webhooks.ts): events per run, the fan-outs measured (endpoints per
   * account), rounds, requests in flight per endpoint (lasthop's ENDPOINT_CONCURRENCY, and the
   * plain loop's), suppression PUTs in flight while emitting, the plain loop's untimed warm-up
   * POSTs, and the bound of one run in seconds.
   */
  webhooksOut: {
    events: number;
    fanouts: number[];
    rounds: number;
    concurrency: number;
    emitConcurrency: number;
    baselineWarmup: number;
    boundSeconds: number;
  };
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
  return (
    `${name}: ${accepted.size} answered 2xx, ${arrivals.tags.size} distinct pushes arrived in ${arrivals.deliveries} deliveries` +
    `${arrivals.complete ? "" : ` (the ${boundSeconds} s bound ran out)`}; answered 2xx but never arrived ${missing.length}${list(missing)}; ` +
    `answered non-2xx yet arrived ${refusedArrived.length}/${refused.size}${list(refusedArrived)}; ` +
    `cut off unanswered by the end of a timed run (client side) and arrived ${cutOffArrived.length}/${unanswered.size}; ` +
    `${unknown.length ? `arrived but never sent ${unknown.length}${list(unknown)}; ` : ""}` +
    `repeat deliveries ${arrivals.deliveries - arrivals.tags.size}; push service verdicts ${JSON.stringify(arrivals.outcomes)}`
  );
}

/** A target whose every request carries its own web push (so each arrival can be matched). */
function sendTarget(url: string, sys: Systems, run: string, apiKey = sys.secrets.apiKey): Target {
  let n = 0;
  return {
    url: `${url}/v1/messages`,
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    next: () => {
      const i = n++;
      return { headers: {}, body: webpushSend(sys.subscription, run, i), tag: String(i) };
    },
  };
}

const bytes = (text: string) => Buffer.byteLength(text);

/** 1. `POST /v1/messages` accepted per second, against baseline (a). */
/**
 * An account made the way a customer is onboarded: by the platform admin, with a key of its
 * own (a rate far above the load, so the figure is throughput, not the limit) and its own
 * VAPID keys, so every send reads its grant and configuration from the store.
 */
async function onboardedKey(workerUrl: string): Promise<string> {
  const call = async (key: string, path: string, body: unknown) => {
    const res = await fetch(`${workerUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as { apiKey?: { key: string }; key?: string };
  };
  const account = await call(DEV_ADMIN_KEY, "/v1/admin/accounts", { name: "bench onboarded" });
  const first = account.apiKey!.key;
  const key = (await call(first, "/v1/api-keys", { name: "bench", scopes: ["send", "read"], ratePerSecond: 100_000 })).key!;
  await call(first, "/v1/push/webpush/keys", { subject: "mailto:bench@lasthop.dev" });
  return key;
}

/** Rounds of the sends figure: each target measured once per round, the order rotated, the figure each one's median. */
const SEND_ROUNDS = 3;

export async function sendsAccepted(sys: Systems, s: Settings, notes: string[]): Promise<Figure> {
  const apiKey = await onboardedKey(sys.stack.workerUrl);
  type Side = { name: string; url: string; run: string; key?: string; arrivals: boolean; rates: number[] };
  const sides: Side[] = [
    { name: "sends, baseline (a) Worker", url: sys.baselineUrl, run: "sends-baseline", arrivals: false, rates: [] },
    ...(sys.before
      ? [{ name: `sends, lasthop at ${sys.before.commit}`, url: sys.before.url, run: "sends-before", arrivals: true, rates: [] }]
      : []),
    { name: "sends, lasthop", url: sys.stack.workerUrl, run: "sends-lasthop", key: apiKey, arrivals: true, rates: [] },
  ];
  for (let round = 0; round < SEND_ROUNDS; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]!);
    for (const side of order) {
      await clearReceived(sys.stack.sandbox);
      const run = `${side.run}-${round}`;
      const startedAt = Date.now();
      const measured = await measure(`${side.name} (round ${round + 1})`, sendTarget(side.url, sys, run, side.key), s, notes);
      side.rates.push(measured.main.rate);
      if (!side.arrivals) continue;
      // Every accepted send should reach the push service. Waiting for that also lets the
      // queue drain, so the next measurement starts on an idle Worker.
      const arrivals = await waitForArrivals(sys.stack.sandbox, run, measured.answers.accepted, startedAt, 90_000);
      notes.push(
        `${deliveries(`${side.name} (round ${round + 1}, incl. warm-up)`, measured.answers, arrivals, 90)}; the last 2xx-answered push arrived ${arrivals.seconds.toFixed(1)} s after the load began`,
      );
    }
  }
  for (const side of sides) notes.push(`${side.name}: req/s per round ${side.rates.map((r) => r.toFixed(1)).join(", ")}`);
  const [baseline, ...rest] = sides;
  const lasthop = rest.at(-1)!;
  const before = sys.before ? rest[0]! : null;
  return {
    name: `sends accepted/s (POST /v1/messages, web push; account, key and VAPID keys from the store), median of ${SEND_ROUNDS} rounds`,
    unit: "req/s",
    value: median(lasthop.rates),
    baselines: [
      { name: "(a) minimal Worker: zod + 1 DO call", value: median(baseline!.rates) },
      ...(before && sys.before
        ? [{ name: `(c) lasthop at ${sys.before.commit} (BENCH_BEFORE; its env-JSON key)`, value: median(before.rates) }]
        : []),
    ],
    settings: `${s.load.connections} conns, ${s.load.durationSeconds} s (+${s.warmup.durationSeconds} s warm-up) per round, ${bytes(webpushSend(sys.subscription, "sends-lasthop", 0))} B body`,
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
  notes.push(
    `${name}: answers ${JSON.stringify(log.statuses)}${failures}, the last ${answeredAfter.toFixed(2)} s after the first send; ` +
      `the last push arrived after ${arrivals.seconds.toFixed(2)} s`,
  );
  const refused = new Set(Array.from({ length: sends }, (_, i) => String(i)).filter((tag) => !log.accepted.has(tag)));
  notes.push(deliveries(name, { accepted: log.accepted, refused, unanswered: new Set() }, arrivals, 60));
  return { log, arrivals };
}

/** 2. N web pushes from sender to push service, against the web-push package. */
export async function endToEndPushes(sys: Systems, s: Settings, notes: string[]): Promise<{ figure: Figure; messageIds: string[] }> {
  const { pushes, concurrency } = s.e2e;
  const { sandbox } = sys.stack;
  const run = (name: string, tag: string, send: (tag: string) => Promise<SendLog>) =>
    timedEndToEnd(
      name,
      pushes,
      () => clearReceived(sandbox),
      () => send(tag),
      (log, startedAt) => waitForArrivals(sandbox, tag, log.accepted, startedAt, 60_000),
      notes,
    );
  const baseline = await run("e2e, web-push package", "e2e-web-push", (tag) =>
    sendWithWebPush(sys.subscription, sandbox.caPath, sys.secrets.vapid, tag, pushes, concurrency),
  );
  // The bound: a minimal Worker on the same runtime making the same hop (validate → Queue → consumer → push).
  const bound = await run("e2e, minimal Worker hop", "e2e-minimal", (tag) =>
    sendThroughLasthop(
      sys.baselineUrl.replace(/\/$/, ""),
      "-",
      (i) => webpushSend(sys.subscription, tag, i),
      pushes,
      concurrency,
      "/webpush",
    ),
  );
  const lasthop = await run("e2e, lasthop", "e2e-lasthop", (tag) =>
    sendThroughLasthop(sys.stack.workerUrl, sys.secrets.apiKey, (i) => webpushSend(sys.subscription, tag, i), pushes, concurrency),
  );
  const body = webpushSend(sys.subscription, "e2e-lasthop", 0);
  return {
    figure: {
      name: "end-to-end web pushes/s (send → push service)",
      unit: "push/s",
      value: lasthop.arrivals.rate,
      baselines: [
        { name: "web-push 3.6.7 from Node, straight to the push service", value: baseline.arrivals.rate },
        {
          name: "the bound: a minimal Worker on the same runtime making the same hop (zod → Queue, batches of ≤ 100 within 1 s → lasthop's web push sender)",
          value: bound.arrivals.rate,
        },
      ],
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
  // Signed with the door's key, as any sender of events must; every target derives it from the platform secret.
  const key = await doorSecret(sys.secrets.webhookSecret, EDGE_EVENTS_PATH);
  // A fresh pool per target (its own ids, a current timestamp); a fast target may go round it
  // more than once, which is still valid: verification keeps no state.
  const target = (name: string, url: string): Target => {
    const pool = signedEventPool(key, s.poolSize, ACCOUNT, messageIds);
    let i = 0;
    return {
      url: `${url}${EDGE_EVENTS_PATH}`,
      next: () => {
        if (i === pool.length)
          notes.push(`${name}: went past the ${pool.length} pre-signed requests; reusing them (same signatures and event ids)`);
        const request = pool[i++ % pool.length]!;
        return { headers: request.headers, body: request.body, tag: request.eventId };
      },
    };
  };
  const node = await measure("webhooks, baseline (b) Node http", target("webhooks, baseline (b) Node http", sys.nodeUrl), s, notes);
  const baseline = await measure("webhooks, baseline (a) Worker", target("webhooks, baseline (a) Worker", sys.baselineUrl), s, notes);
  const lasthop = await measure("webhooks, lasthop", target("webhooks, lasthop", sys.stack.workerUrl), s, notes);
  const applied = await waitForAppliedEvents(sys.stack.workerUrl, sys.secrets.apiKey, messageIds, lasthop.answers.accepted, 30_000);
  notes.push(
    `webhooks, lasthop: ${applied.applied}/${applied.expected} events answered 2xx (incl. warm-up) were on their message's timeline ${applied.seconds.toFixed(1)} s after the load ended${applied.applied < applied.expected ? " (the 30 s bound ran out)" : ""}`,
  );
  return {
    name: "webhook events ingested/s (POST /v1/webhooks/bridge, 1 event)",
    unit: "req/s",
    value: lasthop.main.rate,
    baselines: [
      { name: "(a) minimal Worker: verify + Queue send", value: baseline.main.rate },
      { name: "(b) Node http: verify + zod, no queue", value: node.main.rate },
    ],
    settings: `${s.load.connections} conns, ${s.load.durationSeconds} s (+${s.warmup.durationSeconds} s warm-up), ${bytes(signedEventPool(key, 1, ACCOUNT, messageIds)[0]!.body)} B body, ${s.poolSize} signed requests per target`,
  };
}

/** 4. N FCM messages from sender to the FCM endpoint, against FCM v1 requests straight from Node. */
export async function endToEndFcm(sys: Systems, s: Settings, notes: string[]): Promise<Figure> {
  const { pushes, concurrency } = s.e2e;
  const { sandbox } = sys.stack;
  const run = (name: string, send: () => Promise<SendLog>) =>
    timedEndToEnd(
      name,
      pushes,
      () => clearReceived(sandbox, "fcm"),
      send,
      (log, startedAt) => waitForTagged(() => fcmArrivals(sandbox), log.accepted, startedAt, 60_000),
      notes,
    );
  const first = await fcmStats(sandbox);
  const baseline = await run("e2e FCM, direct from Node", () => sendFcmDirect(sandbox, sys.stack.keys.fcm.json, pushes, concurrency));
  const before = await fcmStats(sandbox);
  const lasthop = await run("e2e FCM, lasthop", () =>
    sendThroughLasthop(sys.stack.workerUrl, sys.secrets.apiKey, fcmSend, pushes, concurrency),
  );
  const after = await fcmStats(sandbox);
  const tokens = (a: { tokensIssued: number; sends: number }, b: typeof a) =>
    `${b.tokensIssued - a.tokensIssued} OAuth access token(s) issued, ${b.sends - a.sends} FCM sends answered`;
  notes.push(
    `e2e FCM, sandbox stats: direct from Node ${tokens(first, before)}; lasthop ${tokens(before, after)} for ${pushes} messages (lasthop should mint 1 token for the whole run)`,
  );
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
  sent: 0,
  accepted: 0,
  arrivedOnce: 0,
  missing: 0,
  repeated: 0,
  notAcceptedArrived: 0,
  unknown: 0,
  wrongToken: 0,
  arrivals: 0,
  statuses: {},
  sessionsOpened: 0,
  providerTokens: 0,
  tokenChanges: 0,
});

function addUp(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

function check(
  total: Checked,
  m: ReturnType<typeof matchArrivals>,
  arrivals: number,
  sent: number,
  accepted: number,
  before: ApnsStats,
  after: ApnsStats,
  wrongToken = 0,
): void {
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
  return (
    `node-apn reported ${phases.reduce((n, p) => n + p.sent.length, 0)} sent, failures ${JSON.stringify(failures)}` +
    `${first ? ` (first as reported: ${JSON.stringify(first).slice(0, 300)})` : ""}${thrown.length ? `; send() threw ${thrown.length}× (first: ${thrown[0]!.slice(0, 200)})` : ""}`
  );
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
  const bridge = {
    check: newChecked(),
    statuses: {} as Record<string, number>,
    kinds: {} as Record<string, number>,
    failures: {} as Record<string, string>,
    firstNotAccepted: null as unknown,
    rates: [] as number[],
  };
  const bridgeRun = async (tokens: string[]) => {
    await clearApnsArrivals(sandbox);
    const before = await apnsStats(sandbox);
    const log = await sendThroughBridge(bridgeUrl, sys.secrets.webhookSecret, tokens, batch, inFlight);
    const arrivals = await settledApnsArrivals(sys);
    const after = await apnsStats(sandbox);
    const m = matchArrivals(arrivals, (r) => r.headers["apns-id"] ?? null, new Set(log.items.keys()), log.accepted);
    const wrongToken = arrivals.filter(
      (r) => log.items.has(r.headers["apns-id"] ?? "") && log.items.get(r.headers["apns-id"]!) !== r.to,
    ).length;
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
      mode,
      clientCount,
      warmupTokens,
      tokens,
      batch,
      inFlight,
      address: "127.0.0.1",
      port: Number(new URL(sandbox.apnsUrl).port),
      caPath: sandbox.caPath,
      key: { key: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId },
      connectionRetryLimit: 3,
      requestTimeoutMs: 5_000, // node-apn's defaults, stated
      topic: APNS_TOPIC,
      pushType: "alert",
      priority: 10,
      payload: APNS_PAYLOAD,
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
  notes.push(
    `APNs, bridge: ${w} warm-up + ${rounds} × ${n} measured notifications; accepted/s per round ${rates(bridge.rates)} (median ${median(bridge.rates).toFixed(0)}); ` +
      `HTTP answers ${JSON.stringify(bridge.statuses)}${Object.keys(bridge.failures).length ? ` (first non-200 bodies: ${JSON.stringify(bridge.failures)})` : ""}; ` +
      `item results ${JSON.stringify(bridge.kinds)}${bridge.firstNotAccepted ? ` (first not accepted: ${JSON.stringify(bridge.firstNotAccepted).slice(0, 300)})` : ""}`,
  );
  notes.push(
    `APNs, bridge, at the sandbox APNs (all runs, warm-up included): ${describeChecked(bridge.check, "by apns-id")}; the bridge's /healthz sessions afterwards ${JSON.stringify(health.apns?.sessions ?? {})}`,
  );
  notes.push(
    `APNs, node-apn Provider: ${rounds} child processes, each ${w} warm-up + ${n} measured notifications; sent/s per round ${rates(node.rates)} (median ${median(node.rates).toFixed(0)}); ${describeNodeApn(node.phases)}`,
  );
  notes.push(
    `APNs, node-apn Provider, at the sandbox APNs (all runs, warm-ups included): ${describeChecked(node.check, "by device token")}`,
  );

  // Why not MultiProvider: a short probe, reported, not a figure.
  await clearApnsArrivals(sandbox);
  const probeBefore = await apnsStats(sandbox);
  const multi = await sendWithNodeApn(await job("multi", 2, [], probeTokens), 60_000);
  const probeArrivals = await settledApnsArrivals(sys);
  const probeAfter = await apnsStats(sandbox);
  const probeCheck = newChecked();
  check(
    probeCheck,
    matchArrivals(probeArrivals, (r) => r.to, new Set(probeTokens), new Set(multi.main.sent)),
    probeArrivals.length,
    probe,
    multi.main.sent.length,
    probeBefore,
    probeAfter,
  );
  const refusedTokens = Object.keys(multi.main.failures).some((k) => k.includes("TooManyProviderTokenUpdates"));
  notes.push(
    `APNs, probe (not a figure): node-apn MultiProvider clientCount 2, its own key, ${probe} notifications: ${describeNodeApn([multi.main])}; at the sandbox: ${describeChecked(probeCheck, "by device token")}` +
      `${refusedTokens ? ". Each MultiProvider client signs its own provider token from the one key, and the sandbox, following Apple's rule that a provider token may be replaced at most once per 20 minutes, answers the second client's token 429 TooManyProviderTokenUpdates; so the baseline is node-apn's Provider (one client, one HTTP/2 session)" : ""}`,
  );

  await clearApnsArrivals(sandbox);
  return {
    name: `APNs notifications/s (bridge pool → APNs), median of ${rounds} rounds`,
    unit: "notif/s",
    value: median(bridge.rates),
    baselines: [{ name: "@parse/node-apn 8.1.0 Provider, straight to APNs", value: median(node.rates) }],
    settings:
      `${rounds} × ${n} notifications per sender (+ untimed warm-up of ${w}), each to a fresh token; ${batch} per signed bridge request / per node-apn send(), ${inFlight} in flight (${batch * inFlight} notifications); ` +
      `bridge APNS_SESSIONS_PER_ORIGIN ${process.env.APNS_SESSIONS_PER_ORIGIN || "2 (default)"}, ${bridge.check.sessionsOpened} opened; ` +
      `node-apn 1 session, connectionRetryLimit 3, requestTimeout 5000 ms; sandbox maxConcurrentStreams ${DEFAULT_MAX_CONCURRENT_STREAMS}; ${bytes(JSON.stringify(APNS_PAYLOAD))} B payload`,
  };
}

/** The bridge's concurrent deliveries per destination (its default 5 unless the environment sets it): the baselines' sessions. */
const smtpSessions = () => Number(process.env.SMTP_MAX_PER_DOMAIN || 5);

type SmtpSender = { name: string; rates: number[]; sent: number; counted: number; expected: number; runs: string[] };

/**
 * 6. SMTP messages per second: the bridge (signed batches, DKIM on and off, its pooled
 * connections) against Postfix's smtp-source, both into the same smtp-sink with the same
 * message, the same number of concurrent sessions and the same count. The four senders take
 * turns for `rounds` rounds (the order rotated each round); each figure is a median.
 */
export async function smtpMessages(sys: Systems, s: Settings, notes: string[]): Promise<Figure[]> {
  const { messages: n, warmup: w, rounds, size, batch, inFlight } = s.smtp;
  const { sink, stack } = sys;
  const sessions = smtpSessions();
  const relay: SmtpRelay = { mode: "smarthost", host: sink.host, port: sink.port, secure: false, requireTLS: false };
  const dkim = {
    domain: stack.keys.dkim.domain,
    selector: stack.keys.dkim.selector,
    privateKey: stack.keys.dkim.privateKeyPem,
    algorithm: "rsa-sha256" as const,
  };
  // An Ed25519 key of the same domain (RFC 8463), made here: the sink verifies nothing.
  const ed25519 = {
    domain: dkim.domain,
    selector: `${dkim.selector}e`,
    privateKey: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }) as string,
    algorithm: "ed25519-sha256" as const,
  };
  const sample = smtpMessage(0, "00000000-0000-4000-8000-000000000000", size);
  const dkimBytes = await dkimHeaderBytes(sample, dkim);
  const dualBytes = await dkimHeaderBytes(sample, [dkim, ed25519]);
  const edBytes = await dkimHeaderBytes(sample, ed25519);
  // smtp-source reads LF lines and sends each with CRLF: the same bytes as the bridge's raw.
  const dir = mkdtempSync(join(tmpdir(), "lasthop-smtp-source-"));
  const file = join(dir, "message.txt");
  writeFileSync(file, sample.replace(/\r\n/g, "\n"));
  const account = "bench-smtp";
  const viaBridge = (
    name: string,
  ): SmtpSender & {
    statuses: Record<string, number>;
    kinds: Record<string, number>;
    failures: Record<string, string>;
    firstNotAccepted: unknown;
  } => ({ name, rates: [], sent: 0, counted: 0, expected: 0, runs: [], statuses: {}, kinds: {}, failures: {}, firstNotAccepted: null });
  const on = viaBridge("bridge, DKIM on");
  const dual = viaBridge("bridge, DKIM RSA + Ed25519");
  const edOnly = viaBridge("bridge, DKIM Ed25519");
  const off = viaBridge("bridge, DKIM off");
  const keysOf = new Map<typeof on, DkimKey | DkimKey[]>([
    [on, dkim],
    [dual, [dkim, ed25519]],
    [edOnly, ed25519],
  ]);
  const reuse: SmtpSender & { failed: SmtpSourceRun[] } = {
    name: `smtp-source -s ${sessions} -d`,
    rates: [],
    sent: 0,
    counted: 0,
    expected: 0,
    runs: [],
    failed: [],
  };
  const fresh: SmtpSender & { failed: SmtpSourceRun[] } = {
    name: `smtp-source -s ${sessions}`,
    rates: [],
    sent: 0,
    counted: 0,
    expected: 0,
    runs: [],
    failed: [],
  };

  /** Runs one sender and checks it against the sink's own count. */
  const counted = async (sender: SmtpSender, run: () => Promise<{ sent: number; expected: number; seconds: number }>, timed: boolean) => {
    const before = sink.messages();
    const r = await run();
    const delta = (await sink.settled(300, 10_000)) - before;
    sender.sent += r.sent;
    sender.expected += r.expected;
    sender.counted += delta;
    if (delta !== r.expected)
      sender.runs.push(`${timed ? "a measured run" : "the warm-up"}: the sink counted ${delta} where ${r.expected} were expected`);
    return { ...r, delta };
  };
  const bridgeRun = async (sender: typeof on, messages: number, timed: boolean) => {
    const r = await counted(
      sender,
      async () => {
        const log = await sendSmtpThroughBridge(stack.bridgeUrl, sys.secrets.webhookSecret, {
          messages,
          size,
          batch,
          inFlight,
          account,
          relay,
          ...(keysOf.has(sender) ? { dkim: keysOf.get(sender)! } : {}),
        });
        addUp(sender.statuses, log.statuses);
        addUp(sender.kinds, log.kinds);
        sender.failures = { ...log.failures, ...sender.failures };
        sender.firstNotAccepted ??= log.firstNotAccepted;
        return { sent: log.items.size, expected: log.accepted.size, seconds: log.seconds };
      },
      timed,
    );
    if (timed) sender.rates.push(r.expected / r.seconds);
  };
  const sourceRun = async (sender: typeof reuse, reuseConnections: boolean) => {
    let run: SmtpSourceRun | null = null;
    const r = await counted(
      sender,
      async () => {
        run = await runSmtpSource({
          port: sink.port,
          sessions,
          messages: n,
          file,
          from: verp("00000000-0000-4000-8000-000000000000"),
          to: benchRecipient(0),
          reuse: reuseConnections,
          timeoutMs: 60_000,
        });
        if (run.code !== 0) sender.failed.push(run);
        return { sent: n, expected: n, seconds: run.seconds };
      },
      true,
    );
    // smtp-source stops at a refusal: only what the sink counted was accepted.
    sender.rates.push(r.delta / r.seconds);
  };

  try {
    // The bridge is long-lived: one untimed warm-up per mode (JIT, mailauth, the pool's connections).
    await bridgeRun(on, w, false);
    await bridgeRun(dual, w, false);
    await bridgeRun(edOnly, w, false);
    await bridgeRun(off, w, false);
    const steps = [
      () => bridgeRun(on, n, true),
      () => bridgeRun(dual, n, true),
      () => bridgeRun(edOnly, n, true),
      () => bridgeRun(off, n, true),
      () => sourceRun(reuse, true),
      () => sourceRun(fresh, false),
    ];
    for (let r = 0; r < rounds; r++) {
      for (const step of [...steps.slice(r % steps.length), ...steps.slice(0, r % steps.length)]) await step();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const health = (await (await fetch(`${stack.bridgeUrl}/healthz`)).json()) as { smtp?: { connections?: Record<string, number> } };
  for (const b of [on, dual, edOnly, off]) {
    notes.push(
      `SMTP, ${b.name}: ${w} warm-up + ${rounds} × ${n} measured messages; accepted/s per round ${rates(b.rates)} (median ${median(b.rates).toFixed(0)}); ` +
        `HTTP answers ${JSON.stringify(b.statuses)}${Object.keys(b.failures).length ? ` (first non-200 bodies: ${JSON.stringify(b.failures)})` : ""}; ` +
        `item results ${JSON.stringify(b.kinds)}${b.firstNotAccepted ? ` (first not accepted: ${JSON.stringify(b.firstNotAccepted).slice(0, 300)})` : ""}; ` +
        `the sink counted ${b.counted} messages for ${b.expected} accepted of ${b.sent} sent${b.runs.length ? ` (${b.runs.join("; ")})` : ""}`,
    );
  }
  for (const src of [reuse, fresh]) {
    const failed = src.failed.map((f) => `exit ${f.code ?? f.signal}: ${f.stderr.slice(0, 200)}`);
    notes.push(
      `SMTP, Postfix ${src.name} -m ${n} -F <message>: messages/s per round ${rates(src.rates)} (median ${median(src.rates).toFixed(0)}); ` +
        `the sink counted ${src.counted} of ${src.sent}${src.runs.length ? ` (${src.runs.join("; ")})` : ""}; ${failed.length ? `failed runs: ${failed.join("; ")}` : "every run exited 0"}`,
    );
  }
  notes.push(
    `SMTP, the bridge's /healthz connections afterwards ${JSON.stringify(health.smtp?.connections ?? {})}; smtp-sink stderr: ${sink.stderr().trim() ? `\`${sink.stderr().trim().slice(0, 300)}\`` : "empty"}`,
  );

  const settings = (signing: string) =>
    `${rounds} × ${n} messages per sender, ${size} B each${signing}; ` +
    `bridge: ${batch} per signed request, ${inFlight} in flight, SMTP_MAX_PER_DOMAIN ${sessions} (≤ ${sessions} connections, ${w}-message untimed warm-up); ` +
    `smtp-source: ${sessions} sessions, the same message (-F), HELO, no pipelining; one smtp-sink (-c, no dump) for all`;
  const baselines = [
    { name: `Postfix smtp-source -s ${sessions} -d (connection reused, like the bridge's pool)`, value: median(reuse.rates) },
    { name: `Postfix smtp-source -s ${sessions} (a new connection per message)`, value: median(fresh.rates) },
  ];
  return [
    {
      name: `SMTP messages/s (bridge → smtp-sink, DKIM on), median of ${rounds} rounds`,
      unit: "msg/s",
      value: median(on.rates),
      baselines,
      settings: settings(` + ${dkimBytes} B DKIM-Signature (rsa-sha256, 2048-bit, relaxed/relaxed, signed in the bridge)`),
    },
    {
      name: `SMTP messages/s (bridge → smtp-sink, DKIM RSA + Ed25519), median of ${rounds} rounds`,
      unit: "msg/s",
      value: median(dual.rates),
      baselines,
      settings: settings(
        ` + ${dualBytes} B of two DKIM-Signatures (rsa-sha256 2048-bit and ed25519-sha256, one body hash, signed in the bridge: a verified domain's default)`,
      ),
    },
    {
      name: `SMTP messages/s (bridge → smtp-sink, DKIM Ed25519 alone), median of ${rounds} rounds`,
      unit: "msg/s",
      value: median(edOnly.rates),
      baselines,
      settings: settings(` + ${edBytes} B DKIM-Signature (ed25519-sha256 only, signed in the bridge)`),
    },
    {
      name: `SMTP messages/s (bridge → smtp-sink, DKIM off), median of ${rounds} rounds`,
      unit: "msg/s",
      value: median(off.rates),
      baselines,
      settings: settings(", no DKIM"),
    },
  ];
}

/**
 * 7. N emails from `POST /v1/messages` to the receiving MTA (Worker → send-email queue →
 * bridge → smtp-sink), against nodemailer sending the same emails itself, DKIM-signed with
 * the same key, over as many pooled connections as the bridge may open. Both intervals run
 * from the first send to the moment the sink counted the last message.
 */
export async function endToEndEmails(sys: Systems, s: Settings, notes: string[]): Promise<Figure> {
  const { messages: n, concurrency, textBytes } = s.email;
  const { sink, stack } = sys;
  const sessions = smtpSessions();
  const text = plainText(textBytes);

  const untilSunk = async (name: string, send: () => Promise<SendLog>) => {
    const before = sink.messages();
    const started = performance.now();
    const log = await send();
    const answered = (performance.now() - started) / 1000;
    const expected = log.accepted.size;
    const reachedAt = await sink.reached(before + expected, 120_000);
    const seconds = ((reachedAt ?? performance.now()) - started) / 1000;
    const counted = (await sink.settled(1_000, 10_000)) - before;
    const failures = Object.keys(log.failures).length ? ` (first failures: ${JSON.stringify(log.failures)})` : "";
    notes.push(
      `${name}: answers ${JSON.stringify(log.statuses)}${failures}, the last ${answered.toFixed(2)} s after the first send; ` +
        `${reachedAt === null ? `the sink had not counted all ${expected} after 120 s (the bound ran out)` : `the sink counted the last of ${expected} messages ${seconds.toFixed(2)} s after the first send`}; ` +
        `it counted ${counted} in all for this run${counted !== expected ? ` — expected ${expected}` : ""}`,
    );
    return { log, started, rate: Math.min(counted, expected) / seconds, complete: reachedAt !== null };
  };

  const baseline = await untilSunk("e2e email, nodemailer", () =>
    sendWithNodemailer(sink, stack.keys.dkim, text, n, concurrency, sessions),
  );
  const baseLog = baseline.log as Awaited<ReturnType<typeof sendWithNodemailer>>;
  const lasthop = await untilSunk("e2e email, lasthop", () =>
    sendThroughLasthop(stack.workerUrl, sys.secrets.apiKey, (i) => emailSend(i, text), n, concurrency),
  );

  // Every id lasthop accepted should now read `accepted` (the MTA's 250, as the bridge reported it).
  const api = await waitForAcceptedEmails(stack.workerUrl, sys.secrets.apiKey, lasthop.log.ids, {
    concurrency: 5,
    everyMs: 500,
    timeoutMs: 60_000,
  });
  notes.push(
    `e2e email, lasthop, GET /v1/messages/:id of the ${lasthop.log.ids.length} accepted sends: statuses ${JSON.stringify(api.statuses)}` +
      `${api.allAcceptedAt === null ? " (the 60 s bound ran out)" : `, all accepted as read ${((api.allAcceptedAt - lasthop.started) / 1000).toFixed(2)} s after the first send (reads every 0.5 s, 5 at a time, after the sink had them all)`}` +
      `${api.allAcceptedAt === null ? "" : ` (${(lasthop.log.ids.length / ((api.allAcceptedAt - lasthop.started) / 1000)).toFixed(1)} msg/s if that were the end of the interval)`}` +
      `${Object.keys(api.httpFailures).length ? `; non-200 reads ${JSON.stringify(api.httpFailures)}` : ""}${api.firstNotAccepted ? `; first not accepted: ${JSON.stringify(api.firstNotAccepted).slice(0, 400)}` : ""}`,
  );

  const composed = await lasthopComposed(text, "bench", "bounces.lasthop.test", stack.workerUrl);
  const dkim = {
    domain: stack.keys.dkim.domain,
    selector: stack.keys.dkim.selector,
    privateKey: stack.keys.dkim.privateKeyPem,
    algorithm: "rsa-sha256" as const,
  };
  const lasthopBytes = composed === null ? "n/a" : `${Buffer.byteLength(composed) + (await dkimHeaderBytes(composed, dkim))}`;
  const sizes = baseLog.sizes;
  const nodemailerBytes = sizes.length ? `${Math.round(sizes.reduce((a, b) => a + b, 0) / sizes.length)}` : "n/a";
  return {
    name: "end-to-end emails/s (POST /v1/messages → bridge → smtp-sink)",
    unit: "msg/s",
    value: lasthop.rate,
    baselines: [{ name: `nodemailer 10 pooled SMTP transport from Node, own DKIM, straight to smtp-sink`, value: baseline.rate }],
    settings:
      `${n} emails, ${concurrency} in flight, the same ${textBytes} B text body from ${BENCH_FROM}, DKIM rsa-sha256 (the same key) on both; ` +
      `message ${lasthopBytes} B lasthop (its composition, List-Unsubscribe/Feedback-ID/X-Lasthop-Message-Id included, + the bridge's DKIM-Signature) / ${nodemailerBytes} B nodemailer (mean messageSize); ` +
      `≤ ${sessions} SMTP connections each (SMTP_MAX_PER_DOMAIN / maxConnections), 100 messages per connection`,
  };
}
