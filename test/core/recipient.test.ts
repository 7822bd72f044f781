import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { Channel } from "../../src/core/model.ts";
import { normalizeEmail, recipientKey, recipientKeyFromPath, recipientOf, redactRecipient } from "../../src/core/recipient.ts";

const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

const APNS_LOWER = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const APNS_UPPER = APNS_LOWER.toUpperCase();
const FCM_TOKEN = "dXk7Qm2:APA91bH_Ab-Cd1eFgHiJkLmNoPqRsTuVwXyZ0123456789";
const ENDPOINT = "https://fcm.googleapis.com/fcm/send/dPzJ8mXq2cs:APA91bGAbcdefXYZ123456";

describe("recipientKey", () => {
  it.each<[Channel, string, string]>([
    ["email", "  Bob.Smith@Example.COM ", "Bob.Smith@example.com"],
    ["email", "alice@example.com", "alice@example.com"],
    ["email", '"odd@local"@EXAMPLE.org', '"odd@local"@example.org'], // last @ splits
    ["email", "no-at-sign ", "no-at-sign"],
    ["sms", "+14155550100", "+14155550100"],
    ["sms", " +447700900123 ", "+447700900123"],
    ["apns", APNS_LOWER, sha256(APNS_LOWER)],
    ["apns", APNS_UPPER, sha256(APNS_LOWER)],
    ["fcm", FCM_TOKEN, sha256(FCM_TOKEN)],
    ["webpush", ENDPOINT, sha256(ENDPOINT)],
  ])("%s %j → %s", async (channel, to, expected) => {
    expect(await recipientKey(channel, to)).toBe(expected);
  });

  it("hashes an APNs token case-insensitively", async () => {
    expect(await recipientKey("apns", APNS_UPPER)).toBe(await recipientKey("apns", APNS_LOWER));
  });

  it("keeps FCM tokens case-sensitive", async () => {
    expect(await recipientKey("fcm", FCM_TOKEN)).not.toBe(await recipientKey("fcm", FCM_TOKEN.toLowerCase()));
  });

  it.each<Channel>(["apns", "fcm", "webpush"])("a %s key is 64 lower-case hex", async (channel) => {
    const to = channel === "webpush" ? ENDPOINT : channel === "apns" ? APNS_UPPER : FCM_TOKEN;
    expect(await recipientKey(channel, to)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("normalizeEmail", () => {
  it.each([
    ["Bob@Example.COM", "Bob@example.com"],
    ["  x@Y.Z\t", "x@y.z"],
    ["MiXeD.Local+Tag@Sub.Example.Net", "MiXeD.Local+Tag@sub.example.net"],
  ])("%j → %j", (input, expected) => {
    expect(normalizeEmail(input)).toBe(expected);
  });
});

describe("recipientOf", () => {
  it("returns the endpoint of a web push subscription", () => {
    const request = { channel: "webpush", to: { endpoint: ENDPOINT, keys: { p256dh: "p", auth: "a" } }, payload: "hi" } as const;
    expect(recipientOf(request as never)).toBe(ENDPOINT);
  });
  it("returns `to` as is for other channels", () => {
    expect(recipientOf({ channel: "sms", to: "+14155550100", from: "Acme", body: "hi" })).toBe("+14155550100");
  });
});

describe("redactRecipient", () => {
  it.each<[Channel, string, string]>([
    ["email", "Bob@example.com", "Bob@example.com"],
    ["sms", "+14155550100", "+14155550100"],
    ["apns", APNS_LOWER, "a1b2c3d4…"],
    ["fcm", FCM_TOKEN, "dXk7Qm2:…"],
    ["webpush", ENDPOINT, "https://fcm.googleapis.com/…123456"],
    ["webpush", "https://wns2-db5p.notify.windows.com/w/?token=BQYAAABsecret", "https://wns2-db5p.notify.windows.com/…/w/"],
    ["webpush", "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABsecretXYZ", "https://updates.push.services.mozilla.com/…retXYZ"],
  ])("%s %s → %s", (channel, to, expected) => {
    expect(redactRecipient(channel, to)).toBe(expected);
  });

  it("never shows a web push query string", () => {
    expect(redactRecipient("webpush", "https://wns2-db5p.notify.windows.com/w/?token=BQYAAABsecret")).not.toContain("secret");
  });
});

describe("recipientKeyFromPath", () => {
  const hex64 = sha256("token");
  it.each<[Channel, string, string | null]>([
    ["apns", hex64, hex64],
    ["fcm", hex64, hex64],
    ["webpush", hex64, hex64],
    ["apns", hex64.slice(0, 63), null],
    ["apns", `${hex64}0`, null],
    ["fcm", hex64.toUpperCase(), hex64], // a pasted upper-case hash is the same key
    ["webpush", "g".repeat(64), null],
    ["apns", APNS_LOWER.slice(0, 60), null],
    ["sms", "+14155550100", "+14155550100"],
    ["sms", "+1415555", "+1415555"], // 7 digits, the minimum
    ["sms", "+123456", null], // 6 digits
    ["sms", "+1234567890123456", null], // 16 digits
    ["sms", "14155550100", null],
    ["sms", "+04155550100", null],
    ["sms", "bob@example.com", null],
    ["email", "Bob@Example.COM", "Bob@example.com"],
    ["email", " bob@example.com ", "bob@example.com"],
    ["email", "bob", null],
    ["email", "bob@", null],
    ["email", "@example.com", null],
    ["email", "a@b@c", null],
    ["email", "bob smith@example.com", null],
    ["email", hex64, null],
  ])("%s %j → %j", (channel, recipient, expected) => {
    expect(recipientKeyFromPath(channel, recipient)).toBe(expected);
  });
});
