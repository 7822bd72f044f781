import { createHmac, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { REPLAY_TTL_SECONDS, replayKey, verify, mailgunSignature } from "../../src/webhooks/mailgun.ts";

// Mailgun's documented example ("Securing Webhooks"): its token and timestamp, signed with our key.
const EXAMPLE = { token: "e0b5477167110d68991efc6b9f89f0a11066af27834600e123", timestamp: "1770920772" };
const NOW = Number(EXAMPLE.timestamp) * 1000;
const KEY = randomBytes(24).toString("hex");

/** As Mailgun documents it: hex HMAC-SHA256(signing key, timestamp + token). */
const sign = (key: string, timestamp: string | number, token: string) =>
  createHmac("sha256", key).update(`${timestamp}${token}`).digest("hex");

function body(signature: Record<string, unknown>) {
  return { signature, "event-data": { event: "delivered", id: "CPgfbmQMTCKtHW6uIWtuVe", timestamp: 1521472262.908181 } };
}

const valid = { ...EXAMPLE, signature: sign(KEY, EXAMPLE.timestamp, EXAMPLE.token) };

describe("mailgun verify", () => {
  const cases: Array<[string, unknown, number, string | null]> = [
    ["the documented example, signed", body(valid), NOW, null],
    ["upper-case hex", body({ ...valid, signature: valid.signature.toUpperCase() }), NOW, null],
    ["timestamp as a number", body({ ...valid, timestamp: Number(EXAMPLE.timestamp) }), NOW, null],
    ["4 minutes later", body(valid), NOW + 240_000, null],
    ["4 minutes early", body(valid), NOW - 240_000, null],
    ["tampered token", body({ ...valid, token: `${EXAMPLE.token.slice(0, -1)}4` }), NOW, "bad_signature"],
    ["tampered timestamp", body({ ...valid, timestamp: String(Number(EXAMPLE.timestamp) + 1) }), NOW, "bad_signature"],
    ["wrong key", body({ ...valid, signature: sign(`${KEY}x`, EXAMPLE.timestamp, EXAMPLE.token) }), NOW, "bad_signature"],
    ["stale: 6 minutes old", body(valid), NOW + 360_000, "stale_timestamp"],
    ["future: 6 minutes ahead", body(valid), NOW - 360_000, "stale_timestamp"],
    ["no signature object", { "event-data": {} }, NOW, "malformed_signature"],
    ["not an object", "signature", NOW, "malformed_signature"],
    ["null body", null, NOW, "malformed_signature"],
    ["signature not hex", body({ ...valid, signature: "z".repeat(64) }), NOW, "malformed_signature"],
    ["signature truncated", body({ ...valid, signature: valid.signature.slice(0, 63) }), NOW, "malformed_signature"],
    ["missing token", body({ timestamp: valid.timestamp, signature: valid.signature }), NOW, "malformed_signature"],
    ["empty token", body({ ...valid, token: "" }), NOW, "malformed_signature"],
    ["timestamp not digits", body({ ...valid, timestamp: "1770920772.5" }), NOW, "malformed_signature"],
    ["timestamp negative", body({ ...valid, timestamp: -1 }), NOW, "malformed_signature"],
  ];

  it.each(cases)("%s", async (_name, input, now, reason) => {
    expect(await verify(input, KEY, now)).toEqual(reason === null ? { ok: true } : { ok: false, reason });
  });

  it("signs with a fresh timestamp and token too", async () => {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const token = randomBytes(25).toString("hex");
    expect(await verify(body({ timestamp, token, signature: sign(KEY, timestamp, token) }), KEY)).toEqual({ ok: true });
  });
});

describe("mailgun replayKey", () => {
  it("is the token, the same for a replayed body, different for another delivery", () => {
    const parsed = mailgunSignature.parse(valid);
    expect(replayKey(parsed)).toBe(`mailgun:${EXAMPLE.token}`);
    expect(replayKey(mailgunSignature.parse({ ...valid }))).toBe(replayKey(parsed));
    expect(replayKey(mailgunSignature.parse({ ...valid, token: "other" }))).not.toBe(replayKey(parsed));
    expect(REPLAY_TTL_SECONDS).toBe(600);
  });
});
