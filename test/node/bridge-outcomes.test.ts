// What APNs answers, as the bridge reports it to the edge: every mapping goes through the real
// path (signed batch → pool → fixture → apnsOutcome → response), and the request the fixture
// received is checked against Apple's documented headers.
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { BRIDGE_APNS_PATH, batchResults } from "../../src/core/bridge.ts";
import { deviceToken, item, makeApnsKey, signedPost, startApnsFixture, testConfig, type ApnsFixture } from "./apns-fixture.ts";

const key = makeApnsKey();
let fixture: ApnsFixture;
let sandboxFixture: ApnsFixture;
let bridge: Bridge;

beforeAll(async () => {
  fixture = await startApnsFixture({ publicKey: key.publicKey });
  sandboxFixture = await startApnsFixture({ publicKey: key.publicKey });
  // Both fixtures share nothing but their role; each has its own self-signed certificate, so
  // the bridge trusts the production one through `ca` and the sandbox one the same way.
  const config = testConfig(fixture, key.pem, { sandboxOrigin: sandboxFixture.origin, ca: `${fixture.caPem}${sandboxFixture.caPem}` });
  bridge = await startBridge(config);
});

afterAll(async () => {
  await bridge?.close();
  await fixture?.close();
  await sandboxFixture?.close();
});

beforeEach(() => {
  fixture.reset();
  sandboxFixture.reset();
});

async function send(items: Array<Record<string, unknown>>, target = bridge) {
  const res = await signedPost(`${target.url}${BRIDGE_APNS_PATH}`, { items });
  expect(res.status).toBe(200);
  return batchResults.parse(await res.json()).results;
}

describe("APNs outcomes", () => {
  it("200 is accepted (custody, not delivery) with apns-id as the provider message id", async () => {
    const one = item("ok");
    const [result] = await send([one]);
    expect(result).toEqual({ id: one.id, kind: "accepted", detail: { status: 200, providerMessageId: one.id } });
  });

  it("sends Apple's request: path, apns-* headers, bearer provider token, JSON payload", async () => {
    const one = item("headers", {
      pushType: "background",
      expiration: 1_900_000_000,
      collapseId: "c-1",
      payload: { aps: { "content-available": 1 }, k: "v" },
    });
    await send([one]);
    expect(fixture.received).toHaveLength(1);
    const got = fixture.received[0]!;
    expect(got.headers[":method"]).toBe("POST");
    expect(got.headers[":path"]).toBe(`/3/device/${deviceToken("headers")}`);
    expect(got.headers).toMatchObject({
      "apns-id": one.id,
      "apns-topic": "dev.lasthop.app",
      "apns-push-type": "background",
      "apns-priority": "5",
      "apns-expiration": "1900000000",
      "apns-collapse-id": "c-1",
    });
    expect(got.headers.authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.parse(got.body)).toEqual({ aps: { "content-available": 1 }, k: "v" });
  });

  it("sandbox: true goes to the sandbox origin", async () => {
    const one = item("dev-device", { sandbox: true });
    const [result] = await send([one]);
    expect(result!.kind).toBe("accepted");
    expect(sandboxFixture.received.map((r) => r.apnsId)).toEqual([one.id]);
    expect(fixture.received).toHaveLength(0);
  });

  it("410 Unregistered is a hard bounce (token_invalid) with the time APNs last saw the token", async () => {
    const at = Date.UTC(2026, 10, 1, 12, 0, 0);
    fixture.behaviors.set(deviceToken("gone"), { status: 410, reason: "Unregistered", timestamp: at });
    const [result] = await send([item("gone")]);
    expect(result).toMatchObject({
      kind: "bounced",
      detail: {
        status: 410,
        apnsReason: "Unregistered",
        class: "hard",
        reason: "token_invalid",
        unregisteredAt: new Date(at).toISOString(),
      },
    });
  });

  it("400 BadDeviceToken bounces; 400 BadTopic fails", async () => {
    fixture.behaviors.set(deviceToken("bad-token"), { status: 400, reason: "BadDeviceToken" });
    fixture.behaviors.set(deviceToken("bad-topic"), { status: 400, reason: "BadTopic" });
    const [bad, topic] = await send([item("bad-token"), item("bad-topic")]);
    expect(bad).toMatchObject({ kind: "bounced", detail: { status: 400, apnsReason: "BadDeviceToken", reason: "token_invalid" } });
    expect(topic).toMatchObject({ kind: "failed", detail: { status: 400, apnsReason: "BadTopic", reason: "rejected" } });
  });

  it("429 and 5xx are retry, with APNs' Retry-After", async () => {
    fixture.behaviors.set(deviceToken("busy"), { status: 429, reason: "TooManyRequests", retryAfter: "30" });
    fixture.behaviors.set(deviceToken("down"), { status: 503, reason: "ServiceUnavailable" });
    const [busy, down] = await send([item("busy"), item("down")]);
    expect(busy).toMatchObject({ kind: "retry", retryAfter: 30, detail: { status: 429, reason: "rate_limited" } });
    expect(down).toMatchObject({ kind: "retry", detail: { status: 503, reason: "server_error" } });
    expect(down).not.toHaveProperty("retryAfter");
  });

  it("403 InvalidProviderToken fails as configuration, once, and says so loudly in the log", async () => {
    const lines: string[] = [];
    const log = pino(
      { level: "error" },
      new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const wrongKey = makeApnsKey(); // signs tokens the fixture cannot verify
    const misconfigured = await startBridge(testConfig(fixture, wrongKey.pem), { log });
    try {
      const [result] = await send([item("whoever")], misconfigured);
      expect(result).toMatchObject({
        kind: "failed",
        detail: { status: 403, apnsReason: "InvalidProviderToken", reason: "configuration" },
      });
      expect(fixture.received).toHaveLength(1); // no retry storm
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0]!)).toMatchObject({
        level: 50,
        msg: "APNs refused the provider token: check APNS_KEY/APNS_KEY_ID/APNS_TEAM_ID",
      });
    } finally {
      await misconfigured.close();
    }
  });

  it("a mixed batch answers every item, in item order", async () => {
    fixture.behaviors.set(deviceToken("gone"), { status: 410, reason: "Unregistered" });
    const items = Array.from({ length: 30 }, (_, i) => item(i % 3 === 0 ? "gone" : `ok-${i}`));
    const results = await send(items);
    expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id));
    expect(results.map((r) => r.kind)).toEqual(items.map((_, i) => (i % 3 === 0 ? "bounced" : "accepted")));
  });
});
