// Provider webhooks: events ingested per second through POST /v1/webhooks/{provider}/{account}
// (SendGrid batches of 100 and 1,000, single Standard Webhooks events), each beside baseline (a)'s
// minimal Worker that verifies the same signature with the same code and enqueues the body; and
// events applied per second by the consumer afterwards.
import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import { load, type Target } from "./load.ts";
import { sleep } from "./net.ts";
import type { Figure } from "./report.ts";

export type ProviderSecrets = { sendgridPublicKey: string; sendgridPrivateKey: KeyObject; standardSecret: string };

export function providerSecrets(): ProviderSecrets {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return {
    sendgridPublicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
    sendgridPrivateKey: privateKey,
    standardSecret: `whsec_${Buffer.from(randomUUID() + randomUUID()).toString("base64")}`,
  };
}

type Signed = { headers: Record<string, string>; body: string };
type Run = { rate: number; requests: number; statuses: Record<string, number>; p50: number; p99: number; errors: number; timeouts: number };

/**
 * `requests` SendGrid batches of `size` open events, each with its own sg_event_id, naming the
 * messages lasthop sent (our id as the `lasthop_id` custom arg) in turn: every event is applied
 * (a timeline entry), and the objects they reach stay few (a local workerd keeps every Durable
 * Object's SQLite file open, and tens of thousands of external messages run it out of files).
 */
export function sendgridPool(
  secrets: ProviderSecrets,
  requests: number,
  size: number,
  run: string,
  messageIds: readonly string[],
  event = "open",
): Signed[] {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return Array.from({ length: requests }, (_, r) => {
    const events = Array.from({ length: size }, (_, i) => {
      const n = (r * size + i) % messageIds.length;
      return {
        email: `b-${n}@example.net`,
        event,
        timestamp: Number(timestamp),
        sg_event_id: `${run}-${r}-${i}`,
        sg_message_id: `${run}x${n}.filter0001.16648.5515E0B88.0`,
        lasthop_id: messageIds[n],
        useragent: "Mozilla/5.0 (bench)",
        ip: "192.0.2.1",
      };
    });
    const body = JSON.stringify(events);
    const signature = sign("sha256", Buffer.from(timestamp + body), secrets.sendgridPrivateKey).toString("base64");
    return {
      body,
      headers: {
        "content-type": "application/json",
        "x-twilio-email-event-webhook-signature": signature,
        "x-twilio-email-event-webhook-timestamp": timestamp,
      },
    };
  });
}

/** Single Standard Webhooks events, our id in `data.lasthop_id`, the messages in turn. */
function standardPool(secrets: ProviderSecrets, requests: number, run: string, messageIds: readonly string[]): Signed[] {
  const key = Buffer.from(secrets.standardSecret.replace(/^whsec_/, ""), "base64");
  const timestamp = String(Math.floor(Date.now() / 1000));
  return Array.from({ length: requests }, (_, r) => {
    const n = r % messageIds.length;
    const body = JSON.stringify({
      type: "message.opened",
      timestamp: new Date().toISOString(),
      data: { id: `${run}-${n}`, to: `s-${n}@example.net`, lasthop_id: messageIds[n] },
    });
    const id = `msg_${run}_${r}`;
    const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
    return {
      body,
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": timestamp,
        "webhook-signature": `v1,${signature}`,
      },
    };
  });
}

export const STANDARD_MAPPING = {
  type: "type",
  providerMessageId: "data.id",
  recipient: "data.to",
  occurredAt: "timestamp",
  messageId: "data.lasthop_id",
  types: { "message.opened": "opened" },
};

async function run(url: string, pool: Signed[], settings: { connections: number; durationSeconds: number }): Promise<Run> {
  let i = 0;
  const target: Target = { url, next: () => pool[i++ % pool.length]! };
  const result = await load(target, settings);
  return {
    rate: result.rate,
    requests: result.ok,
    statuses: result.statusCodes,
    p50: result.p50,
    p99: result.p99,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** How many events the messages' timelines hold: every event of these figures adds one when applied. */
async function timelineCount(b: ProviderBench): Promise<number> {
  let n = 0;
  for (const id of b.messageIds) {
    const response = await fetch(`${b.workerUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${b.apiKey}` } });
    if (response.ok) n += ((await response.json()) as { events: unknown[] }).events.length;
  }
  return n;
}

export type ProviderBench = {
  workerUrl: string;
  baselineUrl: string;
  apiKey: string;
  account: string;
  secrets: ProviderSecrets;
  /** Messages lasthop sent for this account: the events name them by our id. */
  messageIds: readonly string[];
  load: { connections: number; durationSeconds: number };
  warmup: { connections: number; durationSeconds: number };
};

