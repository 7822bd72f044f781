import { createHmac, randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  BRIDGE_APNS_PATH,
  BRIDGE_SMPP_PATH,
  BRIDGE_SMTP_PATH,
  EDGE_EMAIL_INBOUND_PATH,
  EDGE_EVENTS_PATH,
  EDGE_SMS_INBOUND_PATH,
} from "../../src/core/bridge.ts";
import {
  DOOR_LABEL,
  TOLERANCE_SECONDS,
  doorSecret,
  sign,
  signedHeaders,
  verify,
  webhookHeaders,
  type WebhookHeaders,
} from "../../src/core/standard-webhooks.ts";

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
    [
      "several signatures, only the second valid",
      { ...good, "webhook-signature": `${wrongSig} ${good["webhook-signature"]}` },
      payload,
      nowMs,
    ],
    [
      "a v2 entry before a valid v1",
      { ...good, "webhook-signature": `v2,${good["webhook-signature"].slice(3)} ${good["webhook-signature"]}` },
      payload,
      nowMs,
    ],
    ["300 s old (edge of tolerance)", good, payload, nowMs + 300_000],
    ["300 s in the future (edge of tolerance)", good, payload, nowMs - 300_000],
    [
      "URL-safe base64 of the same MAC",
      { ...good, "webhook-signature": good["webhook-signature"].replace(/\+/g, "-").replace(/\//g, "_") },
      payload,
      nowMs,
    ],
  ])("ok: %s", async (_, headers, body, now) => {
    expect(await verify(secret, headers, body, now)).toEqual({ ok: true });
  });

  it.each<[string, Partial<WebhookHeaders>, string, number, string]>([
    ["tampered body", good, payload.replace("delivered", "bounced"), nowMs, "no signature matches"],
    ["body with a trailing newline", good, `${payload}\n`, nowMs, "no signature matches"],
    ["tampered id", { ...good, "webhook-id": "msg_other" }, payload, nowMs, "no signature matches"],
    ["tampered timestamp", { ...good, "webhook-timestamp": String(timestamp + 1) }, payload, nowMs, "no signature matches"],
    ["signed with another secret", { ...good, "webhook-signature": wrongSig }, payload, nowMs, "no signature matches"],
    ["301 s old", good, payload, nowMs + 301_000, "webhook-timestamp is outside the 5-minute tolerance"],
    ["301 s in the future", good, payload, nowMs - 301_000, "webhook-timestamp is outside the 5-minute tolerance"],
    [
      "non-numeric timestamp",
      { ...good, "webhook-timestamp": "2025-01-01T00:00:00Z" },
      payload,
      nowMs,
      "webhook-timestamp is not a Unix timestamp",
    ],
    ["negative timestamp", { ...good, "webhook-timestamp": "-1" }, payload, nowMs, "webhook-timestamp is not a Unix timestamp"],
    [
      "missing webhook-id",
      { ...good, "webhook-id": undefined },
      payload,
      nowMs,
      "missing webhook-id, webhook-timestamp or webhook-signature",
    ],
    [
      "missing webhook-timestamp",
      { ...good, "webhook-timestamp": undefined },
      payload,
      nowMs,
      "missing webhook-id, webhook-timestamp or webhook-signature",
    ],
    [
      "missing webhook-signature",
      { ...good, "webhook-signature": undefined },
      payload,
      nowMs,
      "missing webhook-id, webhook-timestamp or webhook-signature",
    ],
    [
      "empty webhook-signature",
      { ...good, "webhook-signature": "" },
      payload,
      nowMs,
      "missing webhook-id, webhook-timestamp or webhook-signature",
    ],
    ["no headers", {}, payload, nowMs, "missing webhook-id, webhook-timestamp or webhook-signature"],
    [
      "only a v2 entry",
      { ...good, "webhook-signature": `v2,${good["webhook-signature"].slice(3)}` },
      payload,
      nowMs,
      "no signature matches",
    ],
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
    expect(() => new Webhook(secret).verify(`${payload} `, fresh)).toThrow("No matching signature found");
    expect(await verify(secret, fresh, `${payload} `, ts * 1000)).toEqual({ ok: false, reason: "no signature matches" });
  });

  it("tolerance is 5 minutes", () => {
    expect(TOLERANCE_SECONDS).toBe(300);
  });
});

describe("webhookHeaders", () => {
  const signed = referenceHeaders();

  it("reads the three headers from a Fetch Headers, whatever their case on the wire", async () => {
    const headers = new Headers({
      "Webhook-Id": signed["webhook-id"],
      "WEBHOOK-TIMESTAMP": signed["webhook-timestamp"],
      "webhook-signature": signed["webhook-signature"],
      "content-type": "application/json",
    });
    expect(webhookHeaders(headers)).toEqual(signed);
    expect(await verify(secret, webhookHeaders(headers), payload, nowMs)).toEqual({ ok: true });
  });

  it("reads them through a getter (Node's req.headers), taking the first of a repeated header", () => {
    const node: Record<string, string | string[] | undefined> = { ...signed, "webhook-id": [signed["webhook-id"], "msg_second"] };
    expect(webhookHeaders((name) => node[name])).toEqual(signed);
  });

  it("absent headers are undefined (null from Headers too), so verify names them missing", async () => {
    expect(webhookHeaders(new Headers())).toEqual({
      "webhook-id": undefined,
      "webhook-timestamp": undefined,
      "webhook-signature": undefined,
    });
    expect(webhookHeaders(() => null)).toEqual({ "webhook-id": undefined, "webhook-timestamp": undefined, "webhook-signature": undefined });
    expect(await verify(secret, webhookHeaders(new Headers({ "webhook-id": "x" })), payload, nowMs)).toEqual({
      ok: false,
      reason: "missing webhook-id, webhook-timestamp or webhook-signature",
    });
  });
});

