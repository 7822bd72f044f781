/**
 * Postmark webhooks carry no signature: the documented protection is HTTP Basic credentials in
 * the webhook URL (`https://<username>:<password>@example.com/webhook`, postmarkapp.com/developer/
 * webhooks/webhooks-overview), which arrive as `Authorization: Basic base64(user:pass)`.
 */
import { z } from "zod";
import { fromBase64, utf8 } from "../core/bytes.ts";
import { timingSafeEqual } from "../core/constant-time.ts";
import type { EventType } from "../core/model.ts";
import { OUR_ID_KEY, type NormalizeContext, type NormalizeResult } from "../core/provider-event.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";
import { bounceDetail, clip, collect, invalid, type Draft } from "../core/esp/events.ts";

export type PostmarkCredentials = { webhookUsername: string; webhookPassword: string };

const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;

// Digests are compared, not the strings: equal length on both sides, so the time taken
// reveals nothing about the configured credentials' lengths either.
async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text)));
}

export async function verify(authorization: string | null | undefined, expected: PostmarkCredentials): Promise<VerifyResult> {
  if (!expected.webhookUsername || !expected.webhookPassword) return { ok: false, reason: "credentials_not_configured" };
  if (!authorization) return { ok: false, reason: "missing_credentials" };
  const match = BASIC.exec(authorization.trim());
  if (!match) return { ok: false, reason: "malformed_credentials" };
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(fromBase64(match[1]!));
  } catch {
    return { ok: false, reason: "malformed_credentials" };
  }
  // RFC 7617: the user-id cannot contain ':', the password can; split at the first one.
  const colon = decoded.indexOf(":");
  if (colon < 0) return { ok: false, reason: "malformed_credentials" };
  const [user, pass, wantUser, wantPass] = await Promise.all([
    digest(decoded.slice(0, colon)),
    digest(decoded.slice(colon + 1)),
    digest(expected.webhookUsername),
    digest(expected.webhookPassword),
  ]);
  // Both comparisons run whatever the first one says: no early exit on a wrong username.
  const userOk = timingSafeEqual(user, wantUser);
  const passOk = timingSafeEqual(pass, wantPass);
  return userOk && passOk ? { ok: true } : { ok: false, reason: "bad_credentials" };
}

/*
 * normalize: one JSON object per request, told apart by `RecordType`
 * (postmarkapp.com/developer/webhooks/*-webhook). Ours comes back in `Metadata`.
 */

const note = z.string().nullish();

const postmarkRecord = z.looseObject({
  RecordType: z.string().min(1),
  MessageStream: note,
  MessageID: note,
  ID: z.union([z.number(), z.string()]).nullish(),
  Type: note,
  TypeCode: z.number().nullish(),
  Recipient: note,
  Email: note,
  Metadata: z.record(z.string(), z.unknown()).nullish(),
  Details: note,
  Inactive: z.boolean().nullish(),
  DeliveredAt: note,
  BouncedAt: note,
  ReceivedAt: note,
  ChangedAt: note,
  FirstOpen: z.boolean().nullish(),
  UserAgent: note,
  Geo: z.looseObject({ IP: note }).nullish(),
  OriginalLink: note,
  SuppressSending: z.boolean().nullish(),
  SuppressionReason: note,
  Origin: note,
});
type PostmarkRecord = z.infer<typeof postmarkRecord>;

/** What a bounce record of each documented Type means for the message and the address. */
export type PostmarkBounceKind =
  | "hard" // bounced, permanent: our classifier may still find a softer reason in Details
  | "soft" // bounced, never suppressing at once: temporary, or a refusal of the content or sender
  | "undetermined" // bounced, our classifier alone decides
  | "deferred" // a delay notice: the remote side is still trying
  | "complaint"
  | "unsubscribe"
  | "resubscribe"
  | "failed" // Postmark could not send it (template, SMTP API)
  | "suppressed" // Postmark would not send to the address as it stands
  | "not_a_bounce"; // a reply or notice about mail that was delivered, or about inbound mail

/** Every Type and TypeCode of postmarkapp.com/developer/api/bounce-api#bounce-types. */
export const POSTMARK_BOUNCE_TYPES: Readonly<Record<string, { code: number; kind: PostmarkBounceKind }>> = {
  HardBounce: { code: 1, kind: "hard" },
  // "Message delayed": a DSN with action delayed, often after the Delivery webhook already fired.
  Transient: { code: 2, kind: "deferred" },
  // Replies asking to be removed or added: about this stream's mail, as Postmark's suppressions are.
  Unsubscribe: { code: 16, kind: "unsubscribe" },
  Subscribe: { code: 32, kind: "resubscribe" },
  AutoResponder: { code: 64, kind: "not_a_bounce" },
  AddressChange: { code: 128, kind: "not_a_bounce" },
  DnsError: { code: 256, kind: "soft" },
  // Delivered, then blocked by the user or filed as spam: a content verdict, not a complaint.
  SpamNotification: { code: 512, kind: "soft" },
  OpenRelayTest: { code: 1024, kind: "not_a_bounce" },
  Unknown: { code: 2048, kind: "undetermined" },
  SoftBounce: { code: 4096, kind: "soft" },
  VirusNotification: { code: 8192, kind: "soft" },
  ChallengeVerification: { code: 16384, kind: "not_a_bounce" },
  BadEmailAddress: { code: 100000, kind: "hard" },
  SpamComplaint: { code: 100001, kind: "complaint" },
  ManuallyDeactivated: { code: 100002, kind: "suppressed" },
  Unconfirmed: { code: 100003, kind: "suppressed" },
  // An ISP's block for content or blacklisting, and the sender's own DMARC: the address is fine.
  Blocked: { code: 100006, kind: "soft" },
  SMTPApiError: { code: 100007, kind: "failed" },
  InboundError: { code: 100008, kind: "not_a_bounce" },
  DMARCPolicy: { code: 100009, kind: "soft" },
  TemplateRenderingFailed: { code: 100010, kind: "failed" },
};

