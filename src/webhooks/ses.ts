/**
 * Amazon SNS message signatures (SES events arrive through SNS), the pure half, following
 * "Verifying the signatures of Amazon SNS messages" (docs.aws.amazon.com/sns/latest/dg/
 * sns-verify-signature-of-message.html). The caller, in order:
 *  1. checks `certUrlAllowed(message.SigningCertURL)` before fetching anything;
 *  2. fetches (and caches) that PEM certificate;
 *  3. calls `verify(message, { certificatePem, topicArns })`, which checks the topic, the
 *     certificate URL again and the signature.
 */
import { importX509 } from "jose";
import { z } from "zod";
import { classOf, type Classification } from "../core/bounce/classify.ts";
import { bestEnhancedCode, enhancedCodesIn, replyCodeIn } from "../core/bounce/codes.ts";
import { typedValue } from "../core/bounce/fields.ts";
import { fromBase64, utf8 } from "../core/bytes.ts";
import type { EventType } from "../core/model.ts";
import {
  classifyProviderBounce,
  isoTime,
  type NormalizeContext,
  type NormalizeResult,
  OUR_ID_KEY,
  ourId,
  type ProviderEvent,
  providerEvent,
  providerEventId,
} from "../core/provider-event.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";
import { addressOf, compact, invalid } from "../core/esp/events.ts";

/** Regional SNS endpoints, China's included; anchored so `sns.x.amazonaws.com.evil.com` fails. */
export const SNS_CERT_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

const common = {
  MessageId: z.string().min(1),
  TopicArn: z.string().min(1),
  Message: z.string(),
  Timestamp: z.string().min(1),
  SignatureVersion: z.enum(["1", "2"]),
  Signature: z.string().min(1),
  SigningCertURL: z.string().min(1),
};

export const snsMessage = z.discriminatedUnion("Type", [
  z.object({ Type: z.literal("Notification"), Subject: z.string().nullish(), ...common }),
  z.object({
    Type: z.enum(["SubscriptionConfirmation", "UnsubscribeConfirmation"]),
    SubscribeURL: z.string().min(1),
    Token: z.string().min(1),
    ...common,
  }),
]);
export type SnsMessage = z.infer<typeof snsMessage>;

/** The signed fields in byte order of their names, each as `name\nvalue\n`. */
export function stringToSign(message: SnsMessage): string {
  const fields: Array<[string, string | null | undefined]> =
    message.Type === "Notification"
      ? [
          ["Message", message.Message],
          ["MessageId", message.MessageId],
          // Signed only when the message has one.
          ["Subject", message.Subject],
          ["Timestamp", message.Timestamp],
          ["TopicArn", message.TopicArn],
          ["Type", message.Type],
        ]
      : [
          ["Message", message.Message],
          ["MessageId", message.MessageId],
          ["SubscribeURL", message.SubscribeURL],
          ["Timestamp", message.Timestamp],
          ["Token", message.Token],
          ["TopicArn", message.TopicArn],
          ["Type", message.Type],
        ];
  return fields
    .filter((field): field is [string, string] => typeof field[1] === "string")
    .map(([name, value]) => `${name}\n${value}\n`)
    .join("");
}

/**
 * Where an SNS message may send us (a certificate to fetch, a subscription to confirm): no
 * credentials; the origin SNS's own (https, an SNS host, no port) unless `originPattern` says
 * otherwise (the local sandbox); a certificate's path ends `.pem`.
 */
export function snsUrlAllowed(
  url: string,
  kind: "cert" | "subscribe",
  originPattern?: RegExp,
  hostPattern: RegExp = SNS_CERT_HOST,
): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.username || parsed.password) return false;
  if (kind === "cert" && !parsed.pathname.endsWith(".pem")) return false;
  if (originPattern) return originPattern.test(parsed.origin);
  return parsed.protocol === "https:" && !parsed.port && hostPattern.test(parsed.hostname);
}

