// `npm run bench`: starts every system under test on free loopback ports with fresh secrets
// and fresh state, measures the five figures against their baselines in one run, prints the
// table, writes bench/REPORT.md, and stops everything it started (also on failure).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack } from "../sandbox/stack.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import { startBaselineWorker } from "./baseline.ts";
import { apnsNotifications, endToEndFcm, endToEndPushes, sendsAccepted, webhooksIngested, type Settings } from "./figures.ts";
import { freePort } from "./net.ts";
import { startNodeWebhookServer } from "./node-webhook-server.ts";
import { environment, printTable, writeReport, type Figure } from "./report.ts";
import { generateSecrets } from "./secrets.ts";

// Modest on purpose: 2 cores host the client, the sandbox, two workerd processes and the bridge.
const SETTINGS: Settings = {
  load: { connections: 10, durationSeconds: 8 },
  warmup: { connections: 10, durationSeconds: 1 },
  e2e: { pushes: 300, concurrency: 10 },
  poolSize: 50_000,
  // 4 × 100 = 400 notifications in flight: below the sandbox's 500 streams per session.
  apns: { notifications: 5_000, warmup: 1_000, rounds: 3, batch: 100, inFlight: 4, probe: 200 },
};

/** How the figures were taken, for the report. */
const METHOD = [
  "One process runs the load client (autocannon 9.0.0, one request in flight per connection) and the sandbox; lasthop and baseline (a) run in their own workerd under wrangler dev (`unstable_startWorker`, fresh temporary persistence); baseline (b) is a child Node process.",
  "Timed runs: a 1 s warm-up (same settings, not counted) then the measured run; rates are 2xx answers per second of the measured run. Requests still in flight when a run's time is up are dropped by the client.",
  "Sends: every request carries a distinct web push (payload tagged with its number), so each arrival at the sandbox push service is matched to its request. Baseline (a) validates the same body with the same zod schema (src/core/schema.ts) and writes one SQLite row in a DO of its own.",
  "End-to-end: the interval runs from the first send to the sandbox's recorded arrival of the last push; lasthop is driven by fetch() with a fixed number in flight, the baseline by web-push's sendNotification() with the same number in flight over a keep-alive https.Agent trusting the sandbox CA.",
  "Webhooks: requests are pre-signed with node:crypto (Standard Webhooks, fresh webhook-id and event id each), so signing is outside the clock; baseline (a) verifies with src/core's verify and does one Queue send (its consumer only acks); baseline (b) verifies, JSON-parses and zod-validates (eventBatch) with no queue. lasthop's event consumer applies the events to real MessageDOs while the load runs.",
  "End-to-end FCM: as end-to-end web push, with `POST /v1/messages` `{channel: \"fcm\", to: \"bench-<i>\", message: {notification: {title: \"t\"}, data: {i: \"<i>\"}}}`; each arrival at the sandbox FCM is matched to its send by `to` and `data.i`. The baseline sends the same messages as FCM HTTP v1 requests with fetch() straight to the sandbox FCM endpoint, after minting one access token itself inside the clock (an RS256 assertion signed with node:crypto from the stack's service-account file, traded at its token_uri), as lasthop mints its own once. The sandbox's `/_sandbox/fcm/stats` before and after each run counts the OAuth tokens issued.",
  "APNs: the bridge is the one the stack runs (a child Node process, default pool settings); the bench signs `POST /v1/apns/send` batches (src/core signedHeaders, bodies and signatures made before the clock) and counts `accepted` results per second from the first request to the last answer. The baseline is @parse/node-apn's Provider in a child Node process of its own (`address`/`port` pointed at the sandbox APNs, `ca` the sandbox CA, token auth with a second key of the same team registered with the sandbox so neither sender's provider token replaces the other's), sending the same payload with the same number in flight (`send(note, 100 tokens)` calls), timed in the child the same way. The bridge's driver (fetch, JSON parse of the results) shares the bench process with the sandbox; node-apn's driver is node-apn itself, in its child. The two senders take turns for 3 rounds (order swapped each round; a fresh node-apn process and key each round) and each figure is the median round; each side first sends an untimed warm-up (the long-lived bridge once, node-apn in every process). Every notification goes to a fresh sandbox device token; arrivals are checked against answers by apns-id (bridge) and by device token (node-apn).",
];

async function main(): Promise<void> {
  // wrangler logs one line per request at "info"; the Worker's own warnings and errors still show.
  process.env.WRANGLER_LOG ??= "warn";
  const secrets = generateSecrets();
  const temp = mkdtempSync(join(tmpdir(), "lasthop-bench-"));
  const stops: Array<() => Promise<void>> = [];
  try {
    // The stack first: it sets NODE_EXTRA_CA_CERTS before wrangler loads (see baseline.ts).
    const stack = await startStack({
      workerPort: await freePort(),
      httpPort: 0,
      webpushPort: 0,
      persistTo: join(temp, "lasthop-state"),
      certDir: join(temp, "certs"),
      vars: secrets.vars("127.0.0.1"),
    });
    stops.push(stack.close);
    const baseline = await startBaselineWorker({ port: await freePort(), persistTo: join(temp, "baseline-state"), webhookSecret: secrets.webhookSecret });
    stops.push(baseline.close);
    const node = await startNodeWebhookServer(secrets.webhookSecret);
    stops.push(node.close);
    const response = await fetch(`${stack.sandbox.httpUrl}/_sandbox/webpush/subscriptions`, { method: "POST", body: JSON.stringify({ name: "bench" }) });
    if (response.status !== 201) throw new Error(`sandbox subscription: ${response.status} ${await response.text()}`);
    const subscription = (await response.json()) as PushSubscriptionJson;

    const systems = { stack, baselineUrl: baseline.url, nodeUrl: node.url, secrets, subscription };
    const notes: string[] = [];
    const figures: Figure[] = [];
    console.log(`lasthop bench — ${environment()}`);
    figures.push(await sendsAccepted(systems, SETTINGS, notes));
    const e2e = await endToEndPushes(systems, SETTINGS, notes);
    figures.push(e2e.figure);
    figures.push(await webhooksIngested(systems, SETTINGS, e2e.messageIds, notes));
    // The new channels last, so the three figures above run as they always have.
    figures.push(await endToEndFcm(systems, SETTINGS, notes));
    figures.push(await apnsNotifications(systems, SETTINGS, notes));

    console.log();
    printTable(figures);
    console.log();
    for (const note of notes) console.log(`- ${note}`);
    const reportPath = fileURLToPath(new URL("./REPORT.md", import.meta.url));
    writeReport(reportPath, figures, METHOD, notes);
    console.log(`\nwrote ${reportPath}`);
  } finally {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => console.error("stopping:", error));
    rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
