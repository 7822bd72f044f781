/**
 * Names Object.prototype answers to, wherever a request names an account, route, key or
 * provider: each finds nothing (401/404/400/422 as the route says), never a 500.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { twilioSignature } from "../../src/core/sms/twilio.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { dsn } from "../dsn-fixture.ts";
import { TEST_TWILIO } from "../fixtures.ts";
import { BASE, api, send } from "./helpers.ts";

const KEYS = ["__proto__", "constructor", "toString", "hasOwnProperty"];

/** A status callback or MO signed with the real test REST token, for whatever URL it names. */
async function twilioPost(query: string, params: Record<string, string>) {
  const url = `${BASE}/v1/webhooks/twilio?${query}`;
  const entries = Object.entries(params);
  return SELF.fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": await twilioSignature(TEST_TWILIO.authToken, url, entries),
    },
    body: new URLSearchParams(entries).toString(),
  });
}

const errorCode = async (res: Response) => ((await res.json()) as any).error.code;

/** A signed bridge call to the inbound routes. */
async function postSigned(path: string, payload: unknown) {
  const body = JSON.stringify(payload);
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { ...(await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, path), body)), "content-type": "application/json" },
    body,
  });
}

describe.each(KEYS)("%s", (key) => {
  const k = encodeURIComponent(key);

  it("as the Twilio webhook's account or route: 401 invalid_signature, even signed with a real route's token", async () => {
    const message = crypto.randomUUID();
    for (const query of [
      `account=${k}&route=rest&message=${message}`,
      `account=${k}&route=rest`,
      `account=acct-a&route=${k}&message=${message}`,
      `account=${k}&route=${k}`,
      `${k}=acct-a&account=${k}&route=rest`,
    ]) {
      const status = await twilioPost(query, { MessageSid: "SMproto", MessageStatus: "delivered" });
      expect(status.status, query).toBe(401);
      expect(await errorCode(status)).toBe("invalid_signature");
      const mo = await twilioPost(query, { MessageSid: "SMproto", From: "+14155550100", To: "+15005550006", Body: "STOP" });
      expect(mo.status, query).toBe(401);
    }
  });

  it("as an API key: 401 unauthorized", async () => {
    const res = await api("/v1/stats", { key: key });
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe("unauthorized");
  });

  it("as a webhook provider, a message id or a suppression channel: 404 not_found", async () => {
    const webhook = await SELF.fetch(`${BASE}/v1/webhooks/${k}`, { method: "POST", body: "{}" });
    expect(webhook.status).toBe(404);
    expect(await errorCode(webhook)).toBe("not_found");
    for (const path of [`/v1/messages/${k}`, `/v1/suppressions/${k}/someone%40example.com`]) {
      const res = await api(path);
      expect(res.status, path).toBe(404);
      expect(await errorCode(res)).toBe("not_found");
    }
  });

  it("as a stats channel or an SMS route: 400 validation_failed", async () => {
    const stats = await api(`/v1/stats?channel=${k}`);
    expect(stats.status).toBe(400);
    const sms = await send({ channel: "sms", to: "+14155550100", from: "+15005550006", body: "hi", route: key });
    expect(sms.status).toBe(400);
    expect(sms.body.error.details.map((d: any) => d.path)).toContain("route");
  });

  it("as an SMS sender id: 422 sender_not_allowed when it is a well-formed one, 400 otherwise", async () => {
    const res = await send({ channel: "sms", to: "+14155550100", from: key, body: "hi" });
    if (/^[A-Za-z0-9 ]{1,11}$/.test(key)) {
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("sender_not_allowed");
    } else {
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: any) => d.path)).toContain("from");
    }
  });

  it("as the bounce domain of inbound mail, or the route and number of a deliver_sm: 422 not_ours", async () => {
    const id = crypto.randomUUID();
    const mail = await postSigned("/v1/inbound/email", { to: `bounce+${id}@${key}`, from: "", raw: btoa(dsn(id, "x@example.org")) });
    expect(mail.status).toBe(422);
    expect(await errorCode(mail)).toBe("not_ours");
    const mo = { kind: "mo", route: key, from: "+14155550100", to: key, body: "STOP", receivedAt: new Date().toISOString() };
    const sms = await postSigned("/v1/inbound/sms", mo);
    expect(sms.status).toBe(422);
    expect(await errorCode(sms)).toBe("not_ours");
  });
});
