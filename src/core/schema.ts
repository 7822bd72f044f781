/**
 * The send contract: one zod schema per channel, the single source of truth for the
 * API's validation and for the types every other module uses (`z.infer`).
 */
import { routeName } from "./email-routes.ts";
import { z } from "zod";
import { fromBase64, utf8 } from "./bytes.ts";
import { bounceClasses, channels, eventTypes } from "./model.ts";
import { HEADER_NAME, hasLineBreak, reservedHeaders } from "./email.ts";
import { trackingOverride } from "./tracking.ts";
import { MAX_LINE_OCTETS, hasControlCharacter, headerValue } from "./mail-header.ts";
import { sendAtField } from "./schedule.ts";
import { attachments } from "./attachment.ts";

const base64UrlBytes = (length: number, what: string) =>
  z.string().refine(
    (s) => {
      if (!/^[A-Za-z0-9_-]+=*$/.test(s)) return false;
      try {
        return fromBase64(s).length === length;
      } catch {
        return false;
      }
    },
    { message: `must be the base64url encoding of ${what} (${length} bytes)` },
  );

const e164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number such as +14155550100");

/** Fields every channel accepts. `sendAt`'s bounds depend on the clock: core/schedule.ts checks them. */
const common = {
  metadata: z.record(z.string(), z.unknown()).optional(),
  sendAt: sendAtField.optional(),
};

const noLineBreak = (what: string) => z.string().refine((s) => !hasLineBreak(s), `${what} may not contain CR or LF (header injection)`);

/** Text that goes into a header: no line breaks (injection), nor other controls (NUL, VT, FF, NEL, U+2028…). */
const headerText = (what: string) =>
  noLineBreak(what).refine(
    (s) => hasLineBreak(s) || !hasControlCharacter(s),
    `${what} may not contain control characters (NUL, VT, FF, U+0085, U+2028, U+2029…)`,
  );

/**
 * Custom headers: RFC 5322 names, text without control characters, none the platform owns,
 * and writable in lines of 998 octets once folded (a single word that long is not).
 */
const customHeaders = z
  .record(
    z
      .string()
      .regex(HEADER_NAME, "must be an RFC 5322 header name")
      .refine((n) => !reservedHeaders.has(n.toLowerCase()), {
        message: "is set by lasthop and cannot be given",
      }),
    headerText("a header value").pipe(z.string().max(998)),
  )
  .superRefine((headers, ctx) => {
    for (const [name, value] of Object.entries(headers)) {
      if (headerValue(name, value) === null) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `has a word too long to fold into lines of ${MAX_LINE_OCTETS} octets (RFC 5322 §2.1.1)`,
        });
      }
    }
  });

/** RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
const mailbox = z.email().max(254);

export const emailSend = z
  .strictObject({
    channel: z.literal("email"),
    from: mailbox,
    fromName: headerText("fromName").pipe(z.string().max(200)).optional(),
    to: mailbox,
    subject: headerText("subject").pipe(z.string().min(1).max(998)),
    text: z.string().optional(),
    html: z.string().optional(),
    replyTo: mailbox.optional(),
    headers: customHeaders.optional(),
    tags: z.array(z.string().min(1).max(64)).max(10).optional(),
    listUnsubscribe: z.boolean().optional(),
    /** Open and click tracking for this message, over the account's `tracking` section (core/tracking.ts). */
    tracking: trackingOverride.optional(),
    /** One of the account's email routes by name: the message takes that route alone. */
    route: routeName.optional(),
    /** Files (base64) and inline parts (Content-ID), with their limits: core/attachment.ts. */
    attachments: attachments.optional(),
    ...common,
  })
  .refine((m) => m.text !== undefined || m.html !== undefined, {
    message: "give text, html or both",
    path: ["text"],
  });

export const apnsPushTypes = [
  "alert",
  "background",
  "voip",
  "complication",
  "fileprovider",
  "mdm",
  "liveactivity",
  "pushtotalk",
  "location",
] as const;

/**
 * `apns-topic`: the app's bundle id, reverse-DNS (letters, digits, hyphens; two labels or more),
 * plus the suffix some push types take: .voip, .complication, .pushkit.fileprovider,
 * .push-type.liveactivity, .location-query, .voip-ptt (push-to-talk). Those use the same
 * alphabet, so one grammar covers them; an MDM topic (com.apple.mgmt.External.<uuid>) too.
 * Anything else (CR/LF, NUL, spaces, non-ASCII) would break the HTTP/2 request.
 */