describe("doorSecret: one key per door", () => {
  const doors = [EDGE_EVENTS_PATH, EDGE_EMAIL_INBOUND_PATH, EDGE_SMS_INBOUND_PATH, BRIDGE_APNS_PATH, BRIDGE_SMTP_PATH, BRIDGE_SMPP_PATH];
  /** The construction, written again with node:crypto: whsec_ + base64(HMAC-SHA256(secret's key bytes, "lasthop door:" + door)). */
  const reference = (platform: string, door: string) =>
    `whsec_${createHmac("sha256", Buffer.from(platform.replace(/^whsec_/, ""), "base64"))
      .update(`lasthop door:${door}`)
      .digest("base64")}`;

  it("the label is fixed: changing it changes every key", () => {
    expect(DOOR_LABEL).toBe("lasthop door:");
  });

  // Known answers for the published dev secret (.dev.vars.example, sandbox/stack.ts), so the
  // construction cannot drift unnoticed and the README's one-liner can be checked against them.
  const DEV_BRIDGE_SECRET = "whsec_bGFzdGhvcC1kZXYtc2VjcmV0LTAwMDAwMDAw";
  it.each([
    [EDGE_EVENTS_PATH, "whsec_a5akyYnA/AGnswUqaORYQFkVlv5WeQRdz/sZuj5X/HA="],
    [EDGE_EMAIL_INBOUND_PATH, "whsec_mjR85EcmcO6mvghuRzO63Dhd7PMtt7FDattG79j7y8E="],
    [EDGE_SMS_INBOUND_PATH, "whsec_3x+n2ax8bPbr+bpJM896Si4k1l70dwk+LTixbAtCw6A="],
    [BRIDGE_APNS_PATH, "whsec_f4LezYItbGwdPqGg1IBAEHZc4/p8b7HBI1Bl47rZM44="],
    [BRIDGE_SMTP_PATH, "whsec_Y3802RMfcTy3fbnWxDPE0BmKkvdd4WogT2RqbYP9O30="],
    [BRIDGE_SMPP_PATH, "whsec_MFNelJcRLvqcpespzujqJx6Qr0GDaTx1R2dGtPs4n2o="],
  ])("dev secret, %s → %s", async (door, key) => {
    expect(await doorSecret(DEV_BRIDGE_SECRET, door)).toBe(key);
    expect(reference(DEV_BRIDGE_SECRET, door)).toBe(key);
  });

  it.each(doors)("%s: matches node:crypto for a random secret, with or without the whsec_ prefix", async (door) => {
    expect(await doorSecret(secret, door)).toBe(reference(secret, door));
    expect(await doorSecret(secret.slice("whsec_".length), door)).toBe(reference(secret, door));
  });

  it("every door has its own key, none is the platform secret, and another secret gives other keys", async () => {
    const keys = await Promise.all(doors.map((door) => doorSecret(secret, door)));
    const others = await Promise.all(doors.map((door) => doorSecret(otherSecret, door)));
    expect(new Set([...keys, ...others, secret, otherSecret]).size).toBe(doors.length * 2 + 2);
    for (const key of keys) expect(key).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  });

  it("the door is taken exactly: a trailing slash, another case or no door at all is another key", async () => {
    const key = await doorSecret(secret, EDGE_EVENTS_PATH);
    for (const near of [`${EDGE_EVENTS_PATH}/`, EDGE_EVENTS_PATH.toUpperCase(), "/v1/webhooks/bridge?x=1", ""]) {
      expect(await doorSecret(secret, near)).not.toBe(key);
    }
  });

  describe("a body signed for one door verifies at that door only", () => {
    const pairs = doors.flatMap((signedFor) => doors.map((checkedAt) => [signedFor, checkedAt] as const));
    it.each(pairs)("signed for %s, checked at %s", async (signedFor, checkedAt) => {
      const headers = await signedHeaders(await doorSecret(secret, signedFor), payload, nowMs);
      const verdict = await verify(await doorSecret(secret, checkedAt), headers, payload, nowMs);
      expect(verdict).toEqual(signedFor === checkedAt ? { ok: true } : { ok: false, reason: "no signature matches" });
    });

    it.each(doors)("signed with the platform secret itself: refused at %s", async (door) => {
      const headers = await signedHeaders(secret, payload, nowMs);
      expect(await verify(await doorSecret(secret, door), headers, payload, nowMs)).toEqual({ ok: false, reason: "no signature matches" });
    });
  });

  it("a door key is an ordinary Standard Webhooks secret: the reference signs and verifies with it", async () => {
    const key = await doorSecret(secret, EDGE_EVENTS_PATH);
    expect(await verify(key, referenceHeaders(payload, msgId, timestamp, key), payload, nowMs)).toEqual({ ok: true });
    const ours = await signedHeaders(key, payload);
    expect(new Webhook(key).verify(payload, ours)).toEqual(JSON.parse(payload));
  });
});
