// `npm run bench`: starts every system under test on free loopback ports with fresh secrets
// and fresh state, measures the three figures against their baselines in one run, prints the
// table, writes bench/REPORT.md, and stops everything it started (also on failure).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startStack } from "../sandbox/stack.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";
import { startBaselineWorker } from "./baseline.ts";
import { endToEndPushes, sendsAccepted, webhooksIngested, type Settings } from "./figures.ts";
import { freePort } from "./net.ts";
import { startNodeWebhookServer } from "./node-webhook-server.ts";
import { environment, printTable, writeReport, type Figure } from "./report.ts";
import { generateSecrets } from "./secrets.ts";

// Modest on purpose: 2 cores host the client, the sandbox and two workerd processes.
const SETTINGS: Settings = {
  load: { connections: 10, durationSeconds: 8 },
  warmup: { connections: 10, durationSeconds: 1 },
  e2e: { pushes: 300, concurrency: 10 },
  poolSize: 50_000,
};

/** How the figures were taken, for the report. */
const METHOD = [
  "One process runs the load client (autocannon 9.0.0, one request in flight per connection) and the sandbox; lasthop and baseline (a) run in their own workerd under wrangler dev (`unstable_startWorker`, fresh temporary persistence); baseline (b) is a child Node process.",
  "Timed runs: a 1 s warm-up (same settings, not counted) then the measured run; rates are 2xx answers per second of the measured run. Requests still in flight when a run's time is up are dropped by the client.",
  "Sends: every request carries a distinct web push (payload tagged with its number), so each arrival at the sandbox push service is matched to its request. Baseline (a) validates the same body with the same zod schema (src/core/schema.ts) and writes one SQLite row in a DO of its own.",
  "End-to-end: the interval runs from the first send to the sandbox's recorded arrival of the last push; lasthop is driven by fetch() with a fixed number in flight, the baseline by web-push's sendNotification() with the same number in flight over a keep-alive https.Agent trusting the sandbox CA.",
  "Webhooks: requests are pre-signed with node:crypto (Standard Webhooks, fresh webhook-id and event id each), so signing is outside the clock; baseline (a) verifies with src/core's verify and does one Queue send (its consumer only acks); baseline (b) verifies, JSON-parses and zod-validates (eventBatch) with no queue. lasthop's event consumer applies the events to real MessageDOs while the load runs.",
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
