// `npm run bench`: starts every system under test on free loopback ports with fresh secrets
// and fresh state, measures the figures against their baselines in one run, prints the
// table, writes bench/REPORT.md, and stops everything it started (also on failure).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack } from "../sandbox/stack.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import { startBaselineWorker } from "./baseline.ts";
import { startWorkerAt } from "./before.ts";
import { bouncesParsed, inboundBounces, inboundEdge } from "./bounces.ts";
import { providerEventsIngested, providerSecrets, STANDARD_MAPPING } from "./providers.ts";
import { appliedScaling } from "./applied.ts";
import { sendThroughLasthop } from "./e2e.ts";
import { webpushSend } from "./payloads.ts";
import {
  apnsNotifications,
  endToEndEmails,
  endToEndFcm,
  endToEndPushes,
  sendsAccepted,
  smtpMessages,
  webhooksIngested,
  type Settings,
} from "./figures.ts";
import { freePort } from "./net.ts";
import { startNodeWebhookServer } from "./node-webhook-server.ts";
import { startHookCounter } from "./hook-counter.ts";
import { outboundWebhooks } from "./webhooks.ts";
import { environment, printTable, writeReport, type Figure } from "./report.ts";
import { generateSecrets } from "./secrets.ts";
import { smppSubmits, smppTpsAccuracy } from "./smpp.ts";
import { plainText, startSmtpSink } from "./smtp.ts";
import { espRouteEmails, type EspSettings } from "./esp.ts";
import { searchAtScale, type SearchSettings } from "./search.ts";
import { costPerMessage, type CostSettings } from "./cost.ts";
import { poolFigures, type PoolsSettings } from "./pools.ts";

// Modest on purpose: 2 cores host the client, the sandbox, two workerd processes and the bridge.
const SETTINGS: Settings = {
  load: { connections: 10, durationSeconds: 8 },
  warmup: { connections: 10, durationSeconds: 1 },
  e2e: { pushes: 300, concurrency: 10 },
  poolSize: 50_000,
  // 4 × 100 = 400 notifications in flight: below the sandbox's 500 streams per session.
  apns: { notifications: 5_000, warmup: 1_000, rounds: 3, batch: 100, inFlight: 4, probe: 200 },
  // 4 × 100 = 400 messages in flight at the bridge, which delivers them over ≤ 5 connections (SMTP_MAX_PER_DOMAIN).
  smtp: { messages: 3_000, warmup: 300, rounds: 3, size: 4_096, batch: 100, inFlight: 4 },
  email: { messages: 300, concurrency: 10, textBytes: 3_400 },
  // window 10 is the stack route's own (sandbox/stack.ts); 4 × 100 = 400 items wait in the bridge for its 10 slots.
  // The warm-up as long as a measured run: after 1,000 the bridge's first measured round still ran at half speed.
  // BENCH_SMPP_BINDS=4 gives the route 4 binds (4 windows of W) for the scaling figure; the client keeps one.
  smpp: {
    messages: 5_000,
    warmup: 5_000,
    rounds: 3,
    window: 10,
    batch: 100,
    inFlight: 4,
    binds: Number(process.env.BENCH_SMPP_BINDS || 1),
  },
  // 6 s at each cap: 1,200 and 300 messages, all offered at once.
  smppTps: { caps: [200, 50], seconds: 6, window: 10, batch: 100 },
  // 16 in flight per endpoint is EndpointDO's ENDPOINT_CONCURRENCY; 500 events × 5 endpoints stays well under a minute a run.
  webhooksOut: { events: 500, fanouts: [1, 5], rounds: 3, concurrency: 16, emitConcurrency: 16, baselineWarmup: 200, boundSeconds: 120 },
};

/** The SendGrid route figure (bench/esp.ts): 300 emails × 3 rounds per side. */
const ESP: EspSettings = { messages: 300, concurrency: 10, rounds: 3, textBytes: 3_400 };

/** The cost figure (bench/cost.ts): per channel, 200 messages and their feedback, from the meter's counts. */
const COST: CostSettings = { messages: 200, concurrency: 10 };

/**
 * The IP pool figures (bench/pools.ts): a destination throttled at 600/min offered 3 minutes' worth at once, and a
 * warming address with a cap of 200 offered 400. EMAIL_MAX_AGE_SECONDS (wrangler.toml, 172,800) and the email
 * queue's max_retries (100) leave the held-back mail far from expiring within the run.
 */
