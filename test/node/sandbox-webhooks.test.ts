// The sandbox's provider webhook senders alone, checked as each provider's receiver would check
// them: SendGrid's with @sendgrid/eventwebhook, Resend's with svix, the Standard Webhooks sender's
// with standardwebhooks, SNS's with node:crypto over the canonical string and the certificate
// the sandbox serves, Mailgun's and Vonage's recomputed here. Nothing from src/ or bridge/.
import { createHash, createHmac, verify as verifySignature, X509Certificate } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import sendgrid from "@sendgrid/eventwebhook";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { vonageSignature, WEBHOOK_PROVIDERS } from "../../sandbox/provider-webhooks.ts";
import { closeHttpServer, listenLocal } from "./fixtures/http-server.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Arrival = { path: string; headers: IncomingHttpHeaders; body: string };

let sandbox: TestSandbox;
let receiver: Server;
let hookUrl: string;
const arrivals: Arrival[] = [];
let config: any;
const LASTHOP_ID = "0b4e3c1e-8f4a-4c1e-9a1e-0b4e3c1e8f4a";

beforeAll(async () => {
  sandbox = await startTestSandbox();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      arrivals.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ accepted: 1 }));
    });
  });
  hookUrl = `http://127.0.0.1:${await listenLocal(receiver)}/hook`;
  config = await (await control(sandbox, "GET", "/_sandbox/webhooks/config")).json();
});

afterAll(async () => {
  await sandbox?.close();
  if (receiver) await closeHttpServer(receiver);
});

beforeEach(() => {
  arrivals.length = 0;
});

/** Emits through the control API to the local receiver; returns the answer and what arrived. */
async function emit(body: Record<string, unknown>): Promise<{ answer: any; arrival: Arrival }> {
  const response = await control(sandbox, "POST", "/_sandbox/webhooks/emit", { url: hookUrl, lasthopId: LASTHOP_ID, ...body });
  const answer = await response.json();
  expect(response.status, JSON.stringify(answer)).toBe(200);
  expect(answer).toMatchObject({ url: hookUrl, status: 202, body: { accepted: 1 } });
  expect(arrivals).toHaveLength(1);
  const arrival = arrivals.pop()!;
  return { answer, arrival };
}

const header = (arrival: Arrival, name: string) => arrival.headers[name.toLowerCase()] as string;

/** SNS's canonical string, written here from AWS's page rather than taken from the sandbox. */
function snsCanonical(message: Record<string, string>): string {
  const names =
    message.Type === "Notification"
      ? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
      : ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
  return names
    .filter((name) => message[name] !== undefined)
    .map((name) => `${name}\n${message[name]}\n`)
    .join("");
}

describe("config", () => {
  it("holds a dev credential for every provider, in the shape of lasthop's PUT /v1/providers/{provider}", () => {
    expect(Object.keys(config).sort()).toEqual([...WEBHOOK_PROVIDERS].sort());
    expect(config.sendgrid.webhookPublicKey).toMatch(/^MF[A-Za-z0-9+/]+=*$/);
    expect(config.ses.topicArns).toEqual([expect.stringMatching(/^arn:aws:sns:[\w-]+:\d{12}:[\w-]+$/)]);
    expect(config.mailgun.webhookSigningKey).toMatch(/^[0-9a-f]{64}$/);
    expect(config.postmark).toEqual({ webhookUsername: expect.any(String), webhookPassword: expect.any(String) });
    expect(config.resend.webhookSecret).toMatch(/^whsec_/);
    expect(config.standard.webhookSecret).toMatch(/^whsec_/);
    expect(config.standard.mapping).toMatchObject({
      providerMessageId: expect.any(String),
      recipient: expect.any(String),
      types: expect.any(Object),
    });
    expect(config.vonage).toEqual({ signatureSecret: expect.any(String), signatureMethod: "md5hash" });
  });

  it("is made fresh by each sandbox", async () => {
    const other = await startTestSandbox();
    try {
      const theirs = await (await control(other, "GET", "/_sandbox/webhooks/config")).json();
      for (const provider of WEBHOOK_PROVIDERS.filter((p) => p !== "ses")) expect(theirs[provider]).not.toEqual(config[provider]);
    } finally {
      await other.close();
    }
  });
});