/** https, an SNS host, no credentials or port, a `.pem` path: where AWS serves signing certificates. */
export function certUrlAllowed(url: string, hostPattern: RegExp = SNS_CERT_HOST): boolean {
  return snsUrlAllowed(url, "cert", undefined, hostPattern);
}

export function topicAllowed(arn: string, topicArns: readonly string[]): boolean {
  return topicArns.includes(arn);
}

/**
 * The certificate's RSA public key for one hash. jose's importX509 finds the key in the
 * certificate (no parser of ours), but knows no SHA-1 algorithm, so the key is re-imported.
 */
async function publicKey(certificatePem: string, hash: "SHA-1" | "SHA-256"): Promise<CryptoKey> {
  const key = await importX509(certificatePem.trim(), "RS256", { extractable: true });
  const spki = await crypto.subtle.exportKey("spki", key);
  return crypto.subtle.importKey("spki", spki, { name: "RSASSA-PKCS1-v1_5", hash }, false, ["verify"]);
}

export type SnsVerifyOptions = {
  /** The PEM certificate fetched from the message's SigningCertURL. */
  certificatePem: string;
  /** The topics this endpoint subscribed to; any other is refused. */
  topicArns: readonly string[];
  /** The certificate URL rule; `certUrlAllowed` (SNS's own hosts) unless the caller has its own. */
  certUrlAllowed?: (url: string) => boolean;
};

/** `body` is the parsed JSON of the request. */
export async function verify(body: unknown, options: SnsVerifyOptions): Promise<VerifyResult> {
  const parsed = snsMessage.safeParse(body);
  if (!parsed.success) return { ok: false, reason: "malformed_message" };
  const message = parsed.data;
  if (!topicAllowed(message.TopicArn, options.topicArns)) return { ok: false, reason: "unknown_topic" };
  if (!(options.certUrlAllowed ?? certUrlAllowed)(message.SigningCertURL)) return { ok: false, reason: "cert_url_not_allowed" };
  let key: CryptoKey;
  try {
    key = await publicKey(options.certificatePem, message.SignatureVersion === "1" ? "SHA-1" : "SHA-256");
  } catch {
    return { ok: false, reason: "bad_certificate" };
  }
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = fromBase64(message.Signature);
  } catch {
    return { ok: false, reason: "malformed_signature" };
  }
  const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, utf8(stringToSign(message)));
  return valid ? { ok: true } : { ok: false, reason: "bad_signature" };
}

/*
 * normalize: one SES notification (the JSON inside the SNS `Message`, verified and parsed by
 * the route) as canonical events. Two shapes carry the same objects: identity notifications
 * name their kind in `notificationType` (Bounce, Complaint, Delivery), a configuration set's
 * event publishing in `eventType` (those three and Send, Reject, Open, Click, Rendering
 * Failure, DeliveryDelay, Subscription). Fields as in "Contents of event data that Amazon SES
 * publishes to Amazon SNS" and "Amazon SNS notification contents for Amazon SES".
 */

const PROVIDER = "ses";

/** An optional string: SES writes null for some absent fields (complaintSubType). */
const text = z.string().nullish();

const sesMail = z.looseObject({
  messageId: z.string().min(1).max(256),
  timestamp: text,
  destination: z.array(z.string()).default([]),
  /** Event publishing only (identity notifications carry no tags): each value is an array of strings. */
  tags: z.record(z.string(), z.unknown()).nullish(),
});
type SesMail = z.infer<typeof sesMail>;

const dsnRecipient = z.looseObject({ emailAddress: z.string(), action: text, status: text, diagnosticCode: text });
const topicPreferences = z.looseObject({
  unsubscribeAll: z.boolean().nullish(),
  topicSubscriptionStatus: z.array(z.looseObject({ topicName: z.string(), subscriptionStatus: z.string() })).nullish(),
});
type TopicPreferences = z.infer<typeof topicPreferences>;

