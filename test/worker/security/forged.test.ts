/**
 * Forged requests (issue 17): for every signature scheme lasthop takes, a thousand forged,
 * stale, replayed, cross-account and cross-door requests, each carrying its own would-be change
 * (a bounce for its own victim, an event with its own id). Every one must be refused by status
 * and leave no trace: no suppression, no message, no timeline entry. One correctly signed request
 * per scheme is accepted and applied (so each test can fail), and a later signed marker proves the
 * queue had drained past anything the forgeries could have enqueued. Replays of an accepted
 * request: refused where the scheme keeps replay state (Mailgun's token), else answered as the
 * original was and proven to change nothing (the event ids dedupe).
 */
import { env, SELF } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterAll, expect } from "vitest";
import { EDGE_EMAIL_INBOUND_PATH, EDGE_EVENTS_PATH, EDGE_SMS_INBOUND_PATH, BRIDGE_APNS_PATH } from "../../../src/core/bridge.ts";
import { signUnsubscribeToken } from "../../../src/core/email.ts";
import { twilioSignature } from "../../../src/core/sms/twilio.ts";
import { doorSecret, signedHeaders } from "../../../src/core/standard-webhooks.ts";
import { csrfToken, sealSession, SESSION_COOKIE, SESSION_TTL_MS } from "../../../src/dashboard/session.ts";
import { signature as vonageSignature } from "../../../src/webhooks/vonage.ts";
import { ACCOUNT_A, ACCOUNT_B, API_KEY_A, API_KEY_B } from "../../fixtures.ts";
import { waitFor } from "../../wait.ts";
import {
  adminAccount,
  api,
  BASE,
  eventsMarker,
  getMessage,
  json,
  send,
  unique,
  waitForStatus,
  webpush,
  type AdminAccount,
} from "../helpers.ts";
import { installPushService } from "../push-service.ts";
import { installSms, TEST_TWILIO } from "../sms-fake.ts";
import { installSns, mailgunSignature, SNS_CERT_URL, sendgridSigner, snsSign, whsec } from "../provider-signers.ts";
import type { SnsMessage } from "../../../src/webhooks/ses.ts";
import { flipBase64, flipHex, flipSignature, forgeries } from "./forgery.ts";

// A scheme's fakes stay for its setup, its forgeries and its check (several tests), and for the
// queue's late retries after it; they are taken down, last first, when the file is done.
const restore: Array<() => void> = [];
afterAll(() => {
  for (const r of restore.splice(0).reverse()) r();
});

const now = () => Math.floor(Date.now() / 1000);
const STALE = 10 * 60; // twice every scheme's 5-minute tolerance
const is =
  (...statuses: number[]) =>
  (res: Response) =>
    statuses.includes(res.status);
const hook = (provider: string, account: string, init: RequestInit) => SELF.fetch(`${BASE}/v1/webhooks/${provider}/${account}`, init);