describe("SendGrid", () => {
  it("signs every event with its ECDSA key, as @sendgrid/eventwebhook verifies, our id among the custom args", async () => {
    const webhook = new sendgrid.EventWebhook();
    const key = webhook.convertPublicKeyToECDSA(config.sendgrid.webhookPublicKey);
    const expected = {
      delivered: { event: "delivered" },
      bounce: { event: "bounce", type: "bounce", status: "5.1.1" },
      soft_bounce: { event: "bounce", type: "blocked" },
      deferred: { event: "deferred" },
      complaint: { event: "spamreport" },
      open: { event: "open" },
      click: { event: "click", url: expect.any(String) },
    };
    for (const [event, shape] of Object.entries(expected)) {
      const { answer, arrival } = await emit({ provider: "sendgrid", event, recipient: "sg@example.com", providerMessageId: "XMSGID0001" });
      const signature = header(arrival, "X-Twilio-Email-Event-Webhook-Signature");
      const timestamp = header(arrival, "X-Twilio-Email-Event-Webhook-Timestamp");
      expect(webhook.verifySignature(key, arrival.body, signature, timestamp), event).toBe(true);
      expect(webhook.verifySignature(key, arrival.body.replace("sg@", "sh@"), signature, timestamp)).toBe(false);
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
      const events = JSON.parse(arrival.body);
      expect(events).toEqual(answer.payload);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ ...shape, email: "sg@example.com", lasthop_id: LASTHOP_ID, sg_event_id: expect.any(String) });
      expect(events[0].sg_message_id).toMatch(/^XMSGID0001\.filter/);
    }
  });
});

describe("Amazon SES through SNS", () => {
  it("signs notifications with SignatureVersion 2 under the certificate it serves; our id in mail.tags", async () => {
    const types = {
      delivered: "Delivery",
      bounce: "Bounce",
      soft_bounce: "Bounce",
      deferred: "DeliveryDelay",
      complaint: "Complaint",
      open: "Open",
      click: "Click",
    };
    let certificate: X509Certificate | undefined;
    for (const [event, eventType] of Object.entries(types)) {
      const { arrival } = await emit({ provider: "ses", event, recipient: "ses@example.com", providerMessageId: "0100-ses-id" });
      const message = JSON.parse(arrival.body);
      expect(message).toMatchObject({ Type: "Notification", TopicArn: config.ses.topicArns[0], SignatureVersion: "2" });
      expect(header(arrival, "x-amz-sns-message-type")).toBe("Notification");
      expect(new URL(message.SigningCertURL).origin).toBe(new URL(sandbox.httpUrl).origin);
      expect(message.SigningCertURL).toMatch(/\.pem$/);
      if (!certificate) {
        const served = await fetch(message.SigningCertURL);
        expect(served.status).toBe(200);
        certificate = new X509Certificate(await served.text());
      }
      const signature = Buffer.from(message.Signature, "base64");
      expect(verifySignature("RSA-SHA256", Buffer.from(snsCanonical(message)), certificate.publicKey, signature), event).toBe(true);
      const forged = { ...message, Message: message.Message.replace("ses@", "set@") };
      expect(verifySignature("RSA-SHA256", Buffer.from(snsCanonical(forged)), certificate.publicKey, signature)).toBe(false);
      const record = JSON.parse(message.Message);
      expect(record.eventType).toBe(eventType);
      expect(record.mail).toMatchObject({ messageId: "0100-ses-id", destination: ["ses@example.com"] });
      expect(record.mail.tags.lasthop_id).toEqual([LASTHOP_ID]);
      if (event === "bounce") expect(record.bounce).toMatchObject({ bounceType: "Permanent" });
      if (event === "soft_bounce") expect(record.bounce).toMatchObject({ bounceType: "Transient" });
    }
  });

  it("sends a signed SubscriptionConfirmation whose SubscribeURL the sandbox confirms and records; a forged token is refused", async () => {
    const { arrival } = await emit({ provider: "ses", event: "subscribe", recipient: "unused" });
    const message = JSON.parse(arrival.body);
    expect(message).toMatchObject({ Type: "SubscriptionConfirmation", TopicArn: config.ses.topicArns[0], Token: expect.any(String) });
    const certificate = new X509Certificate(await (await fetch(message.SigningCertURL)).text());
    const signature = Buffer.from(message.Signature, "base64");
    expect(verifySignature("RSA-SHA256", Buffer.from(snsCanonical(message)), certificate.publicKey, signature)).toBe(true);

    const subscribe = new URL(message.SubscribeURL);
    expect(subscribe.origin).toBe(new URL(sandbox.httpUrl).origin);
    expect(Object.fromEntries(subscribe.searchParams)).toEqual({
      Action: "ConfirmSubscription",
      TopicArn: config.ses.topicArns[0],
      Token: message.Token,
    });
    const forged = new URL(subscribe);
    forged.searchParams.set("Token", "0".repeat(message.Token.length));
    expect((await fetch(forged)).status).toBe(400);
    const confirmed = await fetch(subscribe);
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain("<SubscriptionArn>");
    const confirmations = await (await control(sandbox, "GET", "/_sandbox/webhooks/ses/confirmations")).json();
    expect(confirmations).toContainEqual({ topicArn: config.ses.topicArns[0], token: message.Token, at: expect.any(String) });
    expect(confirmations.filter((c: { token: string }) => c.token === "0".repeat(message.Token.length))).toEqual([]);
  });
});