/** One event before the fields they all share. */
type Draft = {
  type: EventType;
  recipient: string;
  /** The event's own timestamp as SES wrote it; the mail's stands in when it has none. */
  at?: string | null;
  /** SES's id of the bounce or complaint report. */
  feedbackId?: string | null;
  /** What tells two events of one notification apart beyond the recipient (a topic). */
  distinct?: string;
  detail: Record<string, unknown>;
};
type Found = { drafts: Draft[]; skip?: string };
type Parsed = { ok: true; mail: SesMail; found: Found } | { ok: false; error: z.ZodError };

/** One kind of notification: its schema (the mail and the kind's own object) and its drafts. */
function kind<S extends z.ZodType<{ mail: SesMail }>>(schema: S, draft: (data: z.output<S>) => Found) {
  return (body: unknown): Parsed => {
    const parsed = schema.safeParse(body);
    return parsed.success ? { ok: true, mail: parsed.data.mail, found: draft(parsed.data) } : { ok: false, error: parsed.error };
  };
}

const KINDS: Record<string, (body: unknown) => Parsed> = {
  Bounce: kind(
    z.looseObject({
      mail: sesMail,
      bounce: z.looseObject({
        bounceType: z.string(),
        bounceSubType: text,
        bouncedRecipients: z.array(dsnRecipient),
        timestamp: text,
        feedbackId: text,
        reportingMTA: text,
      }),
    }),
    ({ bounce }) => ({
      drafts: bounce.bouncedRecipients.map((r) => {
        const facts = smtpFacts(r.status, r.diagnosticCode);
        const verdict = classifySesBounce({ ...bounce, ...facts, recipient: r.emailAddress });
        return {
          type: "bounced",
          recipient: r.emailAddress,
          at: bounce.timestamp,
          feedbackId: bounce.feedbackId,
          detail: compact({
            providerType: ["Bounce", bounce.bounceType, bounce.bounceSubType].filter(Boolean).join("/"),
            ...verdict,
            bounceType: bounce.bounceType,
            bounceSubType: bounce.bounceSubType,
            smtpCode: facts.smtpCode,
            enhancedCode: facts.enhancedCode,
            diagnostic: r.diagnosticCode,
            action: r.action,
            reportingMta: bounce.reportingMTA,
          }),
        };
      }),
    }),
  ),
  Complaint: kind(
    z.looseObject({
      mail: sesMail,
      complaint: z.looseObject({
        complainedRecipients: z.array(z.looseObject({ emailAddress: z.string() })),
        timestamp: text,
        feedbackId: text,
        complaintFeedbackType: text,
        complaintSubType: text,
      }),
    }),
    ({ complaint }) => {
      // SES accepted the message but sent nothing: the address is on the account's suppression
      // list. No one complained now, so it is the message's end, not a new complaint.
      const suppressed = complaint.complaintSubType === "OnAccountSuppressionList";
      return {
        drafts: complaint.complainedRecipients.map((r) => ({
          type: suppressed ? "suppressed" : "complained",
          recipient: r.emailAddress,
          at: complaint.timestamp,
          feedbackId: complaint.feedbackId,
          detail: suppressed
            ? { providerType: "Complaint/OnAccountSuppressionList", sesSuppressed: true }
            : compact({ providerType: "Complaint", feedbackType: complaint.complaintFeedbackType?.trim().toLowerCase() }),
        })),
      };
    },
  ),
  Delivery: kind(
    z.looseObject({
      mail: sesMail,
      delivery: z.looseObject({
        recipients: z.array(z.string()),
        timestamp: text,
        smtpResponse: text,
        reportingMTA: text,
        remoteMtaIp: text,
      }),
    }),
    ({ delivery }) => ({
      drafts: delivery.recipients.map((recipient) => ({
        type: "delivered",
        recipient,
        at: delivery.timestamp,
        detail: compact({
          providerType: "Delivery",
          smtpResponse: delivery.smtpResponse,
          remoteMtaIp: delivery.remoteMtaIp,
          reportingMta: delivery.reportingMTA,
        }),
      })),
    }),
  ),
  DeliveryDelay: kind(
    z.looseObject({
      mail: sesMail,
      deliveryDelay: z.looseObject({ delayedRecipients: z.array(dsnRecipient), timestamp: text, delayType: text, expirationTime: text }),
    }),
    ({ deliveryDelay: delay }) => ({
      drafts: delay.delayedRecipients.map((r) => {
        const facts = smtpFacts(r.status, r.diagnosticCode);
        return {
          type: "deferred",
          recipient: r.emailAddress,
          at: delay.timestamp,
          detail: compact({
            providerType: "DeliveryDelay",
            delayType: delay.delayType,
            smtpCode: facts.smtpCode,
            enhancedCode: facts.enhancedCode,
            diagnostic: r.diagnosticCode,
            expirationTime: delay.expirationTime,
          }),
        };
      }),
    }),
  ),
  // Send, Reject and Rendering Failure are about the message, so about every recipient of it.
  Send: kind(z.looseObject({ mail: sesMail }), ({ mail }) => everyone(mail, "accepted", { providerType: "Send" })),
  Reject: kind(z.looseObject({ mail: sesMail, reject: z.looseObject({ reason: text }).nullish() }), ({ mail, reject }) =>
    // "Bad content": SES found a virus and sent nothing.
    everyone(mail, "failed", { providerType: "Reject", reason: reject?.reason || "rejected" }),
  ),
  "Rendering Failure": kind(
    z.looseObject({ mail: sesMail, failure: z.looseObject({ templateName: text, errorMessage: text }).nullish() }),
    ({ mail, failure }) =>
      everyone(
        mail,
        "failed",
        compact({
          providerType: "Rendering Failure",
          reason: "rendering_failure",
          templateName: failure?.templateName,
          errorMessage: failure?.errorMessage,
        }),
      ),
  ),
  // Opens, clicks and preference changes are one reader's, and SES does not say whose: see reader().
  Open: kind(
    z.looseObject({ mail: sesMail, open: z.looseObject({ timestamp: text, userAgent: text, ipAddress: text }) }),
    ({ mail, open }) =>
      reader(mail, (recipient) => [
        {
          type: "opened",
          recipient,
          at: open.timestamp,
          detail: compact({ providerType: "Open", userAgent: open.userAgent, ip: open.ipAddress }),
        },
      ]),
  ),
  Click: kind(
    z.looseObject({ mail: sesMail, click: z.looseObject({ link: z.string(), timestamp: text, userAgent: text, ipAddress: text }) }),
    ({ mail, click }) =>
      reader(mail, (recipient) => [
        {
          type: "clicked",
          recipient,
          at: click.timestamp,
          distinct: click.link,
          detail: compact({ providerType: "Click", url: click.link, userAgent: click.userAgent, ip: click.ipAddress }),
        },
      ]),
  ),
  Subscription: kind(
    z.looseObject({
      mail: sesMail,
      subscription: z.looseObject({
        timestamp: text,
        contactList: text,
        source: text,
        newTopicPreferences: topicPreferences,
        oldTopicPreferences: topicPreferences.nullish(),
      }),
    }),
    ({ mail, subscription: sub }) => {
      const changes = preferenceChanges(sub.newTopicPreferences, sub.oldTopicPreferences);
      if (changes.length === 0) return { drafts: [], skip: "no_preference_change" };
      return reader(mail, (recipient) =>
        changes.map((change) => ({
          type: change.type,
          recipient,
          at: sub.timestamp,
          distinct: `${change.type}:${change.group ?? ""}`,
          detail: compact({ providerType: "Subscription", group: change.group, contactList: sub.contactList, source: sub.source }),
        })),
      );
    },
  ),
};

