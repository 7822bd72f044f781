// The bridge's HTTP API: Standard Webhooks authentication before anything is parsed or sent,
// with one key per door, body limits, schema errors with paths, /healthz and /metrics.
// Signatures are made with the shared src/core module and, for one request, with the
// `standardwebhooks` package given the door's key.
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { MAX_BODY_BYTES } from "../../bridge/src/server.ts";
import {
  BRIDGE_APNS_PATH,
  BRIDGE_SMPP_PATH,
  BRIDGE_SMTP_PATH,
  EDGE_EVENTS_PATH,
  EDGE_SMS_INBOUND_PATH,
  batchResults,
} from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { item, makeApnsKey, SECRET, signedPost, startApnsFixture, testConfig, type ApnsFixture } from "./apns-fixture.ts";

const key = makeApnsKey();
let fixture: ApnsFixture;
let bridge: Bridge;
let url: string;

beforeAll(async () => {
  fixture = await startApnsFixture({ publicKey: key.publicKey });
  bridge = await startBridge(testConfig(fixture, key.pem));
  url = `${bridge.url}${BRIDGE_APNS_PATH}`;
});

afterAll(async () => {
  await bridge?.close();
  await fixture?.close();
});

beforeEach(() => fixture.reset());

const batch = () => JSON.stringify({ items: [item("a"), item("b")] });

async function errorOf(res: Response): Promise<{ code: string; message: string; details?: Array<{ path: string; message: string }> }> {
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return ((await res.json()) as { error: { code: string; message: string; details?: Array<{ path: string; message: string }> } }).error;
}

describe("authentication (before parsing, before sending)", () => {
  it("unsigned → 401", async () => {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: batch() });
    expect(res.status).toBe(401);
    expect(await errorOf(res)).toMatchObject({ code: "invalid_signature" });
  });

  it("signed with another secret → 401", async () => {
    const res = await signedPost(url, batch(), `whsec_${randomBytes(32).toString("base64")}`);
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toMatch(/no signature matches/);
  });

  it("stale: timestamp 6 minutes old → 401", async () => {
    const res = await signedPost(url, batch(), SECRET, Date.now() - 6 * 60_000);
    expect(res.status).toBe(401);
    expect((await errorOf(res)).message).toMatch(/tolerance/);
  });

  it("signature for another body → 401", async () => {
    const headers = await signedHeaders(await doorSecret(SECRET, BRIDGE_APNS_PATH), batch());
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: batch() });
    expect(res.status).toBe(401);
  });

  it("an unauthenticated body is not even parsed: garbage unsigned → 401, not 400", async () => {
    const res = await fetch(url, { method: "POST", body: "{not json" });
    expect(res.status).toBe(401);
  });

  it("nothing reached APNs from any refused request", async () => {
    await fetch(url, { method: "POST", body: batch() });
    await signedPost(url, batch(), `whsec_${randomBytes(32).toString("base64")}`);
    await signedPost(url, batch(), SECRET, Date.now() - 6 * 60_000);
    expect(fixture.received).toHaveLength(0);
  });

  it("a body signed for another door → 401: the other bridge routes, the edge's doors, the platform secret itself", async () => {
    const body = batch();
    for (const door of [BRIDGE_SMTP_PATH, BRIDGE_SMPP_PATH, EDGE_EVENTS_PATH, EDGE_SMS_INBOUND_PATH, `${BRIDGE_APNS_PATH}/`, ""]) {
      const res = await signedPost(url, body, SECRET, Date.now(), door);
      expect(res.status, door).toBe(401);
      expect((await errorOf(res)).message).toMatch(/no signature matches/);
    }
    const raw = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...(await signedHeaders(SECRET, body)) },
      body,
    });
    expect(raw.status).toBe(401);
    expect(fixture.received).toHaveLength(0);
    expect((await signedPost(url, body, SECRET, Date.now(), BRIDGE_APNS_PATH)).status).toBe(200);
  });

  it("the same holds at the SMTP and SMPP doors: an APNs-signed body is refused there before anything else", async () => {
    const body = batch();
    const headers = { "content-type": "application/json", ...(await signedHeaders(await doorSecret(SECRET, BRIDGE_APNS_PATH), body)) };
    for (const path of [BRIDGE_SMTP_PATH, BRIDGE_SMPP_PATH]) {
      const res = await fetch(`${bridge.url}${path}`, { method: "POST", headers, body });
      expect(res.status, path).toBe(401); // not 400 (not their schema) and not 503 (SMPP is off here)
      expect(await errorOf(res)).toMatchObject({ code: "invalid_signature" });
    }
  });

  it("accepts a request signed by the standardwebhooks package with the door's key (independent implementation)", async () => {
    const body = batch();
    const id = `msg_${randomBytes(8).toString("hex")}`;
    const at = new Date();
    const signature = new Webhook(await doorSecret(SECRET, BRIDGE_APNS_PATH)).sign(id, at, body);
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body,
    });
    expect(res.status).toBe(200);
    const { results } = batchResults.parse(await res.json());
    expect(results.map((r) => r.kind)).toEqual(["accepted", "accepted"]);
  });
});