describe("Mailgun", () => {
  it("signs each body with HMAC-SHA256(key, timestamp + token), a fresh token every time; our id in user-variables", async () => {
    const tokens = new Set<string>();
    const expected = {
      delivered: { event: "delivered" },
      bounce: { event: "failed", severity: "permanent" },
      soft_bounce: { event: "failed", severity: "permanent", "delivery-status": { "bounce-type": "soft" } },
      deferred: { event: "failed", severity: "temporary" },
      complaint: { event: "complained" },
      open: { event: "opened" },
      click: { event: "clicked" },
    };
    for (const [event, shape] of Object.entries(expected)) {
      const { arrival } = await emit({ provider: "mailgun", event, recipient: "mg@example.com" });
      const body = JSON.parse(arrival.body);
      const { timestamp, token, signature } = body.signature;
      expect(signature).toBe(createHmac("sha256", config.mailgun.webhookSigningKey).update(`${timestamp}${token}`).digest("hex"));
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
      tokens.add(token);
      expect(body["event-data"]).toMatchObject({ ...shape, recipient: "mg@example.com", "user-variables": { lasthop_id: LASTHOP_ID } });
      expect(body["event-data"].message.headers["message-id"]).toMatch(/@/);
    }
    expect(tokens.size).toBe(Object.keys(expected).length);
  });
});

describe("Postmark", () => {
  it("posts one record per event with the configured Basic credentials; our id in Metadata", async () => {
    const expected = {
      delivered: { RecordType: "Delivery", Recipient: "pm@example.com" },
      bounce: { RecordType: "Bounce", Type: "HardBounce", Email: "pm@example.com" },
      soft_bounce: { RecordType: "Bounce", Type: "SoftBounce" },
      deferred: { RecordType: "Bounce", Type: "Transient" },
      complaint: { RecordType: "SpamComplaint" },
      open: { RecordType: "Open", Recipient: "pm@example.com" },
      click: { RecordType: "Click", OriginalLink: expect.any(String) },
    };
    for (const [event, shape] of Object.entries(expected)) {
      const { arrival } = await emit({ provider: "postmark", event, recipient: "pm@example.com", providerMessageId: "pm-message-1" });
      const [scheme, encoded] = header(arrival, "authorization").split(" ");
      expect(scheme).toBe("Basic");
      expect(Buffer.from(encoded!, "base64").toString("utf8")).toBe(
        `${config.postmark.webhookUsername}:${config.postmark.webhookPassword}`,
      );
      expect(JSON.parse(arrival.body)).toMatchObject({ ...shape, MessageID: "pm-message-1", Metadata: { lasthop_id: LASTHOP_ID } });
    }
  });
});

