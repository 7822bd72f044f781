// The email and SMS providers' own webhook senders, played by the sandbox, so lasthop's
// `POST /v1/webhooks/{provider}/{account}` can be driven end to end without an account anywhere:
//   sendgrid  Signed Event Webhook: a JSON array of events; ECDSA P-256 / SHA-256 over
//             `timestamp + body`, base64 DER in X-Twilio-Email-Event-Webhook-Signature (and
//             -Timestamp), checked with the verification key (base64 DER SPKI);
//   ses       Amazon SNS carrying SES event publishing records: SignatureVersion 2 (SHA256withRSA
//             over SNS's canonical string), the certificate served by the control server at
//             /sns/SimpleNotificationService-sandbox.pem, subscriptions confirmed at /sns/confirm;
//   mailgun   JSON `{signature: {timestamp, token, signature}, "event-data": {...}}`, the signature
//             hex HMAC-SHA256(signing key, timestamp + token), a fresh random token each time;
//   postmark  one JSON record per request, HTTP Basic credentials (what Postmark sends for
//             `https://user:pass@host/...` webhook URLs);
//   resend    Svix-signed JSON (svix-id, svix-timestamp, svix-signature), signed by the `svix` package;
//   standard  any Standard Webhooks sender (webhook-id, -timestamp, -signature), signed by the
//             `standardwebhooks` package, with a body shape of its own described by `mapping`;
//   vonage    SMS API callbacks (delivery receipts, inbound messages) as a form POST, signed with
//             the signature secret, method "md5hash": hex MD5 of the sorted `&key=value` string
//             followed by the secret ("Signing Messages", developer.vonage.com).
// Every credential is made when the sandbox starts; `config()` is exactly what to PUT to lasthop's
// `/v1/providers/{provider}`. Nothing here is shared with src/: the signatures are computed with
// node:crypto and the providers' own libraries, so a bug of the Worker's cannot hide behind the
// same bug here.
import { execFileSync } from "node:child_process";
import { createHash, createHmac, createSign, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { CappedMap } from "./capped.ts";

export const WEBHOOK_PROVIDERS = ["sendgrid", "ses", "mailgun", "postmark", "resend", "standard", "vonage"] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

/** Events an email provider's sender can post; `bounce` is a hard bounce. */
export const EMAIL_EVENTS = ["delivered", "bounce", "soft_bounce", "deferred", "complaint", "open", "click"] as const;
/** Vonage's: receipts (`bounce` is err-code 3, a dead number; `soft_bounce` err-code 2; `deferred` buffered) and `mo`, an inbound text. */
export const SMS_EVENTS = ["delivered", "bounce", "soft_bounce", "deferred", "mo"] as const;
export type WebhookEvent = (typeof EMAIL_EVENTS)[number] | (typeof SMS_EVENTS)[number] | "subscribe";

export function eventsOf(provider: WebhookProvider): readonly WebhookEvent[] {
  if (provider === "vonage") return SMS_EVENTS;
  if (provider === "ses") return [...EMAIL_EVENTS, "subscribe"];
  return EMAIL_EVENTS;
}

export function isWebhookProvider(value: unknown): value is WebhookProvider {
  return typeof value === "string" && (WEBHOOK_PROVIDERS as readonly string[]).includes(value);
}

/** The key under which lasthop asks providers to echo its message id. */
export const OUR_ID_KEY = "lasthop_id";

export const SNS_CERT_PATH = "/sns/SimpleNotificationService-sandbox.pem";
export const SNS_CONFIRM_PATH = "/sns/confirm";
export const SNS_UNSUBSCRIBE_PATH = "/sns/unsubscribe";
const AWS_ACCOUNT = "123456789012";
const AWS_REGION = "us-east-1";
export const SNS_TOPIC_ARN = `arn:aws:sns:${AWS_REGION}:${AWS_ACCOUNT}:lasthop-sandbox-ses-events`;
/** Where Vonage callbacks come from when nothing else is said: the dev stack's first sending number. */
export const DEFAULT_SMS_SENDER = "+15005550006";
const FROM = "Lasthop Sandbox <news@lasthop.test>";
const SUBJECT = "Sandbox webhook test";

/**
 * The Standard Webhooks sender's body: `{type, timestamp, data: {message_id, to, metadata:
 * {lasthop_id}, bounce: {class, diagnostic}}}`, and the mapping that reads it.
 */
export const STANDARD_MAPPING = {
  type: "type",
  providerMessageId: "data.message_id",
  recipient: "data.to",
  occurredAt: "timestamp",
  messageId: `data.metadata.${OUR_ID_KEY}`,
  bounceClass: "data.bounce.class",
  diagnostic: "data.bounce.diagnostic",
  channel: "email",
  types: {
    "message.delivered": "delivered",
    "message.bounced": "bounced",
    "message.deferred": "deferred",
    "message.complained": "complained",
    "message.opened": "opened",
    "message.clicked": "clicked",
  },
} as const;

/** Bodies for `PUT /v1/providers/{provider}`, one per provider. */
export type ProviderConfigs = {
  sendgrid: { webhookPublicKey: string };
  ses: { topicArns: string[] };
  mailgun: { webhookSigningKey: string };
  postmark: { webhookUsername: string; webhookPassword: string };
  resend: { webhookSecret: string };
  standard: { webhookSecret: string; mapping: typeof STANDARD_MAPPING };
  vonage: { signatureSecret: string; signatureMethod: "md5hash" };
};

export type EmitInput = {
  provider: WebhookProvider;
  event: WebhookEvent;
  /** The address (email) or number (Vonage: the handset, E.164 with or without `+`). */
  recipient: string;
  /** Where to post; default `${workerUrl}/v1/webhooks/${provider}/${account}` of the target. */
  url?: string;
  /**
   * The provider's id of the message. When absent: the one this sender gave the same lasthopId
   * (else the same recipient) before, so a message's events stay one message's; else a fresh
   * one of the provider's format. A Vonage MO is always a new message.
   */
  providerMessageId?: string;
  /** lasthop's message id, put where the provider echoes it (custom args, tags, metadata, client-ref). */
  lasthopId?: string;
  /** Vonage `mo`: the text the handset sent (default "STOP"). */
  text?: string;
  /** Vonage: our number or sender id (a receipt's `to`, the number an MO was sent to). Default: the target's smsSender. */
  sender?: string;
};

/** One signed request, ready to post. `payload` is the body as an object (Vonage: its parameters). */
export type SignedRequest = { url: string; headers: Record<string, string>; body: string; payload: unknown };

export type EmitResult = { url: string; status: number; body: unknown; payload: unknown };

/** One webhook this sandbox posted, as GET /_sandbox/webhooks/sent lists it (the status is the receiver's; null: unreachable). */
export type SentWebhook = {
  at: string;
  provider: WebhookProvider;
  event: WebhookEvent;
  recipient: string;
  providerMessageId: string | null;
  lasthopId: string | null;
  status: number | null;
  /** Posts made: more than one when a 5xx, a 429 or no answer was retried. */
  attempts: number;
};

/** How often a post answered 5xx or 429, or not answered, is tried in all, the first wait (doubling after each), and what stops it. */
export type EmitRetry = { tries: number; firstBackoffMs: number; signal?: AbortSignal };

export type WebhookTarget = { workerUrl: string; account: string; smsSender: string };

export type SnsConfirmation = { topicArn: string; token: string; at: string };

/** What a caller got wrong; the routes answer it as 400. */
export class EmitInputError extends Error {}

const SNS_SIGNED_FIELDS = {
  Notification: ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
  SubscriptionConfirmation: ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
} as const;

/** SNS's canonical string ("Verifying the signatures of Amazon SNS messages"): each field present as `Name\nvalue\n`. */
export function snsStringToSign(message: Record<string, unknown>): string {
  const type = message.Type;
  if (type !== "Notification" && type !== "SubscriptionConfirmation" && type !== "UnsubscribeConfirmation") {
    throw new Error(`no SNS string to sign for Type ${String(type)}`);
  }
  const fields = type === "Notification" ? SNS_SIGNED_FIELDS.Notification : SNS_SIGNED_FIELDS.SubscriptionConfirmation;
  return fields
    .filter((name) => typeof message[name] === "string")
    .map((name) => `${name}\n${message[name] as string}\n`)
    .join("");
}

export type VonageSignatureMethod = "md5hash" | "md5" | "sha1" | "sha256" | "sha512";

/**
 * Vonage's signature over callback parameters: every one but `sig`, sorted by name, each as
 * `&name=value` with `&` and `=` in the value turned into `_`; md5hash appends the secret and
 * takes hex MD5, the others are hex HMACs keyed by the secret.
 */
export function vonageSignature(
  params: Readonly<Record<string, string>>,
  secret: string,
  method: VonageSignatureMethod = "md5hash",
): string {
  const signed = Object.keys(params)
    .filter((name) => name !== "sig")
    .sort()
    .map((name) => `&${name}=${params[name]!.replace(/[&=]/g, "_")}`)
    .join("");
  if (method === "md5hash")
    return createHash("md5")
      .update(signed + secret, "utf8")
      .digest("hex");
  return createHmac(method, secret).update(signed, "utf8").digest("hex");
}

type SnsKeys = { certificatePem: string; privateKey: KeyObject | string };

/** An RSA key and a self-signed certificate, made by openssl as SNS's signing certificate. */
function makeSnsCertificate(): SnsKeys {
  const dir = mkdtempSync(join(tmpdir(), "lasthop-sns-"));
  try {
    const [keyFile, certFile] = [join(dir, "sns-key.pem"), join(dir, "sns-cert.pem")];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-sha256",
        "-days",
        "30",
        "-subj",
        "/CN=sns.amazonaws.com",
        "-keyout",
        keyFile,
        "-out",
        certFile,
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    return { certificatePem: readFileSync(certFile, "utf8"), privateKey: readFileSync(keyFile, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const secretWord = (bytes: number) => randomBytes(bytes).toString("hex");
const unixSeconds = (at: Date) => Math.floor(at.getTime() / 1000);
/** "YYYY-MM-DD HH:MM:SS", UTC, as Vonage writes message-timestamp. */
const vonageTimestamp = (at: Date) => at.toISOString().slice(0, 19).replace("T", " ");
/** "YYMMDDhhmm", UTC, as Vonage writes scts. */
const scts = (at: Date) => at.toISOString().replace(/[-T:]/g, "").slice(2, 12);

/** A message id in the provider's own format (what its send API would have answered). */
function newMessageId(provider: WebhookProvider, at: Date): string {
  switch (provider) {
    case "sendgrid":
      // The X-Message-Id of the Mail Send API.
      return randomBytes(16).toString("base64url").slice(0, 22);
    case "ses":
      return `0100${randomBytes(6).toString("hex")}-${randomUUID()}-000000`;
    case "mailgun":
      return `${at.toISOString().replace(/[-T:]/g, "").slice(0, 14)}.${randomBytes(8).toString("hex")}@mg.lasthop.test`;
    case "postmark":
    case "resend":
      return randomUUID();
    case "standard":
      return `msg-${randomUUID()}`;
    case "vonage":
      return randomBytes(8).toString("hex").toUpperCase();
  }
}

export class ProviderWebhooks {
  readonly #sendgridKey: KeyObject;
  readonly #sendgridPublicKey: string;
  readonly #sns: SnsKeys;
  readonly #mailgunKey = secretWord(32);
  readonly #postmarkAuth = { webhookUsername: `sandbox-${secretWord(4)}`, webhookPassword: secretWord(24) };
  readonly #resendSecret = `whsec_${randomBytes(24).toString("base64")}`;
  readonly #standardSecret = `whsec_${randomBytes(32).toString("base64")}`;
  readonly #vonageSecret = randomBytes(24).toString("base64url");
  /** Subscription tokens this SNS issued, by token, and the confirmations received. */
  readonly #snsTokens = new CappedMap<string, string>(1000);
  readonly #confirmations: SnsConfirmation[] = [];
  /** Provider message ids handed out, by provider and lasthopId (or recipient). */
  readonly #messageIds = new CappedMap<string, string>(10_000);
  #origin: string | null = null;
  #target: WebhookTarget | null = null;
  #sent = 0;
  /** What was posted, oldest first (the last 10,000): a demo compares it with what lasthop recorded. */
  readonly #log: SentWebhook[] = [];

  constructor() {
    const pair = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    this.#sendgridKey = pair.privateKey;
    this.#sendgridPublicKey = pair.publicKey.export({ format: "der", type: "spki" }).toString("base64");
    this.#sns = makeSnsCertificate();
  }

  /** The control server's origin (known once it listens): SNS's certificate and confirmation URLs live there. */
  setOrigin(origin: string): void {
    this.#origin = origin;
  }

  setTarget(target: { workerUrl: string; account: string; smsSender?: string }): WebhookTarget {
    const workerUrl = new URL(target.workerUrl);
    if (workerUrl.protocol !== "http:" && workerUrl.protocol !== "https:") throw new EmitInputError("workerUrl must be an http(s) URL");
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(target.account))
      throw new EmitInputError("account must be an account id (letters, digits, _ and -)");
    this.#target = { workerUrl: workerUrl.origin, account: target.account, smsSender: target.smsSender ?? DEFAULT_SMS_SENDER };
    return this.#target;
  }

  /** No default target: the email simulators then post no webhooks of their own. */
  clearTarget(): void {
    this.#target = null;
  }

  get target(): WebhookTarget | null {
    return this.#target;
  }

  get certificatePem(): string {
    return this.#sns.certificatePem;
  }

  get confirmations(): readonly SnsConfirmation[] {
    return this.#confirmations;
  }

  /** Requests posted (whatever the answer). */
  get sent(): number {
    return this.#sent;
  }

  /** The webhooks posted, oldest first. */
  get log(): readonly SentWebhook[] {
    return this.#log;
  }

  config(): ProviderConfigs {
    return {
      sendgrid: { webhookPublicKey: this.#sendgridPublicKey },
      ses: { topicArns: [SNS_TOPIC_ARN] },
      mailgun: { webhookSigningKey: this.#mailgunKey },
      postmark: { ...this.#postmarkAuth },
      resend: { webhookSecret: this.#resendSecret },
      standard: { webhookSecret: this.#standardSecret, mapping: STANDARD_MAPPING },
      vonage: { signatureSecret: this.#vonageSecret, signatureMethod: "md5hash" },
    };
  }

  /** Where a provider's webhook goes when the caller names no URL. */
  defaultUrl(provider: WebhookProvider): string | null {
    const target = this.#target;
    return target ? `${target.workerUrl}/v1/webhooks/${provider}/${encodeURIComponent(target.account)}` : null;
  }

  /**
   * SNS's ConfirmSubscription: true (and recorded) for a token this SNS issued for that topic.
   * Confirming again is accepted, as SNS does.
   */
  confirmSubscription(topicArn: string, token: string): boolean {
    if (this.#snsTokens.get(token) !== topicArn) return false;
    this.#confirmations.push({ topicArn, token, at: new Date().toISOString() });
    if (this.#confirmations.length > 1000) this.#confirmations.shift();
    return true;
  }

  /** The provider's payload for the event, signed as the provider signs it. */
  build(input: EmitInput): SignedRequest {
    const events = eventsOf(input.provider);
    if (!events.includes(input.event)) {
      throw new EmitInputError(`${input.provider} has no event ${String(input.event)}; it has ${events.join(", ")}`);
    }
    if (typeof input.recipient !== "string" || input.recipient.trim() === "")
      throw new EmitInputError("recipient must be a non-empty string");
    const url = input.url ?? this.defaultUrl(input.provider);
    if (!url) {
      throw new EmitInputError("no url: pass url, or set the default Worker with PUT /_sandbox/webhooks/target {workerUrl, account}");
    }
    const parsed = URL.canParse(url) ? new URL(url) : null;
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) throw new EmitInputError("url must be an http(s) URL");
    const at = new Date();
    input = { ...input, recipient: input.recipient.trim() };
    if (!input.providerMessageId && input.event !== "subscribe" && input.event !== "mo") {
      const key = `${input.provider}\n${input.lasthopId ?? `to:${input.recipient.toLowerCase()}`}`;
      const known = this.#messageIds.get(key);
      if (known) input.providerMessageId = known;
      else {
        input.providerMessageId = newMessageId(input.provider, at);
        this.#messageIds.set(key, input.providerMessageId);
      }
    }
    switch (input.provider) {
      case "sendgrid":
        return this.#sendgrid(url, input, at);
      case "ses":
        return this.#ses(url, input, at);
      case "mailgun":
        return this.#mailgun(url, input, at);
      case "postmark":
        return this.#postmark(url, input, at);
      case "resend":
        return this.#resend(url, input, at);
      case "standard":
        return this.#standard(url, input, at);
      case "vonage":
        return this.#vonage(url, input, at);
    }
  }

  /**
   * Builds, signs and posts; the answer is the receiver's. With `retry`, a post answered 5xx or
   * 429, or not answered, is made again (the same signed request) after a backoff, as the
   * providers retry theirs: the answer is then the last one. `request`: one already built (the
   * ESP simulator keeps Mailgun's event-data for its Events API, so both carry one event id).
   */
  async emit(
    input: EmitInput,
    retry: EmitRetry = { tries: 1, firstBackoffMs: 0 },
    request: SignedRequest = this.build(input),
  ): Promise<EmitResult> {
    const entry: SentWebhook = {
      at: new Date().toISOString(),
      provider: input.provider,
      event: input.event,
      recipient: input.recipient.trim(),
      providerMessageId: input.providerMessageId ?? null,
      lasthopId: input.lasthopId ?? null,
      status: null,
      attempts: 0,
    };
    this.#log.push(entry);
    if (this.#log.length > 10_000) this.#log.shift();
    for (let attempt = 1; ; attempt++) {
      this.#sent++;
      entry.attempts = attempt;
      let response: Response;
      try {
        response = await fetch(request.url, {
          method: "POST",
          headers: request.headers,
          body: request.body,
          redirect: "manual",
          signal: retry.signal ? AbortSignal.any([retry.signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000),
        });
      } catch (cause) {
        if (attempt >= retry.tries || retry.signal?.aborted) throw cause;
        await sleep(retry.firstBackoffMs * 2 ** (attempt - 1), undefined, retry.signal ? { signal: retry.signal } : {});
        continue;
      }
      entry.status = response.status;
      const text = await response.text();
      // A refusal that says "later" (5xx, 429) is retried; any other answer is the receiver's verdict.
      if ((response.status >= 500 || response.status === 429) && attempt < retry.tries && !retry.signal?.aborted) {
        await sleep(retry.firstBackoffMs * 2 ** (attempt - 1), undefined, retry.signal ? { signal: retry.signal } : {});
        continue;
      }
      let body: unknown = text === "" ? null : text;
      try {
        if (text !== "") body = JSON.parse(text);
      } catch {
        // Not JSON: the text as it came.
      }
      return { url: request.url, status: response.status, body, payload: request.payload };
    }
  }

  // ---- SendGrid: a batch (here of one) of Event Webhook events. ----

  #sendgrid(url: string, input: EmitInput, at: Date): SignedRequest {
    const base = input.providerMessageId!;
    const common = {
      email: input.recipient,
      timestamp: unixSeconds(at),
      "smtp-id": `<${base}@geopod-ismtpd-sandbox>`,
      sg_event_id: randomBytes(16).toString("base64url"),
      // The X-Message-Id the send returned, then SendGrid's own suffix.
      sg_message_id: `${base}.filterdrecv-sandbox-1-${randomBytes(4).toString("hex").toUpperCase()}-0.0`,
      category: ["sandbox"],
      ...(input.lasthopId ? { [OUR_ID_KEY]: input.lasthopId } : {}),
    };
    const agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
    const byEvent: Record<string, Record<string, unknown>> = {
      delivered: { event: "delivered", response: "250 2.0.0 OK  1700000000 sandbox", tls: 1 },
      bounce: {
        event: "bounce",
        type: "bounce",
        bounce_classification: "Invalid Address",
        status: "5.1.1",
        reason: "550 5.1.1 The email account that you tried to reach does not exist.",
        tls: 1,
      },
      soft_bounce: {
        event: "bounce",
        type: "blocked",
        bounce_classification: "Mailbox Unavailable",
        status: "4.2.2",
        reason: "452 4.2.2 The email account that you tried to reach is over quota.",
        tls: 1,
      },
      deferred: { event: "deferred", response: "421 4.7.0 Try again later, closing connection.", attempt: "1", tls: 1 },
      complaint: { event: "spamreport" },
      open: { event: "open", sg_machine_open: false, useragent: agent, ip: "192.0.2.10" },
      click: {
        event: "click",
        url: "https://lasthop.test/welcome",
        url_offset: { index: 0, type: "html" },
        useragent: agent,
        ip: "192.0.2.10",
      },
    };
    const payload = [{ ...common, ...byEvent[input.event] }];
    const body = JSON.stringify(payload);
    const timestamp = String(unixSeconds(at));
    // node:crypto writes ECDSA signatures as DER, as SendGrid sends them.
    const signature = createSign("sha256")
      .update(timestamp + body, "utf8")
      .sign(this.#sendgridKey)
      .toString("base64");
    return {
      url,
      body,
      payload,
      headers: {
        "content-type": "application/json",
        "user-agent": "SendGrid Event API",
        "X-Twilio-Email-Event-Webhook-Signature": signature,
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
      },
    };
  }

  // ---- Amazon SES event publishing, through an SNS topic. ----

  #ses(url: string, input: EmitInput, at: Date): SignedRequest {
    const origin = this.#requireOrigin();
    const iso = at.toISOString();
    if (input.event === "subscribe") {
      const token = randomBytes(64).toString("hex");
      this.#snsTokens.set(token, SNS_TOPIC_ARN);
      const subscribeUrl = `${origin}${SNS_CONFIRM_PATH}?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(SNS_TOPIC_ARN)}&Token=${token}`;
      return this.#snsRequest(url, {
        Type: "SubscriptionConfirmation",
        MessageId: randomUUID(),
        Token: token,
        TopicArn: SNS_TOPIC_ARN,
        Message: `You have chosen to subscribe to the topic ${SNS_TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
        SubscribeURL: subscribeUrl,
        Timestamp: iso,
      });
    }
    const messageId = input.providerMessageId!;
    const mail = {
      timestamp: new Date(at.getTime() - 2000).toISOString(),
      source: "news@lasthop.test",
      sourceArn: `arn:aws:ses:${AWS_REGION}:${AWS_ACCOUNT}:identity/lasthop.test`,
      sendingAccountId: AWS_ACCOUNT,
      messageId,
      destination: [input.recipient],
      headersTruncated: false,
      headers: [
        { name: "From", value: FROM },
        { name: "To", value: input.recipient },
        { name: "Subject", value: SUBJECT },
        { name: "MIME-Version", value: "1.0" },
        { name: "Content-Type", value: "text/plain; charset=UTF-8" },
      ],
      commonHeaders: { from: [FROM], to: [input.recipient], messageId, subject: SUBJECT },
      tags: {
        "ses:configuration-set": ["lasthop-sandbox"],
        "ses:source-ip": ["192.0.2.1"],
        "ses:from-domain": ["lasthop.test"],
        "ses:caller-identity": ["lasthop-sandbox"],
        ...(input.lasthopId ? { [OUR_ID_KEY]: [input.lasthopId] } : {}),
      },
    };
    const feedbackId = () => `0100${randomBytes(6).toString("hex")}-${randomUUID()}-000000`;
    const agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)";
    const byEvent: Record<string, Record<string, unknown>> = {
      delivered: {
        eventType: "Delivery",
        delivery: {
          timestamp: iso,
          processingTimeMillis: 1480,
          recipients: [input.recipient],
          smtpResponse: "250 2.6.0 Message received",
          reportingMTA: "a8-70.smtp-out.amazonses.com",
        },
      },
      bounce: {
        eventType: "Bounce",
        bounce: {
          bounceType: "Permanent",
          bounceSubType: "General",
          bouncedRecipients: [
            { emailAddress: input.recipient, action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" },
          ],
          timestamp: iso,
          feedbackId: feedbackId(),
          reportingMTA: "dsn; a8-70.smtp-out.amazonses.com",
        },
      },
      soft_bounce: {
        eventType: "Bounce",
        bounce: {
          bounceType: "Transient",
          bounceSubType: "MailboxFull",
          bouncedRecipients: [
            {
              emailAddress: input.recipient,
              action: "failed",
              status: "4.2.2",
              diagnosticCode: "smtp; 452 4.2.2 The email account that you tried to reach is over quota",
            },
          ],
          timestamp: iso,
          feedbackId: feedbackId(),
          reportingMTA: "dsn; a8-70.smtp-out.amazonses.com",
        },
      },
      deferred: {
        eventType: "DeliveryDelay",
        deliveryDelay: {
          timestamp: iso,
          delayType: "TransientCommunicationFailure",
          expirationTime: new Date(at.getTime() + 12 * 3600_000).toISOString(),
          delayedRecipients: [
            { emailAddress: input.recipient, status: "4.4.1", diagnosticCode: "smtp; 421 4.4.1 Unable to connect to remote host" },
          ],
        },
      },
      complaint: {
        eventType: "Complaint",
        complaint: {
          feedbackId: feedbackId(),
          complaintSubType: null,
          complainedRecipients: [{ emailAddress: input.recipient }],
          timestamp: iso,
          userAgent: "Mozilla/5.0 (compatible; Feedback-Loop)",
          complaintFeedbackType: "abuse",
          arrivalDate: iso,
        },
      },
      open: { eventType: "Open", open: { ipAddress: "192.0.2.20", timestamp: iso, userAgent: agent } },
      click: {
        eventType: "Click",
        click: { ipAddress: "192.0.2.20", link: "https://lasthop.test/welcome", linkTags: {}, timestamp: iso, userAgent: agent },
      },
    };
    const record = { ...byEvent[input.event], mail };
    return this.#snsRequest(url, {
      Type: "Notification",
      MessageId: randomUUID(),
      TopicArn: SNS_TOPIC_ARN,
      Subject: "Amazon SES Email Event Notification",
      Message: JSON.stringify(record),
      Timestamp: iso,
      UnsubscribeURL: `${origin}${SNS_UNSUBSCRIBE_PATH}?Action=Unsubscribe&SubscriptionArn=${encodeURIComponent(`${SNS_TOPIC_ARN}:${randomUUID()}`)}`,
    });
  }

  /** Signs an SNS message (SignatureVersion 2) and wraps it as SNS posts it. */
  #snsRequest(url: string, fields: Record<string, string>): SignedRequest {
    const origin = this.#requireOrigin();
    const message: Record<string, string> = {
      ...fields,
      SignatureVersion: "2",
      SigningCertURL: `${origin}${SNS_CERT_PATH}`,
    };
    message.Signature = createSign("RSA-SHA256").update(snsStringToSign(message), "utf8").sign(this.#sns.privateKey).toString("base64");
    return {
      url,
      body: JSON.stringify(message),
      payload: message,
      headers: {
        // SNS posts JSON as text/plain.
        "content-type": "text/plain; charset=UTF-8",
        "user-agent": "Amazon Simple Notification Service Agent",
        "x-amz-sns-message-type": fields.Type!,
        "x-amz-sns-message-id": fields.MessageId!,
        "x-amz-sns-topic-arn": fields.TopicArn!,
      },
    };
  }

  #requireOrigin(): string {
    if (!this.#origin) throw new Error("the sandbox's origin is not known yet (setOrigin)");
    return this.#origin;
  }

  // ---- Mailgun: one event per request, the signature inside the body. ----

  #mailgun(url: string, input: EmitInput, at: Date): SignedRequest {
    const timestamp = String(unixSeconds(at));
    const token = randomBytes(25).toString("hex");
    const signature = createHmac("sha256", this.#mailgunKey)
      .update(timestamp + token, "utf8")
      .digest("hex");
    const messageId = input.providerMessageId!;
    const domain = input.recipient.split("@")[1] ?? "";
    const common = {
      id: randomBytes(16).toString("base64url").slice(0, 22),
      timestamp: at.getTime() / 1000,
      recipient: input.recipient,
      "recipient-domain": domain,
      tags: ["sandbox"],
      campaigns: [],
      "user-variables": input.lasthopId ? { [OUR_ID_KEY]: input.lasthopId } : {},
      envelope: { sender: "bounce+sandbox@mg.lasthop.test", targets: input.recipient, transport: "smtp", "sending-ip": "192.0.2.30" },
      flags: { "is-routed": false, "is-authenticated": true, "is-system-test": false, "is-test-mode": false },
      message: {
        headers: { to: input.recipient, "message-id": messageId, from: FROM, subject: SUBJECT },
        attachments: [],
        size: 1024,
      },
    };
    const client = {
      "client-os": "macOS",
      "device-type": "desktop",
      "client-name": "Apple Mail",
      "client-type": "email client",
      "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    };
    const byEvent: Record<string, Record<string, unknown>> = {
      delivered: {
        event: "delivered",
        "log-level": "info",
        "delivery-status": {
          tls: true,
          "mx-host": `mx.${domain}`,
          code: 250,
          description: "",
          "session-seconds": 0.4,
          "attempt-no": 1,
          message: "OK",
          "certificate-verified": true,
        },
      },
      bounce: {
        event: "failed",
        "log-level": "error",
        severity: "permanent",
        reason: "bounce",
        "delivery-status": {
          tls: true,
          "mx-host": `mx.${domain}`,
          code: 550,
          "enhanced-code": "5.1.1",
          "bounce-type": "hard",
          description: "",
          "attempt-no": 1,
          message: "5.1.1 The email account that you tried to reach does not exist.",
          "session-seconds": 0.3,
        },
      },
      // Mailgun gave up after its retries; its own bounce-type calls the failure soft.
      soft_bounce: {
        event: "failed",
        "log-level": "error",
        severity: "permanent",
        reason: "generic",
        "delivery-status": {
          tls: true,
          "mx-host": `mx.${domain}`,
          code: 452,
          "enhanced-code": "4.2.2",
          "bounce-type": "soft",
          description: "",
          "attempt-no": 8,
          message: "4.2.2 The email account that you tried to reach is over quota.",
          "session-seconds": 0.3,
        },
      },
      // A temporary failure: Mailgun retries it itself.
      deferred: {
        event: "failed",
        "log-level": "warn",
        severity: "temporary",
        reason: "generic",
        "delivery-status": {
          "mx-host": `mx.${domain}`,
          code: 421,
          description: "",
          "attempt-no": 1,
          message: "4.4.1 Unable to connect to remote host",
          "retry-seconds": 600,
          "session-seconds": 30,
        },
      },
      complaint: { event: "complained", "log-level": "warn" },
      open: {
        event: "opened",
        "log-level": "info",
        ip: "192.0.2.40",
        geolocation: { country: "US", region: "CA", city: "San Francisco" },
        "client-info": client,
      },
      click: {
        event: "clicked",
        "log-level": "info",
        url: "https://lasthop.test/welcome",
        ip: "192.0.2.40",
        geolocation: { country: "US", region: "CA", city: "San Francisco" },
        "client-info": client,
      },
    };
    const payload = { signature: { timestamp, token, signature }, "event-data": { ...common, ...byEvent[input.event] } };
    return {
      url,
      body: JSON.stringify(payload),
      payload,
      headers: { "content-type": "application/json", "user-agent": "mailgun/treq-16.12.0" },
    };
  }

  // ---- Postmark: one record per request, HTTP Basic credentials. ----

  #postmark(url: string, input: EmitInput, at: Date): SignedRequest {
    const iso = at.toISOString();
    const messageId = input.providerMessageId!;
    const metadata = input.lasthopId ? { [OUR_ID_KEY]: input.lasthopId } : {};
    const common = { MessageID: messageId, MessageStream: "outbound", Tag: "sandbox", Metadata: metadata };
    const bounce = (fields: Record<string, unknown>) => ({
      RecordType: "Bounce",
      ID: Number.parseInt(randomBytes(4).toString("hex"), 16),
      ServerID: 1234,
      Email: input.recipient,
      From: "news@lasthop.test",
      BouncedAt: iso,
      DumpAvailable: false,
      Subject: SUBJECT,
      Content: "",
      ...common,
      ...fields,
    });
    const client = { Name: "Apple Mail", Company: "Apple", Family: "Apple Mail" };
    const os = { Name: "macOS", Company: "Apple", Family: "macOS" };
    const agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)";
    const byEvent: Record<string, () => Record<string, unknown>> = {
      delivered: () => ({
        RecordType: "Delivery",
        ServerID: 1234,
        Recipient: input.recipient,
        DeliveredAt: iso,
        Details: "smtp;250 2.0.0 OK",
        ...common,
      }),
      bounce: () =>
        bounce({
          Type: "HardBounce",
          TypeCode: 1,
          Name: "Hard bounce",
          Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
          Details: "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
          Inactive: true,
          CanActivate: true,
        }),
      soft_bounce: () =>
        bounce({
          Type: "SoftBounce",
          TypeCode: 4096,
          Name: "Soft bounce",
          Description: "Unable to temporarily deliver this message.",
          Details: "smtp;452 4.2.2 The email account that you tried to reach is over quota.",
          Inactive: false,
          CanActivate: true,
        }),
      deferred: () =>
        bounce({
          Type: "Transient",
          TypeCode: 2,
          Name: "Message delayed",
          Description: "The server could not temporarily deliver your message (ex: Message is delayed due to network troubles).",
          Details: "smtp;421 4.4.1 Unable to connect to remote host",
          Inactive: false,
          CanActivate: true,
        }),
      complaint: () =>
        bounce({
          RecordType: "SpamComplaint",
          Type: "SpamComplaint",
          TypeCode: 512,
          Name: "Spam complaint",
          Description: "The subscriber explicitly marked this message as spam.",
          Details: "Test spam complaint details",
          Inactive: true,
          CanActivate: false,
        }),
      open: () => ({
        RecordType: "Open",
        FirstOpen: true,
        Recipient: input.recipient,
        ReceivedAt: iso,
        Platform: "Desktop",
        ReadSeconds: 5,
        UserAgent: agent,
        Client: client,
        OS: os,
        Geo: { CountryISOCode: "US", Country: "United States", City: "San Francisco", IP: "192.0.2.50" },
        ...common,
      }),
      click: () => ({
        RecordType: "Click",
        ClickLocation: "HTML",
        OriginalLink: "https://lasthop.test/welcome",
        Recipient: input.recipient,
        ReceivedAt: iso,
        Platform: "Desktop",
        UserAgent: agent,
        Client: client,
        OS: os,
        Geo: { CountryISOCode: "US", Country: "United States", City: "San Francisco", IP: "192.0.2.50" },
        ...common,
      }),
    };
    const payload = byEvent[input.event]!();
    const credentials = Buffer.from(`${this.#postmarkAuth.webhookUsername}:${this.#postmarkAuth.webhookPassword}`, "utf8").toString(
      "base64",
    );
    return {
      url,
      body: JSON.stringify(payload),
      payload,
      headers: { "content-type": "application/json", "user-agent": "Postmark", authorization: `Basic ${credentials}` },
    };
  }

  // ---- Resend: Svix-signed JSON. ----

  #resend(url: string, input: EmitInput, at: Date): SignedRequest {
    const iso = at.toISOString();
    const data: Record<string, unknown> = {
      created_at: new Date(at.getTime() - 2000).toISOString(),
      email_id: input.providerMessageId!,
      from: FROM,
      to: [input.recipient],
      subject: SUBJECT,
      tags: { category: "sandbox", ...(input.lasthopId ? { [OUR_ID_KEY]: input.lasthopId } : {}) },
    };
    const agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko)";
    const byEvent: Record<string, [string, Record<string, unknown>]> = {
      delivered: ["email.delivered", {}],
      bounce: [
        "email.bounced",
        {
          bounce: {
            diagnosticCode: ["smtp; 550 5.1.1 The email account that you tried to reach does not exist"],
            message: "The recipient's email address does not exist.",
            subType: "General",
            type: "Permanent",
          },
        },
      ],
      soft_bounce: [
        "email.bounced",
        {
          bounce: {
            diagnosticCode: ["smtp; 452 4.2.2 The email account that you tried to reach is over quota"],
            message: "The recipient's mailbox is full.",
            subType: "MailboxFull",
            type: "Transient",
          },
        },
      ],
      deferred: ["email.delivery_delayed", {}],
      complaint: ["email.complained", {}],
      open: ["email.opened", {}],
      click: [
        "email.clicked",
        { click: { ipAddress: "192.0.2.60", link: "https://lasthop.test/welcome", timestamp: iso, userAgent: agent } },
      ],
    };
    const [type, extra] = byEvent[input.event]!;
    const payload = { type, created_at: iso, data: { ...data, ...extra } };
    const body = JSON.stringify(payload);
    const id = `msg_${randomBytes(18).toString("base64url")}`;
    return {
      url,
      body,
      payload,
      headers: {
        "content-type": "application/json",
        "user-agent": "Svix-Webhooks/1.0",
        "svix-id": id,
        "svix-timestamp": String(unixSeconds(at)),
        "svix-signature": new SvixWebhook(this.#resendSecret).sign(id, at, body),
      },
    };
  }

  // ---- Any Standard Webhooks sender, in the shape STANDARD_MAPPING reads. ----

  #standard(url: string, input: EmitInput, at: Date): SignedRequest {
    const byEvent: Record<string, [string, Record<string, unknown>]> = {
      delivered: ["message.delivered", {}],
      bounce: [
        "message.bounced",
        { bounce: { class: "hard", diagnostic: "550 5.1.1 The email account that you tried to reach does not exist" } },
      ],
      soft_bounce: [
        "message.bounced",
        { bounce: { class: "soft", diagnostic: "452 4.2.2 The email account that you tried to reach is over quota" } },
      ],
      deferred: ["message.deferred", { bounce: { class: "soft", diagnostic: "421 4.4.1 Unable to connect to remote host" } }],
      complaint: ["message.complained", {}],
      open: ["message.opened", {}],
      click: ["message.clicked", { url: "https://lasthop.test/welcome" }],
    };
    const [type, extra] = byEvent[input.event]!;
    const payload = {
      type,
      timestamp: at.toISOString(),
      data: {
        message_id: input.providerMessageId!,
        to: input.recipient,
        metadata: input.lasthopId ? { [OUR_ID_KEY]: input.lasthopId } : {},
        ...extra,
      },
    };
    const body = JSON.stringify(payload);
    const id = `msg_${randomBytes(18).toString("base64url")}`;
    return {
      url,
      body,
      payload,
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(unixSeconds(at)),
        "webhook-signature": new StandardWebhook(this.#standardSecret).sign(id, at, body),
      },
    };
  }

  // ---- Vonage SMS API callbacks: a delivery receipt, or an inbound message. ----

  #vonage(url: string, input: EmitInput, at: Date): SignedRequest {
    const handset = input.recipient.trim().replace(/^\+/, "");
    if (!/^\d{6,15}$/.test(handset)) throw new EmitInputError("recipient must be the handset's number (E.164, with or without +)");
    const sender = (input.sender ?? this.#target?.smsSender ?? DEFAULT_SMS_SENDER).replace(/^\+/, "");
    const messageId = input.providerMessageId ?? newMessageId("vonage", at);
    let params: Record<string, string>;
    if (input.event === "mo") {
      const text = input.text ?? "STOP";
      params = {
        msisdn: handset,
        to: sender,
        messageId,
        text,
        // GSM-7 text is "text"; anything else arrives as "unicode".
        type: /^[\x20-\x7e\n\r]*$/.test(text) ? "text" : "unicode",
        keyword: (text.trim().split(/\s+/)[0] ?? "").toUpperCase(),
        "api-key": "sandbox1",
        "message-timestamp": vonageTimestamp(at),
      };
    } else {
      const receipts: Record<string, { status: string; errCode: string }> = {
        delivered: { status: "delivered", errCode: "0" },
        bounce: { status: "failed", errCode: "3" },
        soft_bounce: { status: "failed", errCode: "2" },
        deferred: { status: "buffered", errCode: "0" },
      };
      const receipt = receipts[input.event]!;
      params = {
        msisdn: handset,
        to: sender,
        "network-code": "310260",
        messageId,
        price: "0.00750000",
        status: receipt.status,
        scts: scts(at),
        "err-code": receipt.errCode,
        "api-key": "sandbox1",
        "message-timestamp": vonageTimestamp(at),
        ...(input.lasthopId ? { "client-ref": input.lasthopId } : {}),
      };
    }
    params.timestamp = String(unixSeconds(at));
    params.nonce = randomUUID();
    params.sig = vonageSignature(params, this.#vonageSecret, "md5hash");
    return {
      url,
      body: new URLSearchParams(params).toString(),
      payload: params,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    };
  }
}