/** Postmark writes an all-zero MessageID where no message is behind the record. */
const NO_MESSAGE = /^[0-]+$/;

export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  // The inbound webhook has no RecordType: parsed mail, not an event about mail we sent.
  if (body && typeof body === "object" && !("RecordType" in body) && "FromFull" in body) {
    return { ok: true, events: [], skipped: [{ index: 0, type: "Inbound", reason: "not_a_message_event" }] };
  }
  const parsed = postmarkRecord.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  const record = parsed.data;
  return collect("postmark", ctx, [record], () => {
    const mapped = mapRecord(record);
    const providerType = record.RecordType === "Bounce" ? `Bounce:${record.Type ?? record.TypeCode ?? ""}` : record.RecordType;
    if ("skip" in mapped) return { providerType, draft: mapped };
    const messageId = record.MessageID?.trim();
    const recipient = record.Recipient ?? record.Email ?? undefined;
    const time = record.DeliveredAt ?? record.BouncedAt ?? record.ReceivedAt ?? record.ChangedAt;
    const draft: Draft = {
      type: mapped.type,
      detail: { providerType, messageStream: record.MessageStream, ...mapped.detail },
      recipient,
      providerMessageId: messageId && !NO_MESSAGE.test(messageId) ? messageId : undefined,
      // Bounce and SpamComplaint records have an id; the others are told by what they are about.
      eventId: record.ID != null ? String(record.ID) : undefined,
      stable: [messageId, record.RecordType, time ?? undefined, record.OriginalLink ?? undefined, String(record.SuppressSending ?? "")],
      time,
      ours: record.Metadata?.[OUR_ID_KEY],
    };
    return { providerType, draft };
  });
}

function mapRecord(record: PostmarkRecord): { type: EventType; detail: Record<string, unknown> } | { skip: string } {
  switch (record.RecordType) {
    case "Delivery":
      return { type: "delivered", detail: { response: clip(record.Details) } };
    case "Bounce":
      return mapBounce(record);
    case "SpamComplaint":
      return { type: "complained", detail: { feedbackType: "abuse" } };
    case "Open":
      return { type: "opened", detail: { userAgent: clip(record.UserAgent), ip: record.Geo?.IP, firstOpen: record.FirstOpen } };
    case "Click":
      return { type: "clicked", detail: { url: clip(record.OriginalLink, 2048), userAgent: clip(record.UserAgent), ip: record.Geo?.IP } };
    case "SubscriptionChange": {
      // A suppression is per message stream: the address may still get the other streams' mail.
      const detail = { group: record.MessageStream ?? "unknown", suppressionReason: record.SuppressionReason, origin: record.Origin };
      return { type: record.SuppressSending === false ? "resubscribed" : "unsubscribed", detail };
    }
    default:
      return { skip: "unknown_type" };
  }
}

/** The bounce's kind by Type, else by TypeCode; a Type not (yet) documented is left to the classifier. */
export function postmarkBounceKind(type: string | null | undefined, typeCode: number | null | undefined): PostmarkBounceKind {
  const byType = type ? POSTMARK_BOUNCE_TYPES[type] : undefined;
  if (byType) return byType.kind;
  return Object.values(POSTMARK_BOUNCE_TYPES).find((entry) => entry.code === typeCode)?.kind ?? "undetermined";
}

function mapBounce(record: PostmarkRecord): { type: EventType; detail: Record<string, unknown> } | { skip: string } {
  const kind = postmarkBounceKind(record.Type, record.TypeCode);
  const stream = record.MessageStream ?? "unknown";
  const facts = { typeCode: record.TypeCode, inactive: record.Inactive };
  switch (kind) {
    case "hard":
    case "soft":
    case "undetermined": {
      const permanent = kind === "hard" ? true : kind === "soft" ? false : undefined;
      const recipient = record.Email ?? record.Recipient ?? undefined;
      return { type: "bounced", detail: { ...bounceDetail({ diagnostic: record.Details ?? undefined, permanent, recipient }), ...facts } };
    }
    case "deferred":
      return { type: "deferred", detail: { diagnostic: clip(record.Details), ...facts } };
    case "complaint":
      return { type: "complained", detail: { feedbackType: "abuse", ...facts } };
    case "unsubscribe":
      return { type: "unsubscribed", detail: { group: stream, ...facts } };
    case "resubscribe":
      return { type: "resubscribed", detail: { group: stream, ...facts } };
    case "failed":
    case "suppressed":
      return { type: kind, detail: { diagnostic: clip(record.Details), ...facts } };
    case "not_a_bounce":
      return { skip: "not_a_bounce" };
  }
}
