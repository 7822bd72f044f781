import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { TOLERANCE_SECONDS, sign, signedHeaders, verify, webhookHeaders, type WebhookHeaders } from "../../src/core/standard-webhooks.ts";

// Made at run time: no secret, not even a test one, lives in the repo.
const secret = `whsec_${randomBytes(32).toString("base64")}`;
const otherSecret = `whsec_${randomBytes(32).toString("base64")}`;
const payload = JSON.stringify({ events: [{ id: "evt_1", type: "delivered", note: "ünïcødé ✓" }] });
const msgId = "msg_2p5tsQ8qZ1w3xUaVKt0e9vTkJcR";
const timestamp = 1_735_689_600; // 2025-01-01T00:00:00Z
const nowMs = timestamp * 1000;

/** Headers signed by the independent reference implementation. */
function referenceHeaders(body = payload, id = msgId, ts = timestamp, key = secret): WebhookHeaders {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(ts),
    "webhook-signature": new Webhook(key).sign(id, new Date(ts * 1000), body),
  };
}

describe("against the standardwebhooks reference", () => {
  it("a body signed by the reference verifies with ours", async () => {
    expect(await verify(secret, referenceHeaders(), payload, nowMs)).toEqual({ ok: true });
  });

  it("our sign() produces the reference's exact signature", async () => {
    expect(await sign(secret, msgId, timestamp, payload)).toBe(new Webhook(secret).sign(msgId, new Date(nowMs), payload));
  });

  it("headers from our signedHeaders() verify with the reference", async () => {
    const headers = await signedHeaders(secret, payload);
    expect(headers["webhook-id"]).toMatch(/^msg_[0-9a-f-]{36}$/);
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(new Webhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  it("signedHeaders() uses the injected clock for the timestamp", async () => {
    const headers = await signedHeaders(secret, payload, nowMs + 999);
    expect(headers["webhook-timestamp"]).toBe(String(timestamp));
    expect(await verify(secret, headers, payload, nowMs)).toEqual({ ok: true });
  });

  it("a secret given without the whsec_ prefix works the same", async () => {
    const bare = secret.slice("whsec_".length);
    expect(await verify(bare, referenceHeaders(), payload, nowMs)).toEqual({ ok: true });
  });
});

describe("verify", () => {
  const good = referenceHeaders();
  const wrongSig = referenceHeaders(payload, msgId, timestamp, otherSecret)["webhook-signature"];

  it.each<[string, Partial<WebhookHeaders>, string, number]>([
    ["exact timestamp", good, payload, nowMs],
    ["several signatures, only the second valid", { ...good, "webhook-signature": `${wrongSig} ${good["webhook-signature"]}` }, payload, nowMs],
    ["a v2 entry before a valid v1", { ...good, "webhook-signature": `v2,${good["webhook-signature"].slice(3)} ${good["webhook-signature"]}` }, payload, nowMs],
    ["300 s old (edge of tolerance)", good, payload, nowMs + 300_000],
    ["300 s in the future (edge of tolerance)", good, payload, nowMs - 300_000],
    ["URL-safe base64 of the same MAC", { ...good, "webhook-signature": good["webhook-signature"].replace(/\+/g, "-").replace(/\//g, "_") }, payload, nowMs],
  ])("ok: %s", async (_, headers, body, now) => {
    expect(await verify(secret, headers, body, now)).toEqual({ ok: true });
  });

  it.each<[string, Partial<WebhookHeaders>, string, number, string]>([
    ["tampered body", good, payload.replace("delivered", "bounced"), nowMs, "no signature matches"],
    ["body with a trailing newline", good, payload + "\n", nowMs, "no signature matches"],
    ["tampered id", { ...good, "webhook-id": "msg_other" }, payload, nowMs, "no signature matches"],
    ["tampered timestamp", { ...good, "webhook-timestamp": String(timestamp + 1) }, payload, nowMs, "no signature matches"],
    ["signed with another secret", { ...good, "webhook-signature": wrongSig }, payload, nowMs, "no signature matches"],
    ["301 s old", good, payload, nowMs + 301_000, "webhook-timestamp is outside the 5-minute tolerance"],
    ["301 s in the future", good, payload, nowMs - 301_000, "webhook-timestamp is outside the 5-minute tolerance"],
    ["non-numeric timestamp", { ...good, "webhook-timestamp": "2025-01-01T00:00:00Z" }, payload, nowMs, "webhook-timestamp is not a Unix timestamp"],
    ["negative timestamp", { ...good, "webhook-timestamp": "-1" }, payload, nowMs, "webhook-timestamp is not a Unix timestamp"],
    ["missing webhook-id", { ...good, "webhook-id": undefined }, payload, nowMs, "missing webhook-id, webhook-timestamp or webhook-signature"],
    ["missing webhook-timestamp", { ...good, "webhook-timestamp": undefined }, payload, nowMs, "missing webhook-id, webhook-timestamp or webhook-signature"],
    ["missing webhook-signature", { ...good, "webhook-signature": undefined }, payload, nowMs, "missing webhook-id, webhook-timestamp or webhook-signature"],
    ["empty webhook-signature", { ...good, "webhook-signature": "" }, payload, nowMs, "missing webhook-id, webhook-timestamp or webhook-signature"],
    ["no headers", {}, payload, nowMs, "missing webhook-id, webhook-timestamp or webhook-signature"],
    ["only a v2 entry", { ...good, "webhook-signature": `v2,${good["webhook-signature"].slice(3)}` }, payload, nowMs, "no signature matches"],
    ["v1 with nothing after the comma", { ...good, "webhook-signature": "v1," }, payload, nowMs, "no signature matches"],
    ["non-base64 garbage", { ...good, "webhook-signature": "v1,!!!not*base64$$$" }, payload, nowMs, "no signature matches"],
    ["bare garbage", { ...good, "webhook-signature": "garbage" }, payload, nowMs, "no signature matches"],
    ["a truncated MAC", { ...good, "webhook-signature": good["webhook-signature"].slice(0, 20) }, payload, nowMs, "no signature matches"],
  ])("not ok: %s", async (_, headers, body, now, reason) => {
    expect(await verify(secret, headers, body, now)).toEqual({ ok: false, reason });
  });

  it("the reference agrees on a tampered body signed just now", async () => {
    const ts = Math.floor(Date.now() / 1000);
    const fresh = referenceHeaders(payload, msgId, ts);
    expect(new Webhook(secret).verify(payload, fresh)).toEqual(JSON.parse(payload));
    expect(() => new Webhook(secret).verify(payload + " ", fresh)).toThrow("No matching signature found");
    expect(await verify(secret, fresh, payload + " ", ts * 1000)).toEqual({ ok: false, reason: "no signature matches" });
  });

  it("tolerance is 5 minutes", () => {
    expect(TOLERANCE_SECONDS).toBe(300);
  });
});

describe("webhookHeaders", () => {
  const signed = referenceHeaders();

  it("reads the three headers from a Fetch Headers, whatever their case on the wire", async () => {
    const headers = new Headers({ "Webhook-Id": signed["webhook-id"], "WEBHOOK-TIMESTAMP": signed["webhook-timestamp"], "webhook-signature": signed["webhook-signature"], "content-type": "application/json" });
    expect(webhookHeaders(headers)).toEqual(signed);
    expect(await verify(secret, webhookHeaders(headers), payload, nowMs)).toEqual({ ok: true });
  });

  it("reads them through a getter (Node's req.headers), taking the first of a repeated header", () => {
    const node: Record<string, string | string[] | undefined> = { ...signed, "webhook-id": [signed["webhook-id"], "msg_second"] };
    expect(webhookHeaders((name) => node[name])).toEqual(signed);
  });

  it("absent headers are undefined (null from Headers too), so verify names them missing", async () => {
    expect(webhookHeaders(new Headers())).toEqual({ "webhook-id": undefined, "webhook-timestamp": undefined, "webhook-signature": undefined });
    expect(webhookHeaders(() => null)).toEqual({ "webhook-id": undefined, "webhook-timestamp": undefined, "webhook-signature": undefined });
    expect(await verify(secret, webhookHeaders(new Headers({ "webhook-id": "x" })), payload, nowMs)).toEqual({ ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" });
  });
});