/** Documented kinds about no message we sent. */
const NOT_MESSAGE_EVENTS = new Set(["AmazonSnsSubscriptionSucceeded", "Received"]);

const sesHead = z
  .looseObject({ eventType: z.string().min(1).optional(), notificationType: z.string().min(1).optional() })
  .refine((head) => head.eventType ?? head.notificationType, {
    message: "has neither eventType nor notificationType",
    path: ["eventType"],
  });

export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  const head = sesHead.safeParse(body);
  if (!head.success) return invalid(head.error);
  const type = (head.data.eventType ?? head.data.notificationType) as string;
  const parse = Object.hasOwn(KINDS, type) ? KINDS[type] : undefined;
  if (!parse) {
    return {
      ok: true,
      events: [],
      skipped: [{ index: 0, type, reason: NOT_MESSAGE_EVENTS.has(type) ? "not_a_message_event" : "unknown_type" }],
    };
  }
  const parsed = parse(body);
  if (!parsed.ok) return invalid(parsed.error);
  const { drafts, skip } = parsed.found;
  const addressed = drafts.filter((draft) => addressOf(draft.recipient));
  const events = await Promise.all(addressed.map((draft) => build(draft, type, parsed.mail, ctx)));
  // A blank address in a list, or a list with none, is named; so is a reason found above.
  const reasons = [...drafts.filter((draft) => !addressOf(draft.recipient)).map(() => "no_recipient"), ...(skip ? [skip] : [])];
  if (drafts.length === 0 && !skip) reasons.push("no_recipient");
  return { ok: true, events, skipped: reasons.map((reason) => ({ index: 0, type, reason })) };
}