/** The three ingest figures and the applied rate, in one pass; lasthop and the baseline alternate per figure. */
export async function providerEventsIngested(b: ProviderBench, notes: string[]): Promise<Figure[]> {
  const lasthopUrl = (provider: string) => `${b.workerUrl}/v1/webhooks/${provider}/${b.account}`;
  const figures: Figure[] = [];
  for (const size of [100, 1000]) {
    // Pools outlast a run: about 5 requests/s per connection at most for a 1,000-event batch.
    const requests = size === 100 ? 600 : 120;
    const tag = `sg${size}-${randomUUID().slice(0, 8)}`;
    const pools = {
      lasthop: sendgridPool(b.secrets, requests, size, `${tag}l`, b.messageIds),
      baseline: sendgridPool(b.secrets, requests, size, `${tag}b`, b.messageIds),
    };
    await run(`${b.baselineUrl}/sendgrid`, pools.baseline, b.warmup);
    const baseline = await run(`${b.baselineUrl}/sendgrid`, pools.baseline, b.load);
    await run(lasthopUrl("sendgrid"), pools.lasthop, b.warmup);
    const lasthop = await run(lasthopUrl("sendgrid"), pools.lasthop, b.load);
    notes.push(
      `provider webhooks, SendGrid ×${size}: lasthop ${lasthop.requests} requests ${JSON.stringify(lasthop.statuses)} p50 ${lasthop.p50} ms p99 ${lasthop.p99} ms, socket errors ${lasthop.errors} (timeouts ${lasthop.timeouts}); baseline ${baseline.requests} requests ${JSON.stringify(baseline.statuses)} p50 ${baseline.p50} ms p99 ${baseline.p99} ms` +
        (lasthop.requests > requests ? `; lasthop went past its ${requests} pre-signed batches (replays: duplicates, applied once)` : ""),
    );
    figures.push({
      name: `provider events ingested/s (SendGrid, batches of ${size})`,
      unit: "events/s",
      value: lasthop.rate * size,
      baselines: [{ name: "(a) minimal Worker: same verify + enqueue the body", value: baseline.rate * size }],
      settings: `${b.load.connections} conns, ${b.load.durationSeconds} s (+${b.warmup.durationSeconds} s warm-up), ${pools.lasthop[0]!.body.length} B body`,
    });
  }
  {
    const tag = `sw-${randomUUID().slice(0, 8)}`;
    const pools = {
      lasthop: standardPool(b.secrets, 40_000, `${tag}l`, b.messageIds),
      baseline: standardPool(b.secrets, 40_000, `${tag}b`, b.messageIds),
    };
    await run(`${b.baselineUrl}/standard`, pools.baseline, b.warmup);
    const baseline = await run(`${b.baselineUrl}/standard`, pools.baseline, b.load);
    await run(lasthopUrl("standard"), pools.lasthop, b.warmup);
    const lasthop = await run(lasthopUrl("standard"), pools.lasthop, b.load);
    notes.push(
      `provider webhooks, Standard Webhooks ×1: lasthop ${lasthop.requests} ${JSON.stringify(lasthop.statuses)} p50 ${lasthop.p50} ms, socket errors ${lasthop.errors} (timeouts ${lasthop.timeouts}); baseline ${baseline.requests} ${JSON.stringify(baseline.statuses)} p50 ${baseline.p50} ms`,
    );
    figures.push({
      name: "provider events ingested/s (Standard Webhooks, 1 event)",
      unit: "events/s",
      value: lasthop.rate,
      baselines: [{ name: "(a) minimal Worker: same verify + Queue send", value: baseline.rate }],
      settings: `${b.load.connections} conns, ${b.load.durationSeconds} s (+${b.warmup.durationSeconds} s warm-up), ${pools.lasthop[0]!.body.length} B body`,
    });
  }
  // Applied: let the queue drain, then post a burst of 20 × 1,000 fresh events at once and time
  // the consumer from the first request until the account has counted every delivery.
  await settled(b);
  const burst = sendgridPool(b.secrets, 20, 1000, `burst-${randomUUID().slice(0, 8)}`, b.messageIds);
  const before = await timelineCount(b);
  const started = Date.now();
  const answers = await Promise.all(burst.map((r) => fetch(lasthopUrl("sendgrid"), { method: "POST", ...r }).then((res) => res.status)));
  const ingestedAt = Date.now();
  const expected = before + 20_000;
  let count = before;
  while (count < expected && Date.now() - started < 300_000) {
    await sleep(500);
    count = await timelineCount(b);
  }
  const seconds = (Date.now() - started) / 1000;
  notes.push(
    `provider webhooks, applied: 20 SendGrid batches of 1,000 posted at once (answers ${JSON.stringify(countBy(answers))}, all in ${((ingestedAt - started) / 1000).toFixed(1)} s); ${count - before}/20000 events on the timelines after ${seconds.toFixed(1)} s${count < expected ? " (the 300 s bound ran out)" : ""}`,
  );
  figures.push({
    name: `provider events applied/s (20 × 1,000 SendGrid events onto ${b.messageIds.length} messages' timelines)`,
    unit: "events/s",
    value: (count - before) / seconds,
    baselines: [{ name: "lasthop's own ingest rate of the same burst (answered 200)", value: 20_000 / ((ingestedAt - started) / 1000) }],
    settings: "wrangler dev's local queue, consumer batches of ≤ 100 packs",
  });
  return figures;
}

/** Until the timelines have not grown for 6 s: the queue has drained what came before. */
async function settled(b: ProviderBench): Promise<void> {
  let last = -1;
  let since = Date.now();
  const started = Date.now();
  while (Date.now() - started < 300_000) {
    const count = await timelineCount(b);
    if (count !== last) [last, since] = [count, Date.now()];
    else if (Date.now() - since > 6_000) return;
    await sleep(1_000);
  }
}

function countBy(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
