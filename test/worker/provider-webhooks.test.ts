// POST /v1/webhooks/{provider}/{account}: each provider's own authentication, then its events
// into the same timelines and suppressions as our own feedback, for mail lasthop did not send too.
import { afterEach, describe, expect, it } from "vitest";
import { ACCOUNT_A, API_KEY_A } from "../fixtures.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { adminAccount, api, BASE, getMessage, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";
import {
  installSns,
  mailgunSignature,
  SNS_CERT_URL,
  sendgridSigner,
  snsSign,
  standardHeaders,
  svixHeaders,
  vonageParams,
  whsec,
} from "./provider-signers.ts";
import { SELF } from "cloudflare:test";
import { enqueueProviderEvents } from "../../src/api/provider-webhooks.ts";
import { normalize as normalizeSendgrid } from "../../src/webhooks/sendgrid.ts";

const hook = (provider: string, account: string, init: RequestInit) => SELF.fetch(`${BASE}/v1/webhooks/${provider}/${account}`, init);

async function configure(account: AdminAccount | { key: string }, provider: string, body: unknown) {
  const res = await json(await api(`/v1/providers/${provider}`, { method: "PUT", json: body, key: account.key }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

async function suppression(account: { key: string }, channel: string, recipient: string) {
  return json(await api(`/v1/suppressions/${channel}/${encodeURIComponent(recipient)}`, { key: account.key }));
}

/** Waits until the recipient is suppressed (the events were applied) and returns the entry. */
async function suppressed(account: { key: string }, channel: string, recipient: string) {
  return waitFor(async () => {
    const res = await suppression(account, channel, recipient);
    return res.status === 200 ? res.body : null;
  }, `${recipient} to be suppressed`);
}

function sendgridEvent(email: string, event: string, extra: Record<string, unknown> = {}) {
  return {
    email,
    event,
    timestamp: Math.floor(Date.now() / 1000),
    sg_event_id: `ev-${unique()}${unique()}`,
    sg_message_id: `sgmsg${unique()}.filter0001.16648.5515E0B88.0`,
    "smtp-id": `<${unique()}@ismtpd.example>`,
    ...extra,
  };
}

let restore: Array<() => void> = [];
afterEach(() => {
  for (const r of restore) r();
  restore = [];
});

describe("the door itself", () => {
  it("answers 404 for an unknown provider, an unconfigured one, a malformed account, and a disabled account", async () => {
    const a = await adminAccount();
    const body = JSON.stringify([sendgridEvent("x@example.com", "delivered")]);
    for (const path of [`nope/${a.id}`, `sendgrid/${a.id}`, "sendgrid/a:b", "sendgrid/acct_does_not_exist"]) {
      const res = await json(
        await SELF.fetch(`${BASE}/v1/webhooks/${path}`, { method: "POST", body, headers: { "content-type": "application/json" } }),
      );
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    }
  });

  it("refuses a body over the limit with 413 before reading it", async () => {
    const a = await adminAccount();
    const signer = await sendgridSigner();
    await configure(a, "sendgrid", { webhookPublicKey: signer.publicKey });
    const big = "x".repeat(1024 * 1024 + 1);
    const res = await json(await hook("sendgrid", a.id, { method: "POST", body: big, headers: await signer.headers(big) }));
    expect(res.status).toBe(413);
  });
});

describe("SendGrid", () => {
  it("a signed batch of events for mail we did not send: external messages, suppressions, and a replay changes nothing", async () => {
    const a = await adminAccount();
    const signer = await sendgridSigner();
    await configure(a, "sendgrid", { webhookPublicKey: signer.publicKey });
    const [r1, r2, r3] = [`r1-${unique()}@example.com`, `r2-${unique()}@example.com`, `r3-${unique()}@example.com`];
    const bounce = sendgridEvent(r2, "bounce", {
      type: "bounce",
      status: "5.1.1",
      reason: "550 5.1.1 The email account that you tried to reach does not exist",
    });
    const events = [sendgridEvent(r1, "processed"), sendgridEvent(r1, "delivered"), bounce, sendgridEvent(r3, "spamreport")];
    const body = JSON.stringify(events);
    const res = await json(await hook("sendgrid", a.id, { method: "POST", body, headers: await signer.headers(body) }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.accepted).toBe(4);

    const entry = await suppressed(a, "email", r2);
    expect(entry.reason).toBe("hard_bounce");
    expect((await suppressed(a, "email", r3)).reason).toBe("complaint");
    const message = await getMessage(entry.messageId, a.key);
    expect(message.status).toBe(200);
    expect(message.body.external).toEqual({ provider: "sendgrid" });
    expect(message.body.status).toBe("bounced");
    expect(message.body.providerMessageId).toMatch(/^sgmsg/);
    const ids = message.body.events.map((e: { id: string }) => e.id);
    expect(ids).toContain(`sendgrid:${bounce.sg_event_id}`);

    // The same batch again (SendGrid retries on any non-2xx): same answer, the timeline as it was.
    const again = await json(await hook("sendgrid", a.id, { method: "POST", body, headers: await signer.headers(body) }));
    expect(again.status).toBe(200);
    const marker = sendgridEvent(r2, "open", { sg_message_id: bounce.sg_message_id });
    const markerBody = JSON.stringify([marker]);
    expect((await hook("sendgrid", a.id, { method: "POST", body: markerBody, headers: await signer.headers(markerBody) })).status).toBe(
      200,
    );
    const after = await waitFor(async () => {
      const m = await getMessage(entry.messageId, a.key);
      return m.body.events.some((e: { id: string }) => e.id === `sendgrid:${marker.sg_event_id}`) ? m.body : null;
    }, "the marker open on the external message");
    expect(after.events.map((e: { id: string }) => e.id).sort()).toEqual([...ids, `sendgrid:${marker.sg_event_id}`].sort());
    expect(after.status).toBe("bounced");
  });

  it("forged, stale and wrong-account requests get 401 and change nothing", async () => {
    const [a, b] = [await adminAccount("A"), await adminAccount("B")];
    const [signerA, signerB, stranger] = [await sendgridSigner(), await sendgridSigner(), await sendgridSigner()];
    await configure(a, "sendgrid", { webhookPublicKey: signerA.publicKey });
    await configure(b, "sendgrid", { webhookPublicKey: signerB.publicKey });
    const victim = `v-${unique()}@example.com`;
    const bounce = JSON.stringify([sendgridEvent(victim, "bounce", { type: "bounce", status: "5.1.1", reason: "550 5.1.1 user unknown" })]);
    const cases: Array<[string, string, Record<string, string>]> = [
      ["forged", a.id, await stranger.headers(bounce)],
      ["stale", a.id, await signerA.headers(bounce, Math.floor(Date.now() / 1000) - 600)],
      ["A's signature at B's door", b.id, await signerA.headers(bounce)],
      ["tampered", a.id, await signerA.headers(bounce.replace("5.1.1", "5.1.2"))],
    ];
    for (const [name, account, headers] of cases) {
      const res = await json(await hook("sendgrid", account, { method: "POST", body: bounce, headers }));
      expect(res.status, name).toBe(401);
      expect(res.body.error.code).toBe("invalid_signature");
    }
    // A later genuine complaint is applied; the refused bounce never was, in either account.
    const witness = `w-${unique()}@example.com`;
    const okBody = JSON.stringify([sendgridEvent(witness, "spamreport")]);
    expect((await hook("sendgrid", a.id, { method: "POST", body: okBody, headers: await signerA.headers(okBody) })).status).toBe(200);
    await suppressed(a, "email", witness);
    for (const account of [a, b]) {
      const res = await json(
        await api("/v1/suppressions/check", { method: "POST", json: { channel: "email", recipients: [victim] }, key: account.key }),
      );
      expect(res.body.data[0].suppressed).toBe(false);
    }
  });

  it("an event carrying our id reaches our message, even before the send result", async () => {
    const bridge = installBridge();
    restore.push(() => bridge.restore());
    const signer = await sendgridSigner();
    await configure({ key: API_KEY_A }, "sendgrid", { webhookPublicKey: signer.publicKey });
    const to = `ours-${unique()}@example.com`;
    const sent = await send({ channel: "email", from: "news@lasthop.test", to, subject: "hi", text: "hello" });
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    const delivered = sendgridEvent(to, "delivered", { lasthop_id: sent.body.id });
    const body = JSON.stringify([delivered]);
    expect((await hook("sendgrid", ACCOUNT_A, { method: "POST", body, headers: await signer.headers(body) })).status).toBe(200);
    const message = await waitForStatus(sent.body.id, "delivered");
    expect(message.events.map((e: { id: string }) => e.id)).toContain(`sendgrid:${delivered.sg_event_id}`);
    expect(message.external).toBeUndefined();
  });
});

describe("packing", () => {
  it("a 1,000-event SendGrid batch goes out in a few sendBatch calls, every event once, within the queue's limits", async () => {
    const batch = Array.from({ length: 1000 }, (_, i) =>
      sendgridEvent(`p${i}-${unique()}@example.com`, i % 3 ? "delivered" : "open", { useragent: "Mozilla/5.0", ip: "192.0.2.1" }),
    );
    const result = await normalizeSendgrid(batch, { account: "acct_pack", receivedAt: new Date().toISOString() });
    if (!result.ok) throw new Error(JSON.stringify(result.issues));
    expect(result.events).toHaveLength(1000);
    const calls: Array<Array<{ body: { kind: string; events: Array<{ id: string }> } }>> = [];
    const queue = { sendBatch: async (messages: (typeof calls)[number]) => void calls.push(messages) } as unknown as Queue;
    await enqueueProviderEvents(queue, result.events);
    expect(calls.length).toBeGreaterThan(0);
    expect(calls.length).toBeLessThanOrEqual(4);
    const sent = calls.flat().flatMap((m) => m.body.events.map((e) => e.id));
    expect(sent.sort()).toEqual(result.events.map((e) => e.id).sort());
    for (const call of calls) {
      expect(call.length).toBeLessThanOrEqual(100);
      expect(new TextEncoder().encode(JSON.stringify(call.map((m) => m.body))).length).toBeLessThanOrEqual(256_000);
      for (const m of call) expect(new TextEncoder().encode(JSON.stringify(m.body)).length).toBeLessThanOrEqual(64_000);
    }
  });
});

describe("Mailgun", () => {
  it("a signed failure suppresses; the same token again is a replay (401)", async () => {
    const a = await adminAccount();
    const key = `key-${unique()}${unique()}`;
    await configure(a, "mailgun", { webhookSigningKey: key });
    const to = `mg-${unique()}@example.com`;
    const payload = {
      signature: await mailgunSignature(key),
      "event-data": {
        event: "failed",
        severity: "permanent",
        id: `mg-${unique()}`,
        timestamp: Date.now() / 1000,
        recipient: to,
        reason: "bounce",
        "delivery-status": { code: 550, message: "5.1.1 The email account that you tried to reach does not exist", description: "" },
        message: { headers: { "message-id": `${unique()}@mg.example.com` } },
      },
    };
    const body = JSON.stringify(payload);
    const headers = { "content-type": "application/json" };
    const first = await json(await hook("mailgun", a.id, { method: "POST", body, headers }));
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect((await suppressed(a, "email", to)).reason).toBe("hard_bounce");
    const replay = await json(await hook("mailgun", a.id, { method: "POST", body, headers }));
    expect(replay.status).toBe(401);
    // A verified body we cannot take (400) leaves its token unclaimed: Mailgun's retry gets the same answer, not 401.
    const unusable = JSON.stringify({ signature: await mailgunSignature(key), "event-data": { event: 42 } });
    expect((await hook("mailgun", a.id, { method: "POST", body: unusable, headers })).status).toBe(400);
    expect((await hook("mailgun", a.id, { method: "POST", body: unusable, headers })).status).toBe(400);
    const wrongKey = { ...payload, signature: await mailgunSignature(`${key}x`) };
    expect((await hook("mailgun", a.id, { method: "POST", body: JSON.stringify(wrongKey), headers })).status).toBe(401);
  });
});

describe("Postmark", () => {
  it("Basic credentials; a hard bounce suppresses; wrong credentials get 401", async () => {
    const a = await adminAccount();
    const creds = { webhookUsername: `u${unique()}`, webhookPassword: `p${unique()}${unique()}` };
    await configure(a, "postmark", creds);
    const to = `pm-${unique()}@example.com`;
    const body = JSON.stringify({
      RecordType: "Bounce",
      ID: Number(String(Date.now()).slice(-9)),
      Type: "HardBounce",
      TypeCode: 1,
      Name: "Hard bounce",
      MessageID: crypto.randomUUID(),
      MessageStream: "outbound",
      Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
      Email: to,
      From: "sender@example.com",
      BouncedAt: new Date().toISOString(),
      Inactive: true,
      CanActivate: true,
      Subject: "Test subject",
      Metadata: {},
    });
    const auth = (u: string, p: string) => ({ "content-type": "application/json", authorization: `Basic ${btoa(`${u}:${p}`)}` });
    expect((await hook("postmark", a.id, { method: "POST", body, headers: auth(creds.webhookUsername, "wrong") })).status).toBe(401);
    expect((await hook("postmark", a.id, { method: "POST", body, headers: { "content-type": "application/json" } })).status).toBe(401);
    const ok = await json(
      await hook("postmark", a.id, { method: "POST", body, headers: auth(creds.webhookUsername, creds.webhookPassword) }),
    );
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await suppressed(a, "email", to)).reason).toBe("hard_bounce");
  });
});

describe("Resend and any Standard Webhooks sender", () => {
  it("Resend (Svix headers): email.bounced suppresses; a bad signature gets 401", async () => {
    const a = await adminAccount();
    const secret = whsec();
    await configure(a, "resend", { webhookSecret: secret });
    const to = `rs-${unique()}@example.com`;
    const body = JSON.stringify({
      type: "email.bounced",
      created_at: new Date().toISOString(),
      data: {
        email_id: crypto.randomUUID(),
        from: "Acme <onboarding@resend.dev>",
        to: [to],
        subject: "Sending this example",
        created_at: new Date().toISOString(),
        bounce: { message: "The recipient's email address does not exist.", subType: "General", type: "Permanent" },
      },
    });
    expect((await hook("resend", a.id, { method: "POST", body, headers: svixHeaders(whsec(), body) })).status).toBe(401);
    const ok = await json(await hook("resend", a.id, { method: "POST", body, headers: svixHeaders(secret, body) }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await suppressed(a, "email", to)).reason).toBe("hard_bounce");
  });

  it("a generic sender through its mapping", async () => {
    const a = await adminAccount();
    const secret = whsec();
    const mapping = {
      type: "type",
      providerMessageId: "data.message.id",
      recipient: "data.message.to",
      occurredAt: "timestamp",
      bounceClass: "data.bounce.kind",
      diagnostic: "data.bounce.text",
      types: { "message.hard_bounced": "bounced", "message.delivered": "delivered" },
    };
    await configure(a, "standard", { webhookSecret: secret, mapping });
    const to = `sw-${unique()}@example.com`;
    const body = JSON.stringify({
      type: "message.hard_bounced",
      timestamp: new Date().toISOString(),
      data: { message: { id: `m-${unique()}`, to }, bounce: { kind: "hard", text: "550 5.1.1 user unknown" } },
    });
    expect((await hook("standard", a.id, { method: "POST", body, headers: standardHeaders(whsec(), body) })).status).toBe(401);
    const ok = await json(await hook("standard", a.id, { method: "POST", body, headers: standardHeaders(secret, body) }));
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect((await suppressed(a, "email", to)).reason).toBe("hard_bounce");
  });
});

describe("Vonage", () => {
  it("a signed receipt for a dead number suppresses it; a bad sig gets 401", async () => {
    const a = await adminAccount();
    const secret = `vs${unique()}${unique()}`;
    await configure(a, "vonage", { signatureSecret: secret, signatureMethod: "md5hash" });
    const msisdn = `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
    const params = await vonageParams(secret, {
      msisdn,
      to: "AcmeInc",
      "network-code": "12345",
      messageId: `0A0000000${unique()}`,
      price: "0.03330000",
      status: "failed",
      scts: "2001011400",
      "err-code": "3",
      "message-timestamp": "2020-01-01 12:00:00",
    });
    const form = (p: Record<string, string>) => ({
      method: "POST",
      body: new URLSearchParams(p).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect((await hook("vonage", a.id, form({ ...params, sig: "0".repeat(32) }))).status).toBe(401);
    const ok = await hook("vonage", a.id, form(params));
    expect(ok.status).toBe(200);
    expect((await suppressed(a, "sms", `+${msisdn}`)).reason).toBe("hard_bounce");
  });

  it("an inbound STOP takes the keyword path (GET callback)", async () => {
    const secret = `vs${unique()}${unique()}`;
    await configure({ key: API_KEY_A }, "vonage", { signatureSecret: secret, signatureMethod: "sha256" });
    const handset = `1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
    const params = await vonageParams(
      secret,
      {
        msisdn: handset,
        to: "15005550006",
        messageId: `0B0000000${unique()}`,
        text: "STOP",
        type: "text",
        keyword: "STOP",
        "message-timestamp": "2020-01-01 12:00:00",
      },
      "sha256",
    );
    const res = await SELF.fetch(`${BASE}/v1/webhooks/vonage/${ACCOUNT_A}?${new URLSearchParams(params)}`);
    expect(res.status).toBe(204);
    const pair = `+${handset}:+15005550006`;
    expect((await suppression({ key: API_KEY_A }, "sms", pair)).body.reason).toBe("sms_stop");
  });
});

describe("Amazon SES through SNS", () => {
  const topic = "arn:aws:sns:us-east-1:123456789012:ses-events";

  function notification(inner: unknown, over: Record<string, string> = {}) {
    return {
      Type: "Notification" as const,
      MessageId: crypto.randomUUID(),
      TopicArn: topic,
      Message: JSON.stringify(inner),
      Timestamp: new Date().toISOString(),
      ...over,
    };
  }

  function sesBounce(to: string) {
    return {
      eventType: "Bounce",
      bounce: {
        feedbackId: `0100-${unique()}`,
        bounceType: "Permanent",
        bounceSubType: "General",
        bouncedRecipients: [{ emailAddress: to, action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" }],
        timestamp: new Date().toISOString(),
        reportingMTA: "dsn; a8-70.smtp-out.amazonses.com",
      },
      mail: {
        timestamp: new Date().toISOString(),
        messageId: `0100-${unique()}-000000`,
        source: "sender@example.com",
        destination: [to],
        tags: {},
      },
    };
  }

  it("a signed notification applies; the certificate is fetched once; a subscription is confirmed", async () => {
    const sns = installSns();
    restore.push(sns.restore);
    const a = await adminAccount();
    await configure(a, "ses", { topicArns: [topic] });
    const headers = { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification" };
    const [to1, to2] = [`ses1-${unique()}@example.com`, `ses2-${unique()}@example.com`];
    for (const to of [to1, to2]) {
      const res = await json(
        await hook("ses", a.id, { method: "POST", body: JSON.stringify(await snsSign(notification(sesBounce(to)))), headers }),
      );
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    expect((await suppressed(a, "email", to1)).reason).toBe("hard_bounce");
    expect((await suppressed(a, "email", to2)).reason).toBe("hard_bounce");
    expect(sns.requests.filter((u) => u === SNS_CERT_URL)).toHaveLength(1);

    const subscribeUrl = `https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${topic}&Token=${unique()}`;
    const confirm = await snsSign({
      Type: "SubscriptionConfirmation",
      MessageId: crypto.randomUUID(),
      TopicArn: topic,
      Message: "You have chosen to subscribe to the topic.",
      Timestamp: new Date().toISOString(),
      Token: unique(),
      SubscribeURL: subscribeUrl,
    });
    const res = await hook("ses", a.id, { method: "POST", body: JSON.stringify(confirm), headers });
    expect(res.status).toBe(200);
    expect(sns.requests).toContain(subscribeUrl);
  });

  it("an unknown topic and a certificate off SNS's hosts are refused without a single fetch", async () => {
    const sns = installSns();
    restore.push(sns.restore);
    const a = await adminAccount();
    await configure(a, "ses", { topicArns: [topic] });
    const to = `ses-${unique()}@example.com`;
    const otherTopic = await snsSign(notification(sesBounce(to), { TopicArn: "arn:aws:sns:us-east-1:123456789012:other" }));
    const evilCert = await snsSign(notification(sesBounce(to)), "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem");
    for (const message of [otherTopic, evilCert]) {
      const res = await json(
        await hook("ses", a.id, { method: "POST", body: JSON.stringify(message), headers: { "content-type": "text/plain" } }),
      );
      expect(res.status).toBe(401);
    }
    expect(sns.requests).toEqual([]);
    const forged = { ...(await snsSign(notification(sesBounce(to)))), Message: JSON.stringify(sesBounce(`other-${to}`)) };
    expect(
      (await hook("ses", a.id, { method: "POST", body: JSON.stringify(forged), headers: { "content-type": "text/plain" } })).status,
    ).toBe(401);
    expect((await suppression(a, "email", to)).status).toBe(404);
  });
});

describe("POST /v1/suppressions/check", () => {
  it("names which recipients are suppressed, with reason and time, in the order asked", async () => {
    const a = await adminAccount();
    const [x, y] = [`x-${unique()}@example.com`, `y-${unique()}@Example.com`];
    expect((await api(`/v1/suppressions/email/${x}`, { method: "PUT", key: a.key })).status).toBe(200);
    const res = await json(
      await api("/v1/suppressions/check", { method: "POST", json: { channel: "email", recipients: [y, x] }, key: a.key }),
    );
    expect(res.status).toBe(200);
    expect(res.body.suppressed).toBe(1);
    expect(res.body.data[0]).toEqual({ recipient: y, suppressed: false });
    expect(res.body.data[1]).toMatchObject({ recipient: x, suppressed: true, reason: "manual" });
    expect(res.body.data[1].at).toMatch(/^\d{4}-/);
  });

  it("refuses more than 1,000 recipients and a bad channel with 400, naming the field", async () => {
    const a = await adminAccount();
    const many = Array.from({ length: 1001 }, (_, i) => `r${i}@example.com`);
    const tooMany = await json(
      await api("/v1/suppressions/check", { method: "POST", json: { channel: "email", recipients: many }, key: a.key }),
    );
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.details[0].path).toBe("recipients");
    const badChannel = await json(
      await api("/v1/suppressions/check", { method: "POST", json: { channel: "fax", recipients: ["a"] }, key: a.key }),
    );
    expect(badChannel.status).toBe(400);
    expect(badChannel.body.error.details[0].path).toBe("channel");
  });
});