async function build(draft: Draft, type: string, mail: SesMail, ctx: NormalizeContext): Promise<ProviderEvent> {
  const recipient = addressOf(draft.recipient) as string;
  const at = draft.at || mail.timestamp || undefined;
  const tag = mail.tags?.[OUR_ID_KEY];
  const messageId = ourId(Array.isArray(tag) ? tag[0] : tag);
  // A report's own id names it on every retry; the recipient tells its fanned-out events apart.
  const own = draft.feedbackId ? `${draft.feedbackId}:${recipient}` : undefined;
  const id =
    own && own.length <= 250
      ? await providerEventId(PROVIDER, own)
      : await providerEventId(PROVIDER, undefined, draft.feedbackId || mail.messageId, type, recipient, at, draft.distinct);
  return providerEvent.parse({
    id,
    account: ctx.account,
    type: draft.type,
    occurredAt: isoTime(at, ctx.receivedAt),
    receivedAt: ctx.receivedAt,
    provider: PROVIDER,
    channel: "email",
    recipient,
    providerMessageId: mail.messageId,
    ...(messageId ? { messageId } : {}),
    detail: draft.detail,
  });
}

function everyone(mail: SesMail, type: EventType, detail: Record<string, unknown>): Found {
  return { drafts: [...new Set(mail.destination)].map((recipient) => ({ type, recipient, detail })) };
}

/**
 * An open, a click or an unsubscribe is one reader's, and SES names only the message: with
 * one recipient it is theirs; with several, crediting any of them (or all) would be a guess,
 * and an unsubscribe guessed wrong suppresses a reader. lasthop sends one recipient per message.
 */
function reader(mail: SesMail, drafts: (recipient: string) => Draft[]): Found {
  if (mail.destination.length > 1) return { drafts: [], skip: "ambiguous_recipient" };
  return { drafts: mail.destination.flatMap(drafts) };
}

/**
 * What a Subscription event changed: leaving every topic of the list is an unsubscribe
 * (suppressing); leaving one topic is one with `group`; coming back is a resubscribe. Compared
 * with the old preferences when SES sends them, so a topic already left is not left again.
 */
