import { randomBytes } from "node:crypto";
import { Webhook } from "svix";
import { describe, expect, it } from "vitest";
import { verify } from "../../src/webhooks/resend.ts";

// Secrets are made at run time, in the `whsec_<base64>` form Resend hands out.
const secret = () => `whsec_${randomBytes(24).toString("base64")}`;
const SECRET = secret();
const OTHER_SECRET = secret();

const NOW = Date.now();
const BODY = JSON.stringify({
  type: "email.delivered",
  created_at: new Date(NOW).toISOString(),
  data: { email_id: "4ef9a417", to: ["ü@exämple.com"] },
});
const ID = `msg_${randomBytes(12).toString("hex")}`;

/** Svix's own signature: `v1,<base64>`. */
const svixSign = (body: string, at = NOW, key = SECRET, id = ID) => new Webhook(key).sign(id, new Date(at), body);
const seconds = (at: number) => String(Math.floor(at / 1000));

const headers = (entries: Partial<Record<"svix-id" | "svix-timestamp" | "svix-signature", string>>) => new Headers(entries);
const signed = (signature: string, at = NOW, id = ID) =>
  headers({ "svix-id": id, "svix-timestamp": seconds(at), "svix-signature": signature });

describe("Resend (Svix) webhook signatures", () => {
  const stale = NOW - 301_000;
  const ahead = NOW + 301_000;
  it.each([
    { name: "valid", h: signed(svixSign(BODY)), body: BODY, key: SECRET, result: { ok: true } },
    { name: "valid, empty body", h: signed(svixSign("")), body: "", key: SECRET, result: { ok: true } },
    {
      name: "one of several signatures matches",
      h: signed(`${svixSign(BODY, NOW, OTHER_SECRET)} ${svixSign(BODY)}`),
      body: BODY,
      key: SECRET,
      result: { ok: true },
    },
    {
      name: "an unknown version next to a match",
      h: signed(`v2,${randomBytes(32).toString("base64")} ${svixSign(BODY)}`),
      body: BODY,
      key: SECRET,
      result: { ok: true },
    },
    { name: "tampered body", h: signed(svixSign(BODY)), body: `${BODY} `, key: SECRET, result: { ok: false, reason: "bad_signature" } },
    { name: "wrong secret", h: signed(svixSign(BODY)), body: BODY, key: OTHER_SECRET, result: { ok: false, reason: "bad_signature" } },
    {
      name: "several signatures, none matches",
      h: signed(`${svixSign(BODY, NOW, OTHER_SECRET)} ${svixSign(`${BODY}x`)}`),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "bad_signature" },
    },
    {
      name: "another message's id",
      h: signed(svixSign(BODY), NOW, `${ID}x`),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "bad_signature" },
    },
    { name: "signature not base64", h: signed("v1,!!!"), body: BODY, key: SECRET, result: { ok: false, reason: "bad_signature" } },
    {
      name: "stale timestamp",
      h: signed(svixSign(BODY, stale), stale),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "stale_timestamp" },
    },
    {
      name: "future timestamp",
      h: signed(svixSign(BODY, ahead), ahead),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "stale_timestamp" },
    },
    {
      name: "timestamp not a number",
      h: headers({ "svix-id": ID, "svix-timestamp": "soon", "svix-signature": svixSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "malformed_timestamp" },
    },
    {
      name: "no svix-id",
      h: headers({ "svix-timestamp": seconds(NOW), "svix-signature": svixSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_id" },
    },
    {
      name: "no svix-timestamp",
      h: headers({ "svix-id": ID, "svix-signature": svixSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_timestamp" },
    },
    {
      name: "no svix-signature",
      h: headers({ "svix-id": ID, "svix-timestamp": seconds(NOW) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_signature" },
    },
    {
      name: "Standard Webhooks names instead of svix-",
      h: new Headers({ "webhook-id": ID, "webhook-timestamp": seconds(NOW), "webhook-signature": svixSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_id" },
    },
    { name: "secret not base64", h: signed(svixSign(BODY)), body: BODY, key: "whsec_!!!", result: { ok: false, reason: "bad_key" } },
    { name: "secret empty", h: signed(svixSign(BODY)), body: BODY, key: "whsec_", result: { ok: false, reason: "bad_key" } },
  ])("$name", async ({ h, body, key, result }) => {
    expect(await verify({ headers: h, rawBody: body, secret: key, now: NOW })).toEqual(result);
  });

  it("agrees with svix's own verify on a valid and a tampered request", async () => {
    const signature = svixSign(BODY);
    const asRecord = { "svix-id": ID, "svix-timestamp": seconds(NOW), "svix-signature": signature };
    expect(() => new Webhook(SECRET).verify(BODY, asRecord)).not.toThrow();
    expect(await verify({ headers: signed(signature), rawBody: BODY, secret: SECRET })).toEqual({ ok: true });
    expect(() => new Webhook(SECRET).verify(`${BODY} `, asRecord)).toThrow();
    expect(await verify({ headers: signed(signature), rawBody: `${BODY} `, secret: SECRET })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
  });
});