describe("Resend and the Standard Webhooks sender", () => {
  it("Resend's bodies verify with svix under svix-* headers; our id in data.tags", async () => {
    const webhook = new SvixWebhook(config.resend.webhookSecret);
    const types = {
      delivered: "email.delivered",
      bounce: "email.bounced",
      soft_bounce: "email.bounced",
      deferred: "email.delivery_delayed",
      complaint: "email.complained",
      open: "email.opened",
      click: "email.clicked",
    };
    for (const [event, type] of Object.entries(types)) {
      const { arrival } = await emit({ provider: "resend", event, recipient: "rs@example.com" });
      const headers = {
        "svix-id": header(arrival, "svix-id"),
        "svix-timestamp": header(arrival, "svix-timestamp"),
        "svix-signature": header(arrival, "svix-signature"),
      };
      expect(() => webhook.verify(arrival.body, headers), event).not.toThrow();
      expect(() => webhook.verify(arrival.body.replace("rs@", "rt@"), headers)).toThrow();
      const body = JSON.parse(arrival.body);
      expect(body).toMatchObject({ type, data: { to: ["rs@example.com"], tags: { lasthop_id: LASTHOP_ID } } });
      if (event === "bounce") expect(body.data.bounce.type).toBe("Permanent");
      if (event === "soft_bounce") expect(body.data.bounce.type).toBe("Transient");
    }
  });

  it("the Standard Webhooks sender's bodies verify with standardwebhooks, and its mapping finds every field", async () => {
    const webhook = new StandardWebhook(config.standard.webhookSecret);
    const { mapping } = config.standard;
    const pick = (body: unknown, path: string) => path.split(".").reduce((at: any, key) => at?.[key], body);
    for (const event of ["delivered", "bounce", "soft_bounce", "deferred", "complaint", "open", "click"]) {
      const { arrival } = await emit({ provider: "standard", event, recipient: "sw@example.com", providerMessageId: "sw-1" });
      const headers = {
        "webhook-id": header(arrival, "webhook-id"),
        "webhook-timestamp": header(arrival, "webhook-timestamp"),
        "webhook-signature": header(arrival, "webhook-signature"),
      };
      const body = webhook.verify(arrival.body, headers);
      expect(mapping.types[pick(body, mapping.type)], event).toBeDefined();
      expect(pick(body, mapping.recipient)).toBe("sw@example.com");
      expect(pick(body, mapping.providerMessageId)).toBe("sw-1");
      expect(pick(body, mapping.messageId)).toBe(LASTHOP_ID);
      expect(Date.parse(pick(body, mapping.occurredAt))).not.toBeNaN();
      if (event === "bounce") expect(pick(body, mapping.bounceClass)).toBe("hard");
      if (event === "soft_bounce") expect(pick(body, mapping.bounceClass)).toBe("soft");
    }
  });
});

describe("Vonage", () => {
  /** Vonage's md5hash, written here from its "Signing Messages" page. */
  const md5hash = (params: Record<string, string>, secret: string) =>
    createHash("md5")
      .update(
        Object.keys(params)
          .filter((k) => k !== "sig")
          .sort()
          .map((k) => `&${k}=${params[k]!.replace(/[&=]/g, "_")}`)
          .join("") + secret,
      )
      .digest("hex");

  it("the sandbox's signer agrees with the vector of Vonage's own client library tests", () => {
    // vonage-python-sdk: check_signature({a: "1", b: "2", timestamp: "1461605396"}) with secret "secret".
    expect(vonageSignature({ a: "1", b: "2", timestamp: "1461605396" }, "secret")).toBe("6af838ef94998832dbfc29020b564830");
    expect(md5hash({ a: "1", b: "2", timestamp: "1461605396" }, "secret")).toBe("6af838ef94998832dbfc29020b564830");
  });

  it("posts signed receipts (err-code 3 for a dead number, our id as client-ref) and inbound texts as forms", async () => {
    const expected = {
      delivered: { status: "delivered", "err-code": "0" },
      bounce: { status: "failed", "err-code": "3" },
      soft_bounce: { status: "failed", "err-code": "2" },
      deferred: { status: "buffered" },
    };
    for (const [event, shape] of Object.entries(expected)) {
      const { arrival } = await emit({ provider: "vonage", event, recipient: "+15551230001", sender: "+15005550006" });
      expect(header(arrival, "content-type")).toBe("application/x-www-form-urlencoded");
      const params = Object.fromEntries(new URLSearchParams(arrival.body));
      expect(params.sig).toBe(md5hash(params, config.vonage.signatureSecret));
      expect(params).toMatchObject({
        ...shape,
        msisdn: "15551230001",
        to: "15005550006",
        "client-ref": LASTHOP_ID,
        nonce: expect.any(String),
      });
      expect(Math.abs(Number(params.timestamp) - Date.now() / 1000)).toBeLessThan(60);
    }
    const { arrival } = await emit({
      provider: "vonage",
      event: "mo",
      recipient: "15551230002",
      sender: "15005550006",
      text: "Stop please",
    });
    const params = Object.fromEntries(new URLSearchParams(arrival.body));
    expect(params.sig).toBe(md5hash(params, config.vonage.signatureSecret));
    expect(params).toMatchObject({ msisdn: "15551230002", to: "15005550006", text: "Stop please", keyword: "STOP", type: "text" });
    expect(params.status).toBeUndefined();
  });
});

