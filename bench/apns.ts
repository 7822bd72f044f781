// APNs through the bridge: signed batches to `POST /v1/apns/send`, each item its own fresh
// sandbox device token and apns-id, so every arrival at the sandbox APNs can be matched to its
// item; and the sandbox's own view (arrivals, sessions, provider tokens) to check them against.
import { randomUUID } from "node:crypto";
import type { Sandbox } from "../sandbox/main.ts";
import type { Received } from "../sandbox/store.ts";
import { batchResults, BRIDGE_APNS_PATH, type ApnsBatch } from "../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../src/core/standard-webhooks.ts";
import { forEachConcurrent } from "./net.ts";

export const APNS_TOPIC = "com.example.app";

/** What an order app would push: about the size of a real alert. The same bytes for every sender. */
export const APNS_PAYLOAD = {
  aps: { alert: { title: "Your order has shipped", body: "Order #48213 left the warehouse and arrives Thursday." }, sound: "default" },
  orderId: 48213,
};

/** `count` fresh device tokens from the sandbox (`POST /_sandbox/apns/tokens`), minted before any clock starts. */
export async function mintApnsTokens(sandbox: Sandbox, name: string, count: number): Promise<string[]> {
  const tokens: string[] = new Array<string>(count);
  await forEachConcurrent(count, 16, async (i) => {
    const response = await fetch(`${sandbox.httpUrl}/_sandbox/apns/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name }),
    });
    if (response.status !== 201) throw new Error(`sandbox APNs token: ${response.status} ${await response.text()}`);
    tokens[i] = ((await response.json()) as { token: string }).token;
  });
  return tokens;
}

export type ApnsStats = { sessions: number; sessionsOpened: number; providerTokensSeen: number; tokenChanges: number };

export async function apnsStats(sandbox: Sandbox): Promise<ApnsStats> {
  return (await (await fetch(`${sandbox.httpUrl}/_sandbox/apns/stats`)).json()) as ApnsStats;
}

export async function clearApnsArrivals(sandbox: Sandbox): Promise<void> {
  await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=apns`, { method: "DELETE" });
}

/** Everything the sandbox APNs answered since the last clear (answered requests only: see sandbox/apns.ts). */
export async function apnsArrivals(sandbox: Sandbox): Promise<Array<Received<"apns">>> {
  return (await (await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=apns`)).json()) as Array<Received<"apns">>;
}

export type BridgeLog = {
  startedAt: number;
  /** First request sent to last answer read. */
  seconds: number;
  /** HTTP answers by status, the first body of each non-200 status, and transport errors. */
  statuses: Record<string, number>;
  failures: Record<string, string>;
  /** Item results by kind (and by reason for the others), and the first non-accepted result as it was. */
  kinds: Record<string, number>;
  firstNotAccepted: unknown;
  /** Item id → its token (APNs) or recipient (SMTP), for every item sent; and the ids the bridge answered `accepted`. */
  items: Map<string, string>;
  accepted: Set<string>;
};

/**
 * N notifications through the bridge in signed batches of `batch` items, `inFlight` batches at
 * a time. Bodies and signatures are made before the clock starts (the edge's signing cost is
 * not the bridge's); the bridge verifies each one as in production.
 */
export async function sendThroughBridge(
  bridgeUrl: string,
  secret: string,
  tokens: string[],
  batch: number,
  inFlight: number,
): Promise<BridgeLog> {
  const items = new Map<string, string>();
  const requests: Array<{ body: string; headers: Record<string, string> }> = [];
  const key = await doorSecret(secret, BRIDGE_APNS_PATH);
  for (let start = 0; start < tokens.length; start += batch) {
    const batchItems: ApnsBatch["items"] = tokens.slice(start, start + batch).map((token) => {
      const id = randomUUID();
      items.set(id, token);
      return { id, token, topic: APNS_TOPIC, pushType: "alert", priority: 10, payload: APNS_PAYLOAD };
    });
    const body = JSON.stringify({ items: batchItems });
    requests.push({ body, headers: { "content-type": "application/json", ...(await signedHeaders(key, body)) } });
  }
  return postBridgeBatches(`${bridgeUrl}${BRIDGE_APNS_PATH}`, requests, items, inFlight);
}

/**
 * Posts pre-signed batch requests to a bridge endpoint, `inFlight` at a time, and reads the
 * item results (`batchResults`): the APNs and the SMTP benchmarks share it. `items` maps each
 * item id to what the caller needs to match arrivals (a device token, a recipient).
 */
export async function postBridgeBatches(
  url: string,
  requests: Array<{ body: string; headers: Record<string, string> }>,
  items: Map<string, string>,
  inFlight: number,
): Promise<BridgeLog> {
  const log: BridgeLog = {
    startedAt: Date.now(),
    seconds: 0,
    statuses: {},
    failures: {},
    kinds: {},
    firstNotAccepted: null,
    items,
    accepted: new Set(),
  };
  const count = (record: Record<string, number>, key: string) => (record[key] = (record[key] ?? 0) + 1);
  const started = performance.now();
  await forEachConcurrent(requests.length, inFlight, async (i) => {
    const { body, headers } = requests[i]!;
    let response: Response;
    try {
      response = await fetch(url, { method: "POST", headers, body, signal: AbortSignal.timeout(60_000) });
    } catch (error) {
      count(log.statuses, "error");
      log.failures.error ??= String(error);
      return;
    }
    count(log.statuses, String(response.status));
    const text = await response.text();
    if (response.status !== 200) {
      log.failures[String(response.status)] ??= text.slice(0, 300);
      return;
    }
    const parsed = batchResults.safeParse(JSON.parse(text));
    if (!parsed.success) {
      log.failures["200 (not batchResults)"] ??= text.slice(0, 300);
      return;
    }
    for (const result of parsed.data.results) {
      if (result.kind === "accepted") {
        count(log.kinds, "accepted");
        log.accepted.add(result.id);
      } else {
        count(log.kinds, `${result.kind} ${String(result.detail.apnsReason ?? result.detail.reason ?? "")}`.trim());
        log.firstNotAccepted ??= result;
      }
    }
  });
  log.seconds = (performance.now() - started) / 1000;
  return log;
}

/**
 * Arrivals against what the sender was told, keyed by `key` (apns-id or device token): how
 * many accepted keys arrived exactly once, never, or more than once; how many not-accepted
 * keys arrived anyway; and arrivals that match nothing sent.
 */
export function matchArrivals(
  arrivals: Array<Received<"apns">>,
  key: (r: Received<"apns">) => string | null,
  sentKeys: Set<string>,
  acceptedKeys: Set<string>,
): {
  arrivedOnce: number;
  missing: string[];
  repeated: string[];
  notAcceptedArrived: string[];
  unknown: number;
  statuses: Record<string, number>;
  span: { first: number; last: number } | null;
} {
  const seen = new Map<string, number>();
  const statuses: Record<string, number> = {};
  let unknown = 0;
  let first = Infinity;
  let last = -Infinity;
  for (const r of arrivals) {
    const status = `${r.status} ${r.outcome}`;
    statuses[status] = (statuses[status] ?? 0) + 1;
    const k = key(r);
    if (k === null || !sentKeys.has(k)) {
      unknown++;
      continue;
    }
    seen.set(k, (seen.get(k) ?? 0) + 1);
    const at = Date.parse(r.at);
    first = Math.min(first, at);
    last = Math.max(last, at);
  }
  const accepted = [...acceptedKeys];
  return {
    arrivedOnce: accepted.filter((k) => seen.get(k) === 1).length,
    missing: accepted.filter((k) => !seen.has(k)),
    repeated: [...seen].filter(([, n]) => n > 1).map(([k]) => k),
    notAcceptedArrived: [...seen.keys()].filter((k) => !acceptedKeys.has(k)),
    unknown,
    statuses,
    span: Number.isFinite(first) ? { first, last } : null,
  };
}