const POOLS: PoolsSettings = {
  // BENCH_POOLS_PER_MINUTE=R: another destination rate (60 keeps the local queue's deferral churn small).
  perMinute: Number(process.env.BENCH_POOLS_PER_MINUTE || 600),
  minutes: 3,
  warmupCap: 200,
  concurrency: 20,
  textBytes: 3_400,
};

/** The message search figure (bench/search.ts): 1,000,000 indexed against 1,000, 20 pages each. */
const SEARCH: SearchSettings = { large: 1_000_000, small: 1_000, fillChunk: 10_000, repeats: 20, limit: 50 };

/**
 * BENCH_ONLY=<group>[,<group>…] runs only those groups of figures (the stack still starts
 * whole); unset, everything runs. Groups: sends, e2e, webhooks (provider/bridge events in), fcm, apns, smtp,
 * email, bounces, smpp, providers, webhooks-out (lasthop's own event stream out to endpoints), esp (the SendGrid route),
 * search (a GET /v1/messages page at 1,000,000 indexed messages), applied (provider events applied/s at 1, 10, 100 messages),
 * pools (IP pools through the whole stack: a destination throttle's per-minute accuracy at the sink, a warming
 * address's daily cap; 5 to 10 minutes: the throttle's 3 minutes at its rate, longer where the local queue falls behind).
 * BENCH_BEFORE=<git revision> also runs that revision's Worker beside this one (same bindings)
 * as a baseline of the sends figure, e.g. the last commit before a change meant to cost nothing.
 */
const GROUPS = [
  "sends",
  "e2e",
  "webhooks",
  "fcm",
  "apns",
  "smtp",
  "email",
  "bounces",
  "smpp",
  "providers",
  "webhooks-out",
  "esp",
  "search",
  "cost",
  "applied",
  "pools",
] as const;
const ONLY = (process.env.BENCH_ONLY ?? "")
  .split(",")
  .map((g) => g.trim())
  .filter(Boolean);
const unknownGroups = ONLY.filter((g) => !(GROUPS as readonly string[]).includes(g));
if (unknownGroups.length) throw new Error(`BENCH_ONLY: unknown group(s) ${unknownGroups.join(", ")}; known: ${GROUPS.join(", ")}`);
const runs = (group: (typeof GROUPS)[number]) => ONLY.length === 0 || ONLY.includes(group);
const begun = new Set<string>();
/** `runs`, and the first time a group starts, a line on stderr: a long run's progress, and where its logs belong. */
const begins = (group: (typeof GROUPS)[number]) => {
  if (runs(group) && !begun.has(group)) {
    begun.add(group);
    console.error(`[bench ${new Date().toISOString()}] ${group}`);
  }
  return runs(group);
};