describe("the control routes", () => {
  it("refuses an unknown provider, an event the provider has not, and a missing recipient with 400", async () => {
    const cases = [
      { provider: "sparkpost", event: "bounce", recipient: "a@example.com" },
      { provider: "vonage", event: "open", recipient: "+15551230003" },
      { provider: "sendgrid", event: "subscribe", recipient: "a@example.com" },
      { provider: "sendgrid", event: "bounce" },
      { provider: "vonage", event: "bounce", recipient: "not-a-number" },
    ];
    for (const body of cases) {
      const response = await control(sandbox, "POST", "/_sandbox/webhooks/emit", { url: hookUrl, ...body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect((await response.json()).error.code).toBe("invalid_emit");
    }
    expect(arrivals).toEqual([]);
  });

  it("keeps one provider message id per lasthopId (else per recipient), as a provider keeps one per message", async () => {
    const idOf = async (body: Record<string, unknown>) =>
      (await emit({ provider: "postmark", recipient: "same@example.com", ...body })).answer.payload.MessageID as string;
    const first = await idOf({ event: "delivered", lasthopId: "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b" });
    expect(await idOf({ event: "open", lasthopId: "6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b" })).toBe(first);
    const other = await idOf({ event: "delivered", lasthopId: "7f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b" });
    expect(other).not.toBe(first);
    expect(await idOf({ event: "bounce", lasthopId: "7f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b", providerMessageId: "given-1" })).toBe(
      "given-1",
    );
    // Two inbound texts are two messages.
    const mo = async () =>
      (await emit({ provider: "vonage", event: "mo", recipient: "+15551230009", text: "hi" })).answer.payload.messageId as string;
    expect(await mo()).not.toBe(await mo());
  });

  it("posts to the default target once one is set, says 400 before, and 502 when nothing answers", async () => {
    const fresh = await startTestSandbox();
    try {
      const body = { provider: "postmark", event: "bounce", recipient: "t@example.com" };
      const before = await control(fresh, "POST", "/_sandbox/webhooks/emit", body);
      expect(before.status).toBe(400);
      expect((await control(fresh, "GET", "/_sandbox/webhooks/target")).status).toBe(404);

      const origin = new URL(hookUrl).origin;
      const set = await control(fresh, "PUT", "/_sandbox/webhooks/target", { workerUrl: origin, account: "acct_1" });
      expect(await set.json()).toEqual({ workerUrl: origin, account: "acct_1", smsSender: "+15005550006" });
      const answer = await (await control(fresh, "POST", "/_sandbox/webhooks/emit", body)).json();
      expect(answer.url).toBe(`${origin}/v1/webhooks/postmark/acct_1`);
      expect(arrivals.map((a) => a.path)).toEqual(["/v1/webhooks/postmark/acct_1"]);

      const unreachable = await control(fresh, "POST", "/_sandbox/webhooks/emit", { ...body, url: "http://127.0.0.1:9/hook" });
      expect(unreachable.status).toBe(502);
      expect((await unreachable.json()).error.code).toBe("receiver_unreachable");
      expect((await control(fresh, "PUT", "/_sandbox/webhooks/target", { workerUrl: origin, account: "a/b" })).status).toBe(400);

      // Cleared, the target is gone again and emit without a url is refused as before.
      expect((await control(fresh, "DELETE", "/_sandbox/webhooks/target")).status).toBe(204);
      expect((await control(fresh, "GET", "/_sandbox/webhooks/target")).status).toBe(404);
      expect((await control(fresh, "POST", "/_sandbox/webhooks/emit", body)).status).toBe(400);
    } finally {
      await fresh.close();
    }
  });
});