describe("request validation", () => {
  it("a signed body that is not JSON → 400 invalid_json", async () => {
    const res = await signedPost(url, "{not json");
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toMatchObject({ code: "invalid_json" });
  });

  it("a signed body that breaks the schema → 400 with the issue paths; nothing sent", async () => {
    const res = await signedPost(url, { items: [item("ok"), { ...item("bad"), token: "not-hex", extra: 1 }] });
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe("validation_failed");
    expect(error.details!.map((d) => d.path)).toEqual(expect.arrayContaining(["items.1.token", "items.1"]));
    const empty = await signedPost(url, { items: [] });
    expect(empty.status).toBe(400);
    expect((await errorOf(empty)).details![0]!.path).toBe("items");
    expect(fixture.received).toHaveLength(0);
  });

  it("a signed non-JSON content type → 415", async () => {
    const body = batch();
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "text/plain", ...(await signedHeaders(await doorSecret(SECRET, BRIDGE_APNS_PATH), body)) },
      body,
    });
    expect(res.status).toBe(415);
  });

  it("a body over the limit → 413 without reading it all", async () => {
    const big = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": big.length } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on("error", reject);
      req.end(big);
    });
    expect(status).toBe(413);
    // Chunked (no content-length): cut off once the limit is crossed.
    const chunked = await fetch(url, { method: "POST", body: new Blob([big]).stream(), duplex: "half" } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it("unknown routes → 404; wrong methods → 405", async () => {
    expect((await fetch(`${bridge.url}/v1/nope`)).status).toBe(404);
    expect((await fetch(url)).status).toBe(405);
    expect((await fetch(`${bridge.url}/healthz`, { method: "POST" })).status).toBe(405);
  });
});

describe("health and metrics", () => {
  it("/healthz reports APNs and its open sessions", async () => {
    await signedPost(url, batch());
    const res = await fetch(`${bridge.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, apns: { enabled: true, sessions: { [fixture.origin]: 1 } }, smtp: { connections: {} } });
  });

  it("/metrics exposes the bridge metrics after a batch", async () => {
    const res = await signedPost(url, batch());
    expect(res.status).toBe(200);
    const metrics = await fetch(`${bridge.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await metrics.text();
    for (const line of [
      /^bridge_in_flight 0$/m,
      /^bridge_sent_total\{channel="apns"\} \d+$/m,
      /^bridge_outcomes_total\{channel="apns",kind="accepted",reason="none"\} \d+$/m,
      new RegExp(`^bridge_apns_sessions\\{origin="${fixture.origin.replace(/[.]/g, "\\.")}"\\} 1$`, "m"),
      /^bridge_request_duration_seconds_bucket\{le="0\.1",channel="apns"\} \d+$/m,
      /^bridge_apns_provider_token_refreshes_total 1$/m,
    ]) {
      expect(text).toMatch(line);
    }
  });

  it("without a key of its own: healthz says so and an item without an account credential fails as configuration", async () => {
    const plain = await startBridge(testConfig(null, ""));
    try {
      expect(await (await fetch(`${plain.url}/healthz`)).json()).toEqual({
        ok: true,
        apns: { enabled: false, sessions: {} },
        smtp: { connections: {} },
      });
      const res = await signedPost(`${plain.url}${BRIDGE_APNS_PATH}`, batch());
      expect(res.status).toBe(200);
      const { results } = (await res.json()) as { results: Array<{ kind: string; detail: { reason: string } }> };
      expect(results.map((r) => [r.kind, r.detail.reason])).toEqual(results.map(() => ["failed", "configuration"]));
      // Authentication still comes first.
      expect((await fetch(`${plain.url}${BRIDGE_APNS_PATH}`, { method: "POST", body: batch() })).status).toBe(401);
    } finally {
      await plain.close();
    }
  });
});