/** How the figures were taken, for the report. */
const METHOD = [
  "One process runs the load client (autocannon 9.0.0, one request in flight per connection) and the sandbox; lasthop and baseline (a) run in their own workerd under wrangler dev (`unstable_startWorker`, fresh temporary persistence); baseline (b) is a child Node process.",
  "Timed runs: a 1 s warm-up (same settings, not counted) then the measured run; rates are 2xx answers per second of the measured run. Requests still in flight when a run's time is up are dropped by the client.",
  "Sends: every request carries a distinct web push (payload tagged with its number), so each arrival at the sandbox push service is matched to its request. Baseline (a) validates the same body with the same zod schema (src/core/schema.ts) and writes one SQLite row in a DO of its own. lasthop's sends come from an account the platform admin made through the API, with a key of its own (rate 100,000/s, far above the load) and VAPID keys generated for it, so each send's grant and configuration are read through the configuration store. With BENCH_BEFORE=<rev>, baseline (c) is lasthop's Worker at that revision (unpacked with git archive, same bindings, its env-JSON key). The targets take turns for 3 rounds, the order rotated each round, and each figure is the median round.",
  "End-to-end: the interval runs from the first send to the sandbox's recorded arrival of the last push; lasthop is driven by fetch() with a fixed number in flight, the baseline by web-push's sendNotification() with the same number in flight over a keep-alive https.Agent trusting the sandbox CA.",
  "Webhooks: requests are pre-signed with node:crypto (Standard Webhooks with the /v1/webhooks/bridge door's key, fresh webhook-id and event id each), so signing is outside the clock; every target derives that key from the platform secret per request, as lasthop does; baseline (a) verifies with src/core's verify and does one Queue send (its consumer only acks); baseline (b) verifies, JSON-parses and zod-validates (eventBatch) with no queue. lasthop's event consumer applies the events to real MessageDOs while the load runs.",
  'End-to-end FCM: as end-to-end web push, with `POST /v1/messages` `{channel: "fcm", to: "bench-<i>", message: {notification: {title: "t"}, data: {i: "<i>"}}}`; each arrival at the sandbox FCM is matched to its send by `to` and `data.i`. The baseline sends the same messages as FCM HTTP v1 requests with fetch() straight to the sandbox FCM endpoint, after minting one access token itself inside the clock (an RS256 assertion signed with node:crypto from the stack\'s service-account file, traded at its token_uri), as lasthop mints its own once. The sandbox\'s `/_sandbox/fcm/stats` before and after each run counts the OAuth tokens issued.',
  "APNs: the bridge is the one the stack runs (a child Node process, default pool settings); the bench signs `POST /v1/apns/send` batches (src/core signedHeaders, bodies and signatures made before the clock) and counts `accepted` results per second from the first request to the last answer. The baseline is @parse/node-apn's Provider in a child Node process of its own (`address`/`port` pointed at the sandbox APNs, `ca` the sandbox CA, token auth with a second key of the same team registered with the sandbox so neither sender's provider token replaces the other's), sending the same payload with the same number in flight (`send(note, 100 tokens)` calls), timed in the child the same way. The bridge's driver (fetch, JSON parse of the results) shares the bench process with the sandbox; node-apn's driver is node-apn itself, in its child. The two senders take turns for 3 rounds (order swapped each round; a fresh node-apn process and key each round) and each figure is the median round; each side first sends an untimed warm-up (the long-lived bridge once, node-apn in every process). Every notification goes to a fresh sandbox device token; arrivals are checked against answers by apns-id (bridge) and by device token (node-apn).",
  "SMTP: one Postfix `smtp-sink -c 127.0.0.1:<port> 256` (with `-u postfix` as root; no dump) receives every SMTP figure's messages, and its own running counter (-c, read from a pipe) checks each run: what it counted against what the sender reported accepted. The bridge is the stack's (default SMTP settings: SMTP_MAX_PER_DOMAIN 5, so at most 5 connections to the sink, each recycled after 100 messages and probed with RSET before reuse); the bench builds N messages of exactly the same size (text/plain, CRLF, fixed-width recipient and Message-ID), posts them to `POST /v1/smtp/send` in signed batches (bodies and signatures made before the clock, relay `{mode: \"smarthost\", secure: false, requireTLS: false}` to the sink), with the stack's DKIM key (rsa-sha256, 2048-bit, signed by the bridge on its signing threads), with that key and an Ed25519 key of the same domain made by the bench (both signatures, a verified domain's default), with the Ed25519 key alone, or without DKIM, and counts `accepted` results per second from the first request to the last answer. The baseline is Postfix's `smtp-source -s 5 -m N -F <file>` sending the identical message bytes (the file holds message 0 with LF line ends; smtp-source adds CRLF and nothing else) with the same VERP-style envelope, timed with a wall clock around the process: with -d (each session sends all its messages over one connection, as the bridge's pool reuses its) and without (a connection per message, as in the reference figures of /work/shared/BENCHMARKS.md). Its rate counts what the sink counted. The six senders (the bridge's four DKIM modes, smtp-source -d, smtp-source) take turns for 3 rounds, the order rotated each round, after one untimed bridge warm-up per mode; each figure is the median round.",
  "End-to-end email: the stack's `bench` account relays through the bridge to the same smtp-sink (smarthost, plain SMTP on loopback, DKIM with the stack's key). lasthop is driven by fetch() `POST /v1/messages` `{channel: \"email\", from: \"news@lasthop.test\", to: \"bench-<i, 6 digits>@example.net\", subject, text}` (text: plain ASCII in 76-character CRLF lines) with a fixed number in flight; the baseline sends the same emails (same subject and text, same envelope shape, the same DKIM key) with nodemailer's pooled SMTP transport straight to the sink, maxConnections = SMTP_MAX_PER_DOMAIN, maxMessages 100, the same number of sendMail() calls in flight. Both intervals run from the first send to the moment the sink's counter reached the number of accepted sends (timestamped as the counter arrived on the pipe); afterwards every lasthop message id is read back with `GET /v1/messages/:id` until all read `accepted` (bounded), and that time is noted too. The message sizes in the settings are measured: lasthop's by running the Worker's own composeEmail in Node plus the bridge's signMessage, nodemailer's from its messageSize.",
  "SMPP submit_sm/s: the bridge is the stack's (a child Node process), its SMPP route \"sandbox\" to the sandbox SMSC (sandbox/smsc.ts, node-smpp's server, in the bench process) with `window` W, no `tps`, registeredDelivery false, one bind_transceiver (BENCH_SMPP_BINDS=N: N of them, each with its own window; the client keeps one); the bench posts signed `POST /v1/smpp/send` batches (src/core signedHeaders, bodies and signatures made before the clock; items `{id, route: \"sandbox\", from, to, body, reference}`) with a fixed number in flight and counts `accepted` results per second (one part each, so results = submit_sm) from the first request to the last answer. The baseline is a bare node-smpp 0.5 client in a child Node process of its own: `smpp.connect` + bind_transceiver with the same system_id, then the same submit_sm parts (short_message bytes from src/core's segmentSms, addresses from the bridge's own sourceAddress/destinationAddress, the same esm_class, data_coding 0, registered_delivery 0, the package's defaults for every other field, as the bridge leaves them) with at most W submit_sm unanswered, timed in the child from the first submit_sm written to the last submit_sm_resp read. The two take turns for 3 rounds (order swapped each round; a fresh client process each round) and each figure is the median round; the bridge sends one untimed warm-up before the first round, each client process one before its measured parts. Messages: 100-character GSM 03.38 texts (one part, no UDH) to distinct numbers whose last digit is 5 (no sandbox fault number). Every run is checked at the SMSC: its submit_sm counter (zeroed before each run) against the parts sent, and every message it recorded (number, text, data_coding, registered_delivery, from) against what was sent; the rate the SMSC itself saw (first to last submit_sm) is noted beside each.",
  "Provider webhooks: SendGrid batches (100 and 1,000 `open` events, each with its own sg_event_id, naming 200 web pushes lasthop sent by our id in the `lasthop_id` custom arg, so every event is applied as a timeline entry; a local workerd keeps each Durable Object's SQLite file open, and one external message per event ran it out of files) signed with node:crypto ECDSA P-256 before the clock (one key, configured for lasthop's bench account through PUT /v1/providers/sendgrid and given to baseline (a)); single Standard Webhooks events (HMAC, the account's mapping, our id at data.lasthop_id). Baseline (a) verifies with the same src/webhooks code and enqueues the body as it came (≤ 60,000-character queue messages, ≤ 4 per sendBatch); lasthop verifies, normalizes, packs and enqueues. Each figure: baseline warm-up and run, then lasthop's, the same client. Applied: after the queue drained, 20 batches of 1,000 fresh events are posted at once and the consumer is timed until the 200 messages' timelines (GET /v1/messages/:id) hold 20,000 more events.",
  "Outbound webhooks (lasthop's event stream, bench/webhooks.ts): per fan-out F (1, 5), a fresh account made by the platform admin (so no other endpoint or event shares its stream; the stack's own dev receiver is off) with F endpoints (`POST /v1/webhook-endpoints`, eventTypes [recipient.suppressed]) at F paths of one receiver: a plain Node `http` server in a child process of its own (bench/hook-counter.ts) that counts distinct webhook-ids per path, keeps each body, and answers 200 {\"ok\":true} at once (the sandbox's hooks, which keep every delivery's headers too, are not used). lasthop's interval: from just before the first of N = 500 `PUT /v1/suppressions/email/<addr>` (16 in flight, as fast as the API answers; each emits one `recipient.suppressed`; the same N addresses every run, each PUT a fresh event) until the receiver holds N distinct deliveries at every path (its own clock). Baseline: a plain Node loop in a child process (bench/webhook-loop-sender.ts) POSTs the N bodies lasthop delivered in its untimed warm-up run (the same bytes and webhook-ids) to each of the F paths, signed per request inside the clock with src/core/webhook-delivery.ts deliveryHeaders and that endpoint's secret, with fetch() and 16 in flight per endpoint (EndpointDO's ENDPOINT_CONCURRENCY), after 200 untimed warm-up POSTs; its interval runs from its first POST until the receiver holds the same N × F. Rates are N × F over the interval. lasthop warms up once per fan-out (not counted), then 3 rounds (order swapped each round), each figure the median round. One delivery per side is checked against the endpoint's secret with node:crypto's HMAC.",
  'SendGrid route (bench/esp.ts): a fresh account made by the platform admin with one email route, `sendgrid`, at the sandbox\'s SendGrid v3 simulator (sandbox/esp.ts: Bearer key checked, JSON body read and parsed, 202 with X-Message-Id), its key from PUT /v1/providers/sendgrid. lasthop is driven by fetch() `POST /v1/messages` `{channel: "email", from, to: "bench-<i>@example.net", subject, text, route: "sendgrid"}` with a fixed number in flight; the Worker composes the message, builds SendGrid\'s v3 body (personalizations, content, headers with List-Unsubscribe, custom_args lasthop_id) and posts it from the send consumer. The baseline is a plain Node loop in the bench process posting the same v3 mail/send requests (same recipient, subject and text, our id in custom_args) with fetch() and the same number in flight. Each interval runs from its first send until the simulator\'s accepted counter (read in process every 10 ms) holds every accepted send. While the figure runs the simulator\'s webhooks go to an account with no SendGrid webhook (404), so neither side carries webhook processing. One untimed warm-up of 50 per side, then 3 rounds with the order swapped each round; each figure is the median round.',
  "Message search (bench/search.ts): a Worker of its own (bench/search/wrangler.toml) whose Durable Object is lasthop's AccountDO (a subclass adds a bulk fill through the same index() the outbox calls) and whose GET /v1/messages is lasthop's own searchMessages (validation, recipient keys, the fan-out to the account's 17 counter objects, the merge). One account gets 1,000,000 synthetic email messages (one per second of creation time; 50,000 recipients; 1 in 10 tagged weekly, 1 in 100 welcome; statuses and routes in fixed proportions) spread over its 16 shards, another 1,000 of the same. Each query is asked once of each account untimed, then 20 times alternating; each figure is the median page time (fetch from the bench process to the parsed answer), the baseline the same page of the 1,000-message account.",
  "Provider events applied (bench/applied.ts): 100 web pushes sent through lasthop; for each spread S of 1, 10 and 100 of them, 4,000 SendGrid `open` events naming the S messages in turn (our id in `lasthop_id`, each its own sg_event_id), signed before the clock in 4 batches of 1,000 posted at once. lasthop verifies, normalizes, packs, enqueues, and its consumer applies each event to the message's MessageDO (timeline, outbox: counters, event stream); the interval runs until the S timelines (GET /v1/messages/:id) hold 4,000 more events. Baseline (a) /sendgrid-apply verifies with the same code, enqueues each event's id and message in packs of 100, and its consumer writes one row per event (INSERT OR IGNORE) into one Durable Object per message, 128 events in flight as lasthop's consumer; its interval runs until those objects hold 4,000 more rows. Baseline first, then lasthop, per spread.",
  "SMPP TPS accuracy: a second bridge runs in the bench process (bridge/src/app.ts startBridge, the SMPP config built in code, a stand-in edge that answers 204) with one route per cap (`tps` C, window 10, registeredDelivery false, one bind_transceiver to the same sandbox SMSC), as this figure measures rate accuracy, not speed. For each cap, C × 6 messages are posted at once (every signed batch in flight from the start, batch deadline past the run) so the offered rate stays above the cap throughout; the SMSC, armed with the same cap (its `tps` fault: more than C submit_sm in a sliding second answers ESME_RTHROTTLED and counts a violation), records each submit_sm's arrival (Date.now(), ms). Achieved = (n − 1) / (last − first) over those times; the ratio is achieved / configured. The second row is the most submit_sm in any 1-second window (t − 1000, t], as the SMSC counts; it must be ≤ C.",
  "Cost per message (bench/cost.ts): the stack runs with METER=1 when this figure runs (src/state/meter.ts counts, as the code runs: Worker invocations per handler; Durable Object requests per binding and method, alarms included; Queue operations per 64 KB written, read and deleted; subrequests; SQLite rows read and written, from each statement's cursor). Per case, 10 untimed messages first, then N messages with 10 in flight; the counts are read through GET /v1/admin/meter before and after, once they have not moved for 1.5 s (the effects that follow an outcome, counters and the event stream, included), and divided by N. Cases: web push and FCM (send → accepted); email through the relay to smtp-sink plus one DSN per message through the bridge's inbound SMTP (→ bounced, suppression included: every message bounces, the worst case); email through a SendGrid route at the simulator plus one signed `delivered` event per message in batches of 100 (→ delivered). Dollars: Cloudflare's list prices beyond the included amounts (Workers $0.30/M requests and $0.02/M CPU ms; Durable Objects $0.15/M requests, $12.50/M GB-s at 128 MB, SQLite $0.001/M rows read and $1.00/M rows written; Queues $0.40/M operations); Worker CPU is every workerd process's CPU over the run (/proc, the objects' CPU included: an upper bound), and the same time stands in for the objects' duration (billed wall-clock while active; a lower bound where an object awaits another). Not included: storage (GB-months), the bridge's container, and the customer's event-stream endpoints (the bench account has none).",
  "IP pools (bench/pools.ts): fresh accounts made by the platform admin (POST /v1/admin/accounts), email relayed through the stack's bridge to the same smtp-sink (smarthost, plain SMTP), no DKIM, 3,400 B texts. Throttle: `PUT /v1/email/delivery {destinations: [{name: \"bench\", domains: [\"throttle.example\"], perMinute: R}]}`, R = 600 (BENCH_POOLS_PER_MINUTE sets another); N = 3R emails to `bench-<i>@throttle.example` posted with 20 in flight as fast as the API takes them (an answer that is not 2xx, or none within 120 s, is counted, its message not followed) (the queue holds them; the send consumer's pool gate defers what the rate holds back with its slot as retryAfter, and they come back through the queue). Each arrival's time is the moment the sink's counter (-c, on its pipe) moved, read by the bench; over every 60 s window sliding by 1 s from the first arrival, wholly before the last, the arrivals are counted: the most and the fewest against R (the issue's goal: within 2 %), and the whole run's (n − 1)/(last − first) per minute against R. Then every message is read back with GET /v1/messages/:id until all are `accepted` (bounded 60 s), and the first 50's timelines give the deferrals' reasons. Warm-up: a pool `warm` of one address 127.0.0.2 (the bridge binds it; loopback) with `warmup {startedOn: today UTC, schedule: [C]}`, C = 200, as defaultPool; 2C emails offered the same way; the figure is what the sink counted once it reached C and then 5 s passed with nothing more, against C; the rest read `deferred` with reason `warmup` (until the next UTC day).",
];