function preferenceChanges(now: TopicPreferences, before: TopicPreferences | null | undefined) {
  if (now.unsubscribeAll) return [{ type: "unsubscribed" as const }];
  const changes: Array<{ type: "unsubscribed" | "resubscribed"; group?: string }> = [];
  if (before?.unsubscribeAll) changes.push({ type: "resubscribed" });
  const optedOut = (status: string | undefined) => status?.replace(/_/g, "").toLowerCase() === "optout";
  const was = new Map((before?.topicSubscriptionStatus ?? []).map((topic) => [topic.topicName, topic.subscriptionStatus]));
  for (const topic of now.topicSubscriptionStatus ?? []) {
    const out = optedOut(topic.subscriptionStatus);
    if (out !== optedOut(was.get(topic.topicName)) && (out || was.has(topic.topicName))) {
      changes.push({ type: out ? "unsubscribed" : "resubscribed", group: topic.topicName });
    }
  }
  // Without the old preferences nothing can be compared: a change to nothing left is a return.
  if (!before && changes.length === 0) changes.push({ type: "resubscribed" });
  return changes;
}

/** Bounce subtypes where SES did not even try: the address is on a suppression list. */
const SUPPRESSED_SUBTYPES = new Set(["Suppressed", "OnAccountSuppressionList"]);
/** SES's subtype, where it names a reason, for when there is no DSN or its words and codes name none. */
const SUBTYPE_REASONS: Record<string, string> = {
  NoEmail: "userunknown",
  MailboxFull: "mailboxfull",
  MessageTooLarge: "mesgtoobig",
  ContentRejected: "contenterror",
  AttachmentRejected: "contenterror",
};
const VAGUE = new Set(["undefined", "onhold"]);

/**
 * SES's verdict (bounceType, bounceSubType; Resend passes them on as bounce.type and subType)
 * with the DSN's evidence, as our class and reason. Permanent and Transient are the provider's
 * `permanent`; Undetermined stays undetermined whatever the words say; a suppression-list
 * bounce is hard (Sisimai's "suppressed"), so lasthop's own list learns what SES's knows.
 */
export function classifySesBounce(input: {
  bounceType?: string | null;
  bounceSubType?: string | null;
  smtpCode?: number;
  enhancedCode?: string;
  diagnostic?: string;
  recipient?: string;
}): Classification & { sesSuppressed?: true } {
  if (input.bounceSubType && SUPPRESSED_SUBTYPES.has(input.bounceSubType))
    return { class: "hard", reason: "suppressed", rule: "provider:ses-suppression-list", sesSuppressed: true };
  const permanent = input.bounceType === "Permanent" ? true : input.bounceType === "Transient" ? false : undefined;
  const found = classifyProviderBounce({
    ...(input.smtpCode ? { smtpCode: input.smtpCode } : {}),
    ...(input.enhancedCode ? { enhancedCode: input.enhancedCode } : {}),
    ...(input.diagnostic ? { diagnostic: input.diagnostic } : {}),
    ...(permanent !== undefined ? { permanent } : {}),
    ...(input.recipient ? { recipient: input.recipient } : {}),
  });
  if (permanent === undefined) return { class: "undetermined", reason: found.reason, rule: `ses-undetermined:${found.rule}` };
  const hinted = SUBTYPE_REASONS[input.bounceSubType ?? ""];
  const evidence = input.smtpCode || input.enhancedCode || input.diagnostic;
  if (!hinted || (evidence && !VAGUE.has(found.reason))) return found;
  return { class: permanent ? classOf(hinted, true) : "soft", reason: hinted, rule: "provider:ses-subtype" };
}

/**
 * The SMTP facts of a DSN field pair: `status` ("5.1.1") and `diagnosticCode`
 * ("smtp; 550 5.1.1 user unknown"), the remote server's reply after its type.
 */
export function smtpFacts(status: string | null | undefined, diagnosticCode: string | null | undefined) {
  const reply = diagnosticCode ? typedValue(diagnosticCode).value : undefined;
  const smtpCode = reply ? replyCodeIn(reply) : undefined;
  const enhancedCode = bestEnhancedCode(status?.trim() || undefined, reply ? enhancedCodesIn(reply) : [], smtpCode);
  return { smtpCode, enhancedCode, diagnostic: reply };
}