export const APNS_TOPIC = /^[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$/;

export const apnsSend = z
  .strictObject({
    channel: z.literal("apns"),
    to: z.string().regex(/^(?:[0-9a-fA-F]{2}){32,100}$/, "must be a hex APNs device token"),
    topic: z
      .string()
      .max(255)
      .regex(
        APNS_TOPIC,
        "must be the app's bundle id (letters, digits, hyphens and dots, such as com.example.app), with its push type's suffix if it takes one (.voip, .complication, …)",
      ),
    pushType: z.enum(apnsPushTypes),
    priority: z.union([z.literal(10), z.literal(5), z.literal(1)]).optional(),
    expiration: z.number().int().min(0).optional(),
    collapseId: z
      .string()
      .refine((s) => utf8(s).length <= 64, "apns-collapse-id is at most 64 bytes")
      .optional(),
    payload: z.looseObject({ aps: z.record(z.string(), z.unknown()) }),
    sandbox: z.boolean().optional(),
    ...common,
  })
  .refine((m) => m.pushType !== "background" || (m.priority ?? 5) === 5, {
    message: "background pushes must use priority 5",
    path: ["priority"],
  })
  .refine((m) => utf8(JSON.stringify(m.payload)).length <= (m.pushType === "voip" ? 5120 : 4096), {
    message: "payload is over the APNs limit (4096 bytes, 5120 for voip)",
    path: ["payload"],
  });

export const fcmSend = z.strictObject({
  channel: z.literal("fcm"),
  to: z.string().min(1).max(4096),
  message: z.strictObject({
    notification: z.strictObject({ title: z.string().optional(), body: z.string().optional(), image: z.url().optional() }).optional(),
    data: z.record(z.string(), z.string()).optional(),
    android: z.record(z.string(), z.unknown()).optional(),
    apns: z.record(z.string(), z.unknown()).optional(),
    webpush: z.record(z.string(), z.unknown()).optional(),
  }),
  ...common,
});

/** RFC 8030 §5.3 Urgency and §5.4 Topic (at most 32 characters of the URL-safe base64 alphabet). */
export const webpushUrgencies = ["very-low", "low", "normal", "high"] as const;
export const webpushSubscription = z.strictObject({
  endpoint: z.url({ protocol: /^https$/, error: "must be an https URL (RFC 8030 push resources are https)" }),
  keys: z.strictObject({
    p256dh: base64UrlBytes(65, "an uncompressed P-256 public key"),
    auth: base64UrlBytes(16, "the subscription's auth secret"),
  }),
});

export const webpushSend = z.strictObject({
  channel: z.literal("webpush"),
  to: webpushSubscription,
  payload: z.union([z.string(), z.record(z.string(), z.unknown())]),
  /** Seconds the push service keeps the message; 0 means deliver now or drop. Default 4 weeks. */
  ttl: z.number().int().min(0).max(2_419_200).optional(),
  urgency: z.enum(webpushUrgencies).optional(),
  topic: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, "at most 32 URL-safe base64 characters")
    .optional(),
  ...common,
});

export const smsSend = z.strictObject({
  channel: z.literal("sms"),
  to: e164,
  from: z
    .string()
    .regex(
      /^(\+[1-9]\d{6,14}|\d{3,8}|(?=[\d ]*[A-Za-z])[A-Za-z0-9 ]{1,11})$/,
      "must be E.164, a short code or an alphanumeric sender id (at most 11 characters, at least one letter)",
    ),
  body: z.string().min(1).max(1600),
  route: z.enum(["smpp", "rest", "vonage"]).optional(),
  ...common,
});

export const sendRequest = z.discriminatedUnion("channel", [emailSend, apnsSend, fcmSend, webpushSend, smsSend]);
export type SendRequest = z.infer<typeof sendRequest>;
export type WebPushSend = z.infer<typeof webpushSend>;
export type EmailSend = z.infer<typeof emailSend>;

/** At most this many items a batch (and so a batch's members to cancel). */
export const BATCH_MAX = 1000;

export const batchRequest = z.strictObject({
  messages: z.array(z.unknown()).min(1).max(BATCH_MAX),
  /** Every item's `sendAt` unless the item gives its own. */
  sendAt: sendAtField.optional(),
});

export const bounceDetail = z.looseObject({
  class: z.enum(bounceClasses),
  reason: z.string(),
  smtpCode: z.number().int().optional(),
  enhancedCode: z.string().optional(),
  diagnostic: z.string().optional(),
  remoteMta: z.string().optional(),
});
export type BounceDetail = z.infer<typeof bounceDetail>;

/** A canonical feedback event, as providers' webhooks are normalized and the bridge posts them. */
export const canonicalEvent = z.strictObject({
  id: z.string().min(1).max(256),
  account: z.string().min(1).max(128),
  messageId: z.uuid(),
  type: z.enum(eventTypes),
  occurredAt: z.iso.datetime({ offset: true }),
  receivedAt: z.iso.datetime({ offset: true }).optional(),
  provider: z.string().min(1).max(64),
  detail: z.record(z.string(), z.unknown()).default({}),
});
export type CanonicalEvent = z.infer<typeof canonicalEvent>;

export const eventBatch = z.strictObject({ events: z.array(canonicalEvent).min(1).max(1000) });

export const channelParam = z.enum(channels);