async function main(): Promise<void> {
  // wrangler logs one line per request at "info"; the Worker's own warnings and errors still show.
  process.env.WRANGLER_LOG ??= "warn";
  const secrets = generateSecrets();
  const providers = providerSecrets();
  const temp = mkdtempSync(join(tmpdir(), "lasthop-bench-"));
  const stops: Array<() => Promise<void>> = [];
  try {
    // Postfix's smtp-sink: the receiving MTA of the SMTP figures, and the stack's email relay.
    const sink = await startSmtpSink(await freePort());
    stops.push(sink.close);
    // The outbound webhook figure's receiver (bench/hook-counter.ts, a child process); its
    // host:port, like the sandbox's, is one an event endpoint may use over plain http.
    const hookCounter = runs("webhooks-out") ? await startHookCounter(await freePort()) : null;
    if (hookCounter) stops.push(hookCounter.close);
    const sandboxPort = await freePort();
    const devHosts = [`127.0.0.1:${sandboxPort}`, ...(hookCounter ? [new URL(hookCounter.origin).host] : [])];
    // The stack first: it sets NODE_EXTRA_CA_CERTS before wrangler loads (see baseline.ts).
    const stack = await startStack({
      workerPort: 0,
      // Free ports throughout, so a running `npm start` never collides with the bench.
      bridgePort: 0,
      inboundSmtpPort: 0,
      httpPort: sandboxPort,
      webpushPort: 0,
      persistTo: join(temp, "lasthop-state"),
      certDir: join(temp, "certs"),
      // METER=1 (src/state/meter.ts) only when the cost figure runs: a Map increment per DO call, queue send and fetch.
      vars: { ...secrets.vars(), WEBHOOK_DEV_HOSTS: devHosts.join(","), ...(runs("cost") ? { METER: "1" } : {}) },
      // No event endpoint for the bench account: every figure's messages would otherwise also be
      // delivered as events to the sandbox's dev receiver, a load none of the baselines carries.
      // The outbound webhook figure makes accounts and endpoints of its own.
      webhookReceiver: false,
      // The providers' webhooks are configured for the bench account with its own key.
      accountKey: secrets.apiKey,
      // The bench account's email goes through the bridge to the sink (plain SMTP on loopback, no AUTH).
      emailAccounts: ["bench"],
      emailRelay: { mode: "smarthost", host: sink.host, port: sink.port, secure: false, requireTLS: false },
      // The SMPP figure's route: its window, and no receipts (they would flood the Worker with DLRs of messages it never sent).
      smppRoute: { window: SETTINGS.smpp.window, registeredDelivery: false },
      smppBinds: SETTINGS.smpp.binds,
    });
    stops.push(stack.close);
    const baseline = await startBaselineWorker({
      persistTo: join(temp, "baseline-state"),
      webhookSecret: secrets.webhookSecret,
      sendgridPublicKey: providers.sendgridPublicKey,
      standardSecret: providers.standardSecret,
      vapid: secrets.vapid,
    });
    stops.push(baseline.close);
    const node = await startNodeWebhookServer(secrets.webhookSecret);
    stops.push(node.close);
    const response = await fetch(`${stack.sandbox.httpUrl}/_sandbox/webpush/subscriptions`, {
      method: "POST",
      body: JSON.stringify({ name: "bench" }),
    });
    if (response.status !== 201) throw new Error(`sandbox subscription: ${response.status} ${await response.text()}`);
    const subscription = (await response.json()) as PushSubscriptionJson;

    // BENCH_BEFORE=<git revision>: that revision's Worker runs beside, with the same bindings, as
    // baseline (c) of the sends figure ("before" and "now" in one run).
    const before = process.env.BENCH_BEFORE
      ? await startWorkerAt({
          rev: process.env.BENCH_BEFORE,
          dir: join(temp, "before-tree"),
          persistTo: join(temp, "before-state"),
          vars: stack.workerVars,
        })
      : null;
    if (before) stops.push(before.close);
    const systems = {
      stack,
      baselineUrl: baseline.url,
      nodeUrl: node.url,
      secrets,
      subscription,
      sink,
      ...(before ? { before: { url: before.url, commit: before.commit } } : {}),
    };
    const notes: string[] = [];
    const figures: Figure[] = [];
    /** Where the provider-event figures post, and the messages their events name. */
    const eventTarget = (messageIds: string[]) => ({
      messageIds,
      workerUrl: stack.workerUrl,
      baselineUrl: baseline.url,
      apiKey: secrets.apiKey,
      account: "bench",
      secrets: providers,
    });
    /** The bench account's webhook configuration for a provider, through the API (PUT /v1/providers/<provider>). */
    const configureProvider = async (provider: string, body: unknown) => {
      const put = await fetch(`${stack.workerUrl}/v1/providers/${provider}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${secrets.apiKey}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!put.ok) throw new Error(`PUT /v1/providers/${provider}: ${put.status} ${await put.text()}`);
    };
    const failed: string[] = [];
    /** One group's figures: a group that fails is noted (and fails the run) but the others still run and are reported. */
    const guarded = async (group: string, work: () => Promise<unknown>) => {
      try {
        await work();
      } catch (error) {
        failed.push(group);
        notes.push(`${group}: FAILED, its figures are missing: ${String(error).slice(0, 500)}`);
        console.error(`[bench] ${group} failed:`, error);
      }
    };
    console.log(`lasthop bench — ${environment()}`);
    if (ONLY.length) notes.push(`BENCH_ONLY=${ONLY.join(",")}: only these groups of figures ran`);
    if (begins("sends"))
      await guarded("sends", async () => {
        figures.push(await sendsAccepted(systems, SETTINGS, notes));
      });
    // The webhook figure names messages sent by the end-to-end one, so it needs that one too.
    if (begins("e2e") || begins("webhooks"))
      await guarded("e2e", async () => {
        const e2e = await endToEndPushes(systems, SETTINGS, notes);
        if (begins("e2e")) figures.push(e2e.figure);
        if (begins("webhooks")) figures.push(await webhooksIngested(systems, SETTINGS, e2e.messageIds, notes));
      });
    // The new channels last, so the three figures above run as they always have.
    if (begins("fcm"))
      await guarded("fcm", async () => {
        figures.push(await endToEndFcm(systems, SETTINGS, notes));
      });
    if (begins("apns"))
      await guarded("apns", async () => {
        figures.push(await apnsNotifications(systems, SETTINGS, notes));
      });
    if (begins("smtp"))
      await guarded("smtp", async () => {
        figures.push(...(await smtpMessages(systems, SETTINGS, notes)));
      });
    if (begins("email"))
      await guarded("email", async () => {
        figures.push(await endToEndEmails(systems, SETTINGS, notes));
      });
    if (begins("bounces"))
      await guarded("bounces", async () => {
        figures.push(await bouncesParsed());
        figures.push(...(await inboundBounces(stack, secrets.apiKey, sink)));
        figures.push(await inboundEdge(stack, secrets.apiKey, secrets.webhookSecret));
      });
    if (begins("smpp"))
      await guarded("smpp", async () => {
        figures.push(await smppSubmits(systems, SETTINGS, notes));
        figures.push(...(await smppTpsAccuracy(systems, SETTINGS, notes)));
      });
    if (begins("providers"))
      await guarded("providers", async () => {
        // The bench account takes SendGrid's and a Standard Webhooks sender's events, configured through the API.
        await configureProvider("sendgrid", { webhookPublicKey: providers.sendgridPublicKey });
        await configureProvider("standard", { webhookSecret: providers.standardSecret, mapping: STANDARD_MAPPING });
        // 200 web pushes sent through lasthop: the provider events name them by our id.
        const sent = await sendThroughLasthop(stack.workerUrl, secrets.apiKey, (i) => webpushSend(subscription, "providers", i), 200, 10);
        if (sent.ids.length === 0) throw new Error(`provider figures: no message was accepted (${JSON.stringify(sent.statuses)})`);
        figures.push(...(await providerEventsIngested({ ...eventTarget(sent.ids), load: SETTINGS.load, warmup: SETTINGS.warmup }, notes)));
      });
    if (begins("applied"))
      await guarded("applied", async () => {
        await configureProvider("sendgrid", { webhookPublicKey: providers.sendgridPublicKey });
        const sent = await sendThroughLasthop(stack.workerUrl, secrets.apiKey, (i) => webpushSend(subscription, "applied", i), 100, 10);
        figures.push(...(await appliedScaling(eventTarget(sent.ids), notes)));
      });
    if (hookCounter)
      await guarded("webhooks-out", async () => {
        figures.push(...(await outboundWebhooks(stack.workerUrl, hookCounter, SETTINGS.webhooksOut, notes)));
      });
    if (begins("esp"))
      await guarded("esp", async () => {
        figures.push(await espRouteEmails(stack, ESP, plainText(ESP.textBytes), notes));
      });
    if (begins("search"))
      await guarded("search", async () => {
        figures.push(...(await searchAtScale(SEARCH, join(temp, "search-state"), notes)));
      });
    if (begins("pools"))
      await guarded("pools", async () => {
        figures.push(...(await poolFigures(stack, sink, POOLS, plainText(POOLS.textBytes), notes)));
      });
    if (begins("cost"))
      await guarded("cost", async () => {
        figures.push(...(await costPerMessage(stack, secrets.apiKey, subscription, providers, COST, notes)));
      });

    console.log();
    printTable(figures);
    console.log();
    for (const note of notes) console.log(`- ${note}`);
    // The committed report is a whole run's; a partial one goes beside it (not committed).
    const reportPath = fileURLToPath(new URL(ONLY.length ? "./REPORT.partial.md" : "./REPORT.md", import.meta.url));
    writeReport(reportPath, figures, METHOD, notes);
    if (ONLY.length) console.log("(BENCH_ONLY: the report holds only these figures)");
    console.log(`\nwrote ${reportPath}`);
    if (failed.length) {
      console.error(`[bench] failed groups: ${failed.join(", ")}`);
      process.exitCode = 1;
    }
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error("stopping:", error));
    rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
