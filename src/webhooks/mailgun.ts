/**
 * Mailgun webhook signatures, as documented in "Securing Webhooks"
 * (documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks): the JSON body
 * carries `signature: {timestamp, token, signature}`, and `signature` is the hex
 * HMAC-SHA256(webhook signing key, timestamp + token).
 *
 * Replays need state, so they are the caller's job: after `verify` says ok, look up
 * `replayKey(signature)` and refuse if it was seen, else remember it for REPLAY_TTL_SECONDS
 * (past that, the timestamp check refuses the same body anyway).
 */
import { z } from "zod";
import { toHex, utf8 } from "../core/bytes.ts";
import { timingSafeEqual } from "../core/constant-time.ts";
import { OUR_ID_KEY, type NormalizeContext, type NormalizeResult } from "../core/provider-event.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";
import { bounceDetail, clip, collect, enhancedCode, smtpCode, invalid, type Draft } from "./email-events.ts";

export const TOLERANCE_SECONDS = 5 * 60;
/** A timestamp is accepted from TOLERANCE before to TOLERANCE after now: remember keys that long. */
export const REPLAY_TTL_SECONDS = 2 * TOLERANCE_SECONDS;

export const mailgunSignature = z.object({
  // The docs' example sends a string; their table says int. Either, as decimal seconds.
  timestamp: z.union([z.string().regex(/^\d{1,12}$/), z.number().int().min(0).max(999_999_999_999)]).transform(String),
  token: z.string().min(1).max(256),
  signature: z.string().regex(/^[0-9a-fA-F]{64}$/),
});
export type MailgunSignature = z.infer<typeof mailgunSignature>;

const mailgunBody = z.object({ signature: mailgunSignature });