async function configure(account: { key: string }, provider: string, body: unknown) {
  const res = await json(await api(`/v1/providers/${provider}`, { method: "PUT", json: body, key: account.key }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** How many of `recipients` the account has suppressed (one check call per 1,000). */
async function suppressedAmong(account: { key: string }, channel: string, recipients: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (let i = 0; i < recipients.length; i += 1000) {
    const res = await json(
      await api("/v1/suppressions/check", {
        method: "POST",
        json: { channel, recipients: recipients.slice(i, i + 1000) },
        key: account.key,
      }),
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    for (const row of res.body.data) if (row.suppressed) hits.push(row.recipient);
  }
  return hits;
}

async function waitSuppressed(account: { key: string }, channel: string, recipient: string) {
  await waitFor(
    async () => (await suppressedAmong(account, channel, [recipient])).length === 1,
    `${recipient} to be suppressed (the signed request applied)`,
  );
}

/** The account's messages, newest first: ids and each one's timeline. */
async function messagesOf(account: { key: string }) {
  const list = await json(await api("/v1/messages?limit=100", { key: account.key }));
  expect(list.status, JSON.stringify(list.body)).toBe(200);
  const out: Record<string, string[]> = {};
  for (const m of list.body.data) out[m.id] = (await getMessage(m.id, account.key)).body.events.map((e: { id: string }) => e.id);
  return out;
}

/** Victims of forgery i: one address each, never seen elsewhere. */
const victims = (prefix: string, total = 1000) => Array.from({ length: total }, (_, i) => `${prefix}-${i}@forged.example`);

forgeries("the bridge's doors (Standard Webhooks, door key derived from WEBHOOK_SECRET)", "bridge doors", async () => {
  const push = installPushService();
  restore.push(() => push.restore());
  const sent = await send(await webpush("forged-doors"));
  const target = sent.body.id as string;
  await waitForStatus(target, "accepted");
  const doors = [EDGE_EVENTS_PATH, EDGE_EMAIL_INBOUND_PATH, EDGE_SMS_INBOUND_PATH];
  const keys = Object.fromEntries(
    await Promise.all([...doors, BRIDGE_APNS_PATH].map(async (d) => [d, await doorSecret(env.WEBHOOK_SECRET, d)])),
  );
  const otherPlatform = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
  const bounce = (i: number) => ({
    events: [
      {
        id: `forged-${i}`,
        account: ACCOUNT_A,
        messageId: target,
        type: "bounced",
        occurredAt: new Date().toISOString(),
        provider: "bridge",
        detail: { class: "hard", reason: "token_invalid" },
      },
    ],
  });
  const bodies: Record<string, (i: number) => unknown> = {
    [EDGE_EVENTS_PATH]: bounce,
    [EDGE_EMAIL_INBOUND_PATH]: (i) => ({
      to: `bounce+${target}@bounces.lasthop.test`,
      from: "",
      raw: btoa(`Subject: forged ${i}\r\n\r\nx\r\n`),
    }),
    [EDGE_SMS_INBOUND_PATH]: (i) => ({
      kind: "dlr",
      route: "smsc",
      smscId: `forged-${i}`,
      stat: "UNDELIV",
      from: "+14155550100",
      to: "+15005550006",
    }),
  };
  const post = (door: string, raw: string, headers: Record<string, string>) =>
    SELF.fetch(`${BASE}${door}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: raw });
  const doorOf = (i: number) => doors[i % 3]!;
  const signed = async (door: string, i: number, key = keys[door]!, at = Date.now()) => {
    const raw = JSON.stringify(bodies[door]!(i));
    return { raw, headers: await signedHeaders(key, raw, at) };
  };

  // The one genuine request: a delivered event, signed with the events door's key by the standardwebhooks package.
  const okRaw = JSON.stringify({
    events: [
      {
        id: "genuine-delivered",
        account: ACCOUNT_A,
        messageId: target,
        type: "delivered",
        occurredAt: new Date().toISOString(),
        provider: "bridge",
        detail: {},
      },
    ],
  });
  const id = `msg_${crypto.randomUUID()}`;
  const at = new Date();
  const okHeaders = {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(keys[EDGE_EVENTS_PATH]!).sign(id, at, okRaw),
  };
  expect((await post(EDGE_EVENTS_PATH, okRaw, okHeaders)).status).toBe(202);
  const before = (await waitForStatus(target, "delivered")).events.map((e: { id: string }) => e.id);

  return {
    makers: {
      wrong_key: async (i) => {
        const door = doorOf(i);
        const { raw, headers } = await signed(door, i, await doorSecret(otherPlatform, door));
        return post(door, raw, headers);
      },
      bit_flip: async (i) => {
        const { raw, headers } = await signed(doorOf(i), i);
        return post(doorOf(i), raw, { ...headers, "webhook-signature": flipSignature(headers["webhook-signature"], i) });
      },
      body_changed: async (i) => {
        const { raw, headers } = await signed(doorOf(i), i);
        return post(doorOf(i), raw.replace(/"(UNDELIV|bounced|Subject: forged)/, '"$1x').replace("forged", "forgeD"), headers);
      },
      stale: async (i) => {
        const { raw, headers } = await signed(doorOf(i), i, keys[doorOf(i)]!, Date.now() - STALE * 1000);
        return post(doorOf(i), raw, headers);
      },
      cross_door: async (i) => {
        // Signed for one door (an edge door or the bridge's own), posted to another.
        const at = doorOf(i);
        const from = [...doors, BRIDGE_APNS_PATH].filter((d) => d !== at)[i % 3]!;
        const { raw, headers } = await signed(at, i, keys[from]!);
        return post(at, raw, headers);
      },
      // No replay state at the doors: the event ids dedupe. Answered 202, changes nothing (checked below).
      replay: () => post(EDGE_EVENTS_PATH, okRaw, okHeaders),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      await eventsMarker(target);
      const after = (await getMessage(target)).body;
      expect(after.status).toBe("delivered");
      const ids = after.events.map((e: { id: string }) => e.id);
      expect(ids.filter((x: string) => !before.includes(x))).toEqual([expect.stringMatching(/^marker-/)]);
      expect(ids.filter((x: string) => x.startsWith("forged"))).toEqual([]);
    },
  };
});

forgeries("Twilio (X-Twilio-Signature over the callback URL and the form)", "twilio", async () => {
  const fake = installSms();
  restore.push(() => fake.restore());
  const handset = `+1415${String(Date.now()).slice(-6)}1`;
  const sms = (to: string) => send({ channel: "sms", to, from: "+15005550006", body: "hi", route: "rest" });
  const [one, two] = [await sms(handset), await sms(`${handset.slice(0, -1)}2`)];
  await waitForStatus(one.body.id, "accepted");
  await waitForStatus(two.body.id, "accepted");
  const urlOf = (id: string) => fake.rest.find((c) => c.statusCallback.includes(id))!.statusCallback;
  const [url, otherUrl] = [urlOf(one.body.id), urlOf(two.body.id)];
  const crossAccount = url.replace(`account=${ACCOUNT_A}`, `account=${ACCOUNT_B}`);
  expect(crossAccount).not.toBe(url);
  const post = (to: string, params: Array<[string, string]>, signature: string) =>
    SELF.fetch(to, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
      body: new URLSearchParams(params).toString(),
    });
  const undelivered = (i: number): Array<[string, string]> => [
    ["MessageSid", `SMforged${i}`],
    ["MessageStatus", "undelivered"],
    ["ErrorCode", "30005"],
    ["AccountSid", TEST_TWILIO.accountSid],
  ];
  const good: Array<[string, string]> = [
    ["MessageSid", "SMgenuine"],
    ["MessageStatus", "delivered"],
    ["AccountSid", TEST_TWILIO.accountSid],
  ];
  const goodSignature = await twilioSignature(TEST_TWILIO.authToken, url, good);
  expect((await post(url, good, goodSignature)).status).toBe(204);
  const before = (await waitForStatus(one.body.id, "delivered")).events.map((e: { id: string }) => e.id);
  const sign = (params: Array<[string, string]>, at = url, token = TEST_TWILIO.authToken) => twilioSignature(token, at, params);

  return {
    makers: {
      wrong_key: async (i) => post(url, undelivered(i), await sign(undelivered(i), url, `forged-token-${i}`)),
      bit_flip: async (i) => post(url, undelivered(i), flipBase64(await sign(undelivered(i)), i)),
      body_changed: async (i) => {
        const signedFor = undelivered(i).map(([k, v]): [string, string] => (k === "MessageStatus" ? [k, "sent"] : [k, v]));
        return post(url, undelivered(i), await sign(signedFor));
      },
      cross_account: async (i) => post(crossAccount, undelivered(i), await sign(undelivered(i))),
      cross_door: async (i) => post(i % 2 ? url : otherUrl, undelivered(i), await sign(undelivered(i), i % 2 ? otherUrl : url)),
      replay: () => post(url, good, goodSignature),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      for (const id of [one.body.id, two.body.id]) await eventsMarker(id);
      const after = (await getMessage(one.body.id)).body;
      expect(after.status).toBe("delivered");
      expect(after.events.map((e: { id: string }) => e.id).filter((x: string) => !before.includes(x))).toEqual([
        expect.stringMatching(/^marker-/),
      ]);
      // No receipt came for it, so it expires after SMS_DLR_WAIT_SECONDS (4 s here); a forged "undelivered" would have bounced it.
      const other = (await getMessage(two.body.id)).body;
      expect(["accepted", "expired"]).toContain(other.status);
      expect(other.events.map((e: { type: string }) => e.type)).not.toContain("bounced");
      expect(await suppressedAmong({ key: API_KEY_A }, "sms", [handset])).toEqual([]);
      expect(await suppressedAmong({ key: API_KEY_B }, "sms", [handset])).toEqual([]);
    },
  };
});

/** Two fresh accounts for a provider scheme; A has sent nothing, B nothing. */
async function pair(name: string): Promise<[AdminAccount, AdminAccount]> {
  return [await adminAccount(`${name} A`), await adminAccount(`${name} B`)];
}

/**
 * After a provider barrage: no victim is suppressed in either account, and A's messages are the
 * snapshot taken after the genuine request plus only what the marker made.
 */
async function untouched(a: AdminAccount, b: AdminAccount, channel: string, hit: string[], snapshot: Record<string, string[]>) {
  expect(await suppressedAmong(a, channel, hit)).toEqual([]);
  expect(await suppressedAmong(b, channel, hit)).toEqual([]);
  const now = await messagesOf(a);
  for (const [id, events] of Object.entries(snapshot)) expect(now[id], `message ${id}'s timeline`).toEqual(events);
  expect(Object.keys(now).length).toBe(Object.keys(snapshot).length + 1); // the marker's own message
  expect(await messagesOf(b)).toEqual({});
}

forgeries("SendGrid (ECDSA P-256 over timestamp + body)", "sendgrid", async () => {
  const [a, b] = await pair("SendGrid");
  const [signerA, signerB, stranger] = [await sendgridSigner(), await sendgridSigner(), await sendgridSigner()];
  await configure(a, "sendgrid", { webhookPublicKey: signerA.publicKey });
  await configure(b, "sendgrid", { webhookPublicKey: signerB.publicKey });
  const event = (email: string, type: string) => ({
    email,
    event: type,
    timestamp: now(),
    sg_event_id: `ev-${unique()}${unique()}`,
    sg_message_id: `sg${unique()}.filter0001`,
    ...(type === "bounce" ? { type: "bounce", status: "5.1.1", reason: "550 5.1.1 user unknown" } : {}),
  });
  const hit = victims("sendgrid");
  const body = (i: number) => JSON.stringify([event(hit[i]!, "bounce")]);
  const witness = `sg-witness-${unique()}@example.com`;
  const okBody = JSON.stringify([event(witness, "bounce")]);
  const okHeaders = await signerA.headers(okBody);
  expect((await hook("sendgrid", a.id, { method: "POST", body: okBody, headers: okHeaders })).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const post = (account: string, raw: string, headers: Record<string, string>) =>
    hook("sendgrid", account, { method: "POST", body: raw, headers });
  const SIG = "x-twilio-email-event-webhook-signature";

  return {
    makers: {
      wrong_key: async (i) => post(a.id, body(i), await stranger.headers(body(i))),
      bit_flip: async (i) => {
        const headers = await signerA.headers(body(i));
        return post(a.id, body(i), { ...headers, [SIG]: flipBase64(headers[SIG]!, i) });
      },
      body_changed: async (i) => {
        const raw = body(i);
        return post(a.id, raw.replace("5.1.1", "5.1.2"), await signerA.headers(raw));
      },
      stale: async (i) => post(a.id, body(i), await signerA.headers(body(i), now() - STALE)),
      cross_account: async (i) => post(b.id, body(i), await signerA.headers(body(i))),
      replay: () => post(a.id, okBody, okHeaders),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `sg-marker-${unique()}@example.com`;
      const markerBody = JSON.stringify([event(marker, "spamreport")]);
      expect((await post(a.id, markerBody, await signerA.headers(markerBody))).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});

forgeries("Amazon SES through SNS (RSA signature, certificate from SNS's hosts)", "ses/sns", async () => {
  const sns = installSns();
  restore.push(sns.restore);
  const [a, b] = await pair("SES");
  const [topicA, topicB] = ["arn:aws:sns:us-east-1:123456789012:ses-a", "arn:aws:sns:us-east-1:123456789012:ses-b"];
  await configure(a, "ses", { topicArns: [topicA] });
  await configure(b, "ses", { topicArns: [topicB] });
  const bounce = (to: string) => ({
    eventType: "Bounce",
    bounce: {
      feedbackId: `0100-${unique()}`,
      bounceType: "Permanent",
      bounceSubType: "General",
      bouncedRecipients: [{ emailAddress: to, action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" }],
      timestamp: new Date().toISOString(),
    },
    mail: { timestamp: new Date().toISOString(), messageId: `0100-${unique()}-000000`, source: "s@example.com", destination: [to] },
  });
  const note = (to: string, topic = topicA) => ({
    Type: "Notification" as const,
    MessageId: crypto.randomUUID(),
    TopicArn: topic,
    Message: JSON.stringify(bounce(to)),
    Timestamp: new Date().toISOString(),
  });
  const headers = { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification" };
  const post = (account: string, message: unknown) => hook("ses", account, { method: "POST", body: JSON.stringify(message), headers });
  const witness = `ses-witness-${unique()}@example.com`;
  const ok = await snsSign(note(witness));
  expect((await post(a.id, ok)).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const hit = victims("ses");
  // A key of the forger's own, and a certificate URL that looks like SNS's but is not.
  const forger = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    false,
    ["sign"],
  )) as CryptoKeyPair;
  const { stringToSign } = await import("../../../src/webhooks/ses.ts");
  const forgedSign = async (message: ReturnType<typeof note>, certUrl = SNS_CERT_URL) => {
    const full = { ...message, SignatureVersion: "2", SigningCertURL: certUrl, Signature: "" } as SnsMessage;
    const raw = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", forger.privateKey, new TextEncoder().encode(stringToSign(full)));
    full.Signature = btoa(String.fromCharCode(...new Uint8Array(raw)));
    return full;
  };
  const fetchedBefore = sns.requests.length;

  return {
    makers: {
      wrong_key: async (i) => post(a.id, await forgedSign(note(hit[i]!))),
      bit_flip: async (i) => {
        const signed = await snsSign(note(hit[i]!));
        return post(a.id, { ...signed, Signature: flipBase64(signed.Signature, i) });
      },
      body_changed: async (i) =>
        post(a.id, { ...(await snsSign(note(`innocent-${i}@example.com`))), Message: JSON.stringify(bounce(hit[i]!)) }),
      // SNS signs Timestamp but sets no freshness rule; a timestamp moved after signing breaks the signature.
      stale: async (i) => {
        const signed = await snsSign(note(hit[i]!));
        return post(a.id, { ...signed, Timestamp: new Date(Date.now() - STALE * 1000).toISOString() });
      },
      foreign_cert: async (i) =>
        post(a.id, await forgedSign(note(hit[i]!), `https://sns.us-east-1.amazonaws.com.evil.example/forged-${i % 7}.pem`)),
      cross_account: async (i) => post(b.id, await snsSign(note(hit[i]!))),
      replay: () => post(a.id, ok),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      // Only SNS's own certificate URL was ever fetched (and once: it is cached).
      expect(sns.requests.slice(fetchedBefore).filter((u) => u !== SNS_CERT_URL)).toEqual([]);
      const marker = `ses-marker-${unique()}@example.com`;
      expect((await post(a.id, await snsSign(note(marker)))).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});

forgeries("Mailgun (HMAC of timestamp + token, each token once)", "mailgun", async () => {
  const [a, b] = await pair("Mailgun");
  const [keyA, keyB] = [`key-${unique()}${unique()}`, `key-${unique()}${unique()}`];
  await configure(a, "mailgun", { webhookSigningKey: keyA });
  await configure(b, "mailgun", { webhookSigningKey: keyB });
  const data = (to: string) => ({
    event: "failed",
    severity: "permanent",
    id: `mg-${unique()}`,
    timestamp: Date.now() / 1000,
    recipient: to,
    reason: "bounce",
    "delivery-status": { code: 550, message: "5.1.1 user unknown", description: "" },
    message: { headers: { "message-id": `${unique()}@mg.example.com` } },
  });
  const headers = { "content-type": "application/json" };
  const post = (account: string, payload: unknown) => hook("mailgun", account, { method: "POST", body: JSON.stringify(payload), headers });
  const witness = `mg-witness-${unique()}@example.com`;
  const ok = { signature: await mailgunSignature(keyA), "event-data": data(witness) };
  expect((await post(a.id, ok)).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const hit = victims("mailgun");

  return {
    makers: {
      wrong_key: async (i) => post(a.id, { signature: await mailgunSignature(`${keyA}-forged`), "event-data": data(hit[i]!) }),
      bit_flip: async (i) => {
        const signature = await mailgunSignature(keyA);
        return post(a.id, { signature: { ...signature, signature: flipHex(signature.signature, i) }, "event-data": data(hit[i]!) });
      },
      // Mailgun signs the token, not the body: a changed body can only ride on a token already used.
      body_changed: async (i) => post(a.id, { signature: ok.signature, "event-data": data(hit[i]!) }),
      stale: async (i) => post(a.id, { signature: await mailgunSignature(keyA, now() - STALE), "event-data": data(hit[i]!) }),
      cross_account: async (i) => post(b.id, { signature: await mailgunSignature(keyA), "event-data": data(hit[i]!) }),
      replay: () => post(a.id, ok),
    },
    refused: is(401),
    verify: async () => {
      const marker = `mg-marker-${unique()}@example.com`;
      expect((await post(a.id, { signature: await mailgunSignature(keyA), "event-data": data(marker) })).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});

forgeries("Postmark (Basic credentials)", "postmark", async () => {
  const [a, b] = await pair("Postmark");
  const credsA = { webhookUsername: `u${unique()}`, webhookPassword: `p${unique()}${unique()}` };
  const credsB = { webhookUsername: `u${unique()}`, webhookPassword: `p${unique()}${unique()}` };
  await configure(a, "postmark", credsA);
  await configure(b, "postmark", credsB);
  const bounce = (to: string) =>
    JSON.stringify({
      RecordType: "Bounce",
      ID: Math.floor(Math.random() * 1e12),
      Type: "HardBounce",
      TypeCode: 1,
      Name: "Hard bounce",
      MessageID: crypto.randomUUID(),
      MessageStream: "outbound",
      Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      Details: "smtp;550 5.1.1 user unknown",
      Email: to,
      From: "sender@example.com",
      BouncedAt: new Date().toISOString(),
      Inactive: true,
      CanActivate: true,
      Subject: "Test subject",
      Metadata: {},
    });
  const basic = (u: string, p: string) => `Basic ${btoa(`${u}:${p}`)}`;
  const goodAuth = basic(credsA.webhookUsername, credsA.webhookPassword);
  const post = (account: string, raw: string, authorization?: string) =>
    hook("postmark", account, {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    });
  const witness = `pm-witness-${unique()}@example.com`;
  const okBody = bounce(witness);
  expect((await post(a.id, okBody, goodAuth)).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const hit = victims("postmark");

  // Basic credentials cover no body and carry no time: "body changed" and "stale" do not apply.
  return {
    makers: {
      wrong_key: (i) => post(a.id, bounce(hit[i]!), basic(credsA.webhookUsername, `${credsA.webhookPassword}${i}`)),
      bit_flip: (i) => post(a.id, bounce(hit[i]!), `Basic ${flipBase64(goodAuth.slice(6), i)}`),
      no_credentials: (i) =>
        post(
          a.id,
          bounce(hit[i]!),
          [undefined, `Bearer ${credsA.webhookPassword}`, "Basic", `Basic ${btoa(credsA.webhookUsername)}`][i % 4],
        ),
      cross_account: (i) => post(b.id, bounce(hit[i]!), goodAuth),
      replay: () => post(a.id, okBody, goodAuth),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `pm-marker-${unique()}@example.com`;
      expect((await post(a.id, bounce(marker), goodAuth)).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});

/** Standard Webhooks as Resend (svix- headers) or any sender (webhook- headers) signs, at a chosen time. */
function standardSigned(prefix: "svix" | "webhook", secret: string, body: string, at = new Date(), id = `msg_${crypto.randomUUID()}`) {
  return {
    "content-type": "application/json",
    [`${prefix}-id`]: id,
    [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)),
    [`${prefix}-signature`]: new Webhook(secret).sign(id, at, body),
  };
}

for (const [provider, prefix] of [
  ["resend", "svix"],
  ["standard", "webhook"],
] as const) {
  forgeries(`${provider} (Standard Webhooks under ${prefix}- headers)`, provider, async () => {
    const [a, b] = await pair(provider);
    const other = provider === "resend" ? "standard" : "resend";
    const [secretA, secretB, secretOther] = [whsec(), whsec(), whsec()];
    const mapping = {
      recipient: "data.to",
      providerMessageId: "data.id",
      types: { "message.bounced": { type: "bounced", bounceClass: "hard" }, "message.complained": "complained" },
    };
    const setup = (secret: string) => (provider === "resend" ? { webhookSecret: secret } : { webhookSecret: secret, mapping });
    await configure(a, provider, setup(secretA));
    await configure(b, provider, setup(secretB));
    // A's other Standard Webhooks door, with its own secret: a body signed for one is no good at the other.
    await configure(a, other, other === "resend" ? { webhookSecret: secretOther } : { webhookSecret: secretOther, mapping });
    const bounce = (to: string, kind: "bounced" | "complained" = "bounced") =>
      JSON.stringify(
        provider === "resend"
          ? {
              type: kind === "bounced" ? "email.bounced" : "email.complained",
              created_at: new Date().toISOString(),
              data: {
                email_id: crypto.randomUUID(),
                to: [to],
                created_at: new Date().toISOString(),
                bounce: { type: "Permanent", subType: "General", message: "no such user" },
              },
            }
          : { type: `message.${kind}`, timestamp: new Date().toISOString(), data: { id: `m-${unique()}`, to } },
      );
    const post = (account: string, door: string, raw: string, headers: Record<string, string>) =>
      hook(door, account, { method: "POST", body: raw, headers });
    const witness = `${provider}-witness-${unique()}@example.com`;
    const okBody = bounce(witness);
    const okHeaders = standardSigned(prefix, secretA, okBody);
    expect((await post(a.id, provider, okBody, okHeaders)).status).toBe(200);
    await waitSuppressed(a, "email", witness);
    const snapshot = await messagesOf(a);
    const hit = victims(provider);
    const SIG = `${prefix}-signature`;

    return {
      makers: {
        wrong_key: async (i) => post(a.id, provider, bounce(hit[i]!), standardSigned(prefix, whsec(), bounce(hit[i]!))),
        bit_flip: async (i) => {
          const raw = bounce(hit[i]!);
          const headers = standardSigned(prefix, secretA, raw);
          return post(a.id, provider, raw, { ...headers, [SIG]: flipSignature(headers[SIG]!, i) });
        },
        body_changed: async (i) => {
          const raw = bounce(hit[i]!);
          return post(a.id, provider, raw.replace(hit[i]!, `x${hit[i]!}`), standardSigned(prefix, secretA, raw));
        },
        stale: async (i) => {
          const raw = bounce(hit[i]!);
          return post(a.id, provider, raw, standardSigned(prefix, secretA, raw, new Date(Date.now() - STALE * 1000)));
        },
        cross_account: async (i) => post(b.id, provider, bounce(hit[i]!), standardSigned(prefix, secretA, bounce(hit[i]!))),
        cross_door: async (i) => post(a.id, other, bounce(hit[i]!), standardSigned(prefix, secretA, bounce(hit[i]!))),
        replay: () => post(a.id, provider, okBody, okHeaders),
      },
      refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
      duplicates: ["replay"],
      verify: async () => {
        const marker = `${provider}-marker-${unique()}@example.com`;
        const markerBody = bounce(marker, "complained");
        expect((await post(a.id, provider, markerBody, standardSigned(prefix, secretA, markerBody))).status).toBe(200);
        await waitSuppressed(a, "email", marker);
        await untouched(a, b, "email", hit, snapshot);
      },
    };
  });
}

forgeries("Vonage (`sig` over the sorted parameters, timestamp within 5 minutes)", "vonage", async () => {
  const [a, b] = await pair("Vonage");
  const [secretA, secretB] = [`vs${unique()}${unique()}`, `vs${unique()}${unique()}`];
  await configure(a, "vonage", { signatureSecret: secretA, signatureMethod: "md5hash" });
  await configure(b, "vonage", { signatureSecret: secretB, signatureMethod: "md5hash" });
  const numbers = Array.from({ length: 1000 }, (_, i) => `1555${String(Date.now() % 1000).padStart(3, "0")}${String(i).padStart(4, "0")}`);
  const receipt = (msisdn: string): Record<string, string> => ({
    msisdn,
    to: "AcmeInc",
    "network-code": "12345",
    messageId: `0A${unique()}${unique()}`,
    status: "failed",
    "err-code": "3",
    "message-timestamp": "2020-01-01 12:00:00",
  });
  const signed = async (params: Record<string, string>, secret = secretA, at = now()) => {
    const withTime = { ...params, timestamp: String(at) };
    return { ...withTime, sig: await vonageSignature(withTime, secret, "md5hash") };
  };
  const post = (account: string, params: Record<string, string>) =>
    hook("vonage", account, {
      method: "POST",
      body: new URLSearchParams(params).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  const witness = `1555${String(Date.now()).slice(-7)}`;
  const ok = await signed(receipt(witness));
  expect((await post(a.id, ok)).status).toBe(200);
  await waitSuppressed(a, "sms", `+${witness}`);
  const snapshot = await messagesOf(a);

  return {
    makers: {
      wrong_key: async (i) => post(a.id, await signed(receipt(numbers[i]!), `${secretA}x`)),
      bit_flip: async (i) => {
        const params = await signed(receipt(numbers[i]!));
        return post(a.id, { ...params, sig: flipHex(params.sig, i) });
      },
      body_changed: async (i) => post(a.id, { ...(await signed(receipt(numbers[i]!))), "err-code": "1" }),
      stale: async (i) => post(a.id, await signed(receipt(numbers[i]!), secretA, now() - STALE)),
      cross_account: async (i) => post(b.id, await signed(receipt(numbers[i]!))),
      replay: () => post(a.id, ok),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `1556${String(Date.now()).slice(-7)}`;
      expect((await post(a.id, await signed(receipt(marker)))).status).toBe(200);
      await waitSuppressed(a, "sms", `+${marker}`);
      await untouched(
        a,
        b,
        "sms",
        numbers.map((n) => `+${n}`),
        snapshot,
      );
    },
  };
});

forgeries("signed unsubscribe links (HMAC under UNSUBSCRIBE_SECRET)", "unsubscribe", async () => {
  const [a, b] = await pair("Unsubscribe");
  const hit = victims("unsub");
  const claim = (recipient: string, account = a.id) => ({ account, recipient, messageId: crypto.randomUUID() });
  const token = (recipient: string, secret = env.UNSUBSCRIBE_SECRET, account = a.id) =>
    signUnsubscribeToken(secret, claim(recipient, account));
  const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const post = (t: string) =>
    SELF.fetch(`${BASE}/u/${t}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
  const witness = `unsub-witness-${unique()}@example.com`;
  const good = await token(witness);
  expect((await post(good)).status).toBe(200);
  await waitSuppressed(a, "email", witness);

  // The link carries no time (RFC 8058 links must keep working), so "stale" does not apply.
  return {
    makers: {
      wrong_key: async (i) => post(await token(hit[i]!, `forged-secret-${i}`)),
      bit_flip: async (i) => {
        const [payload, mac] = (await token(hit[i]!)).split(".");
        return post(`${payload}.${flipBase64(mac!, i)}`);
      },
      body_changed: async (i) => {
        const [, mac] = good.split(".");
        return post(`${b64url(JSON.stringify([a.id, hit[i]!, crypto.randomUUID()]))}.${mac}`);
      },
      cross_account: async (i) => {
        // A's token with its payload moved to account B.
        const [, mac] = (await token(hit[i]!)).split(".");
        return post(`${b64url(JSON.stringify([b.id, hit[i]!, crypto.randomUUID()]))}.${mac}`);
      },
      replay: () => post(good),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 400),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `unsub-marker-${unique()}@example.com`;
      expect((await post(await token(marker))).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      expect(await suppressedAmong(a, "email", hit)).toEqual([]);
      expect(await suppressedAmong(b, "email", hit)).toEqual([]);
      const listed = await json(await api("/v1/suppressions?channel=email&limit=100", { key: a.key }));
      expect(listed.body.data.map((s: { recipient: string }) => s.recipient).sort()).toEqual([marker, witness].sort());
    },
  };
});

forgeries("the dashboard (sealed session cookie, CSRF token, Origin)", "dashboard", async () => {
  const [a, b] = await pair("Dashboard");
  const page = (path: string, cookie?: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set("cookie", `${SESSION_COOKIE}=${cookie}`);
    return SELF.fetch(`${BASE}${path}`, { redirect: "manual", ...init, headers });
  };
  const post = (form: Record<string, string>, cookie?: string, origin = BASE) =>
    page("/dashboard/suppressions/add", cookie, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: new URLSearchParams(form).toString(),
    });
  const signIn = async (key: string) => {
    const res = await page("/dashboard/sign-in", undefined, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: new URLSearchParams({ key, next: "/dashboard" }).toString(),
    });
    expect(res.status).toBe(303);
    return /lh_dash=([^;]*)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
  };
  const csrfOf = async (cookie: string) =>
    /name="_csrf" value="([^"]+)"/.exec(await (await page("/dashboard/suppressions", cookie)).text())![1]!;
  const [cookieA, cookieA2, cookieB] = [await signIn(a.key), await signIn(a.key), await signIn(b.key)];
  const [csrfA, csrfA2, csrfB] = [await csrfOf(cookieA), await csrfOf(cookieA2), await csrfOf(cookieB)];
  const expired = await sealSession(env, a.key, Date.now() - SESSION_TTL_MS - 60_000);
  const csrfExpired = await csrfToken(expired.session);
  const form = (recipient: string, csrf?: string) => ({ channel: "email", recipient, ...(csrf ? { _csrf: csrf } : {}) });
  const witness = `dash-witness-${unique()}@example.com`;
  const ok = await post(form(witness, csrfA), cookieA);
  expect(ok.status).toBe(303);
  expect(ok.headers.get("location")).toContain("done=added");
  const hit = victims("dash");
  const refused = (res: Response) =>
    res.status === 403 || (res.status === 303 && res.headers.get("location")?.startsWith("/dashboard/sign-in") === true);

  return {
    makers: {
      // The CSRF token: none, a random one, one bit off, another session's of the same account.
      wrong_key: (i) => post(form(hit[i]!, [undefined, "forged", csrfA2][i % 3]), cookieA),
      // One bit off: of the CSRF token, or of the sealed cookie.
      bit_flip: (i) => (i % 2 ? post(form(hit[i]!, flipBase64(csrfA, i)), cookieA) : post(form(hit[i]!, csrfA), tamper(cookieA, i))),
      stale: (i) => post(form(hit[i]!, csrfExpired), expired.value),
      cross_account: (i) => (i % 2 ? post(form(hit[i]!, csrfB), cookieA) : post(form(hit[i]!, csrfA), cookieB)),
      cross_door: (i) =>
        post(
          form(hit[i]!, csrfA),
          cookieA,
          ["https://evil.example", "null", "http://lasthop.test", "https://lasthop.test.evil.example"][i % 4],
        ),
      replay: () => post(form(witness, csrfA), cookieA),
    },
    refused: (res, kind) => (kind === "replay" ? false : refused(res)),
    duplicates: ["replay"],
    verify: async () => {
      expect(await suppressedAmong(a, "email", [witness])).toEqual([witness]);
      expect(await suppressedAmong(a, "email", hit)).toEqual([]);
      expect(await suppressedAmong(b, "email", hit)).toEqual([]);
      const listed = await json(await api("/v1/suppressions?channel=email&limit=100", { key: a.key }));
      expect(listed.body.data.map((s: { recipient: string }) => s.recipient)).toEqual([witness]);
    },
  };
});

/** The sealed cookie with one bit of its last part flipped. */
function tamper(cookie: string, i: number): string {
  const parts = cookie.split(".");
  parts[parts.length - 1] = flipBase64(parts.at(-1)!, i);
  return parts.join(".");
}