/** `body` is the parsed JSON of the request. */
export async function verify(body: unknown, signingKey: string, now = Date.now()): Promise<VerifyResult> {
  const parsed = mailgunBody.safeParse(body);
  if (!parsed.success) return { ok: false, reason: "malformed_signature" };
  const { timestamp, token, signature } = parsed.data.signature;
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return { ok: false, reason: "stale_timestamp" };
  const key = await crypto.subtle.importKey("raw", utf8(signingKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = toHex(await crypto.subtle.sign("HMAC", key, utf8(timestamp + token)));
  return timingSafeEqual(utf8(expected), utf8(signature.toLowerCase())) ? { ok: true } : { ok: false, reason: "bad_signature" };
}

/** What identifies one signed delivery: Mailgun's token is random per signature. */
export function replayKey(signature: MailgunSignature): string {
  return `mailgun:${signature.token}`;
}

/*
 * normalize: webhooks v3 post one event per request, `{signature, "event-data"}`, the
 * event-data as the Events API returns it (documentation.mailgun.com/docs/mailgun/user-manual/
 * webhooks/webhook-payloads). Ours comes back in `user-variables` (sent as `v:lasthop_id`).
 */

const note = z.string().nullish();

const mailgunEventData = z.looseObject({
  event: z.string().min(1),
  id: z.string().optional(),
  timestamp: z.union([z.number(), z.string()]).optional(),
  recipient: z.string().optional(),
  severity: note,
  reason: note,
  message: z.looseObject({ headers: z.looseObject({ "message-id": note }).nullish() }).nullish(),
  "delivery-status": z
    .looseObject({
      code: z.union([z.number(), z.string()]).nullish(),
      "enhanced-code": note,
      message: note,
      description: note,
      "attempt-no": z.number().nullish(),
      "bounce-type": note,
    })
    .nullish(),
  flags: z.looseObject({ "is-delayed-bounce": z.boolean().nullish() }).nullish(),
  reject: z.looseObject({ reason: note, description: note }).nullish(),
  // The docs' samples send `[]` when there are none (a PHP empty array).
  "user-variables": z.union([z.record(z.string(), z.unknown()), z.array(z.unknown())]).nullish(),
  tags: z.array(z.string()).nullish(),
  "mailing-list": z.looseObject({ address: note }).nullish(),
  url: note,
  ip: note,
  "client-info": z.looseObject({ "user-agent": note, bot: note }).nullish(),
});
type MailgunEventData = z.infer<typeof mailgunEventData>;

const mailgunWebhook = z.looseObject({ "event-data": mailgunEventData });

/** `failed` reasons that mean Mailgun did not try: the address is on its suppression lists. */
export const SUPPRESSION_REASONS: ReadonlySet<string> = new Set(["suppress-bounce", "suppress-unsubscribe", "suppress-complaint"]);

/** Events that are not about a message sent to a recipient (inbound storage, mailing-list uploads). */
const NOT_MESSAGE_EVENTS: ReadonlySet<string> = new Set(["stored", "list_member_uploaded", "list_member_upload_error", "list_uploaded"]);

export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  const parsed = mailgunWebhook.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  const data = parsed.data["event-data"];
  return collect("mailgun", ctx, [data], () => {
    const name = data.event.toLowerCase();
    const mapped = mapEvent(name, data);
    if ("skip" in mapped) return { providerType: name, draft: mapped };
    const variables = data["user-variables"];
    const draft: Draft = {
      ...mapped,
      recipient: data.recipient,
      providerMessageId: bare(data.message?.headers?.["message-id"]),
      // Mailgun's id is "guaranteed to be unique within a day" (Events API): with the event's
      // own time, which a retried webhook repeats, it is unique for good.
      eventId: data.id && data.timestamp !== undefined ? `${data.id}@${data.timestamp}` : data.id,
      stable: [bare(data.message?.headers?.["message-id"]), name, data.severity ?? undefined, String(data.timestamp ?? "")],
      time: data.timestamp,
      ours: variables && !Array.isArray(variables) ? variables[OUR_ID_KEY] : undefined,
    };
    return { providerType: mapped.detail.providerType as string, draft };
  });
}

function mapEvent(name: string, data: MailgunEventData): Pick<Draft, "type" | "detail"> | { skip: string } {
  const status = data["delivery-status"];
  switch (name) {
    case "accepted":
      return { type: "accepted", detail: { providerType: name } };
    case "delivered":
      return { type: "delivered", detail: { providerType: name, response: clip(status?.message) } };
    case "failed": {
      const severity = data.severity ?? "permanent";
      const providerType = `failed:${severity}`;
      const reason = data.reason ?? undefined;
      const evidence = {
        smtpCode: smtpCode(status?.code),
        enhancedCode: enhancedCode(status?.["enhanced-code"]),
        diagnostic: clip(status?.message) ?? clip(status?.description),
      };
      // Mailgun retries a temporary failure itself: the message is on its way still.
      if (severity === "temporary") {
        return { type: "deferred", detail: { providerType, providerReason: reason, ...evidence, attempt: status?.["attempt-no"] } };
      }
      if (reason && SUPPRESSION_REASONS.has(reason)) {
        return { type: "suppressed", detail: { providerType, providerReason: reason, diagnostic: clip(status?.description) } };
      }
      // Its own "bounce-type" may call a permanent failure soft (a full mailbox after the retries).
      const bounceType = status?.["bounce-type"] ?? undefined;
      return {
        type: "bounced",
        detail: {
          providerType,
          ...bounceDetail({ ...evidence, permanent: bounceType !== "soft", recipient: data.recipient }),
          providerReason: reason,
          bounceType,
          delayedBounce: data.flags?.["is-delayed-bounce"] || undefined,
        },
      };
    }
    case "rejected":
      return {
        type: "failed",
        detail: { providerType: name, providerReason: clip(data.reject?.reason), diagnostic: clip(data.reject?.description) },
      };
    case "complained":
      // Mailgun relays feedback-loop reports without their feedback type: absent suppresses.
      return { type: "complained", detail: { providerType: name } };
    case "unsubscribed":
      return { type: "unsubscribed", detail: { providerType: name, group: unsubscribeScope(data) } };
    case "opened":
      return { type: "opened", detail: { providerType: name, ...engagement(data) } };
    case "clicked":
      return { type: "clicked", detail: { providerType: name, url: clip(data.url, 2048), ...engagement(data) } };
    default:
      return { skip: NOT_MESSAGE_EVENTS.has(name) ? "not_a_message_event" : "unknown_type" };
  }
}

/**
 * What an unsubscribe covers, when it is less than everything: a mailing list's address, or
 * the tags of a tag unsubscribe. Mailgun's "unsubscribe from all" carries the tag "*" (the
 * docs' sample: the same message's open and click events carry its own tag instead).
 */
function unsubscribeScope(data: MailgunEventData): string | undefined {
  const list = data["mailing-list"]?.address;
  if (list) return list;
  const tags = data.tags ?? [];
  return tags.length > 0 && !tags.includes("*") ? tags.join(",") : undefined;
}

function engagement(data: MailgunEventData): Record<string, unknown> {
  const client = data["client-info"];
  return { userAgent: clip(client?.["user-agent"]), ip: data.ip, bot: client?.bot };
}

/** A Message-ID without its angle brackets: the webhook sends it bare, the send API bracketed. */
function bare(messageId: string | null | undefined): string | undefined {
  return messageId?.trim().replace(/^<(.*)>$/, "$1") || undefined;
}
