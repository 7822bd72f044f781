/**
 * One Mailgun event as provider events: the `event-data` its webhooks post and the `items` its
 * Events API answers have one shape (documentation.mailgun.com/docs/mailgun/user-manual/events/),
 * so the webhook adapter (src/webhooks/mailgun.ts) and the status poll (core/poll/mailgun.ts)
 * read them here, and an event seen both ways has one id. Ours comes back in `user-variables`
 * (sent as `v:lasthop_id`).
 */
import { z } from "zod";
import { OUR_ID_KEY, type NormalizeContext, type NormalizeResult } from "../provider-event.ts";
import { bounceDetail, clip, collect, enhancedCode, smtpCode, type Draft } from "./events.ts";

const note = z.string().nullish();

export const mailgunEventData = z.looseObject({
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
export type MailgunEventData = z.infer<typeof mailgunEventData>;

/** `failed` reasons that mean Mailgun did not try: the address is on its suppression lists. */
export const SUPPRESSION_REASONS: ReadonlySet<string> = new Set(["suppress-bounce", "suppress-unsubscribe", "suppress-complaint"]);

/** Events that are not about a message sent to a recipient (inbound storage, mailing-list uploads). */
const NOT_MESSAGE_EVENTS: ReadonlySet<string> = new Set(["stored", "list_member_uploaded", "list_member_upload_error", "list_uploaded"]);

/**
 * Mailgun events (a webhook's `event-data`, or the Events API's `items`) as provider events,
 * in order; an item that is not an event of Mailgun's shape, or not about a message, is skipped
 * with its reason. The id is Mailgun's own event id with its time, the same on both paths.
 */
export async function mailgunEvents(ctx: NormalizeContext, items: readonly unknown[]): Promise<NormalizeResult> {
  return collect("mailgun", ctx, items, (item) => {
    const parsed = mailgunEventData.safeParse(item);
    if (!parsed.success) return { providerType: "unknown", draft: { skip: "invalid_event" } };
    const data = parsed.data;
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
export function bare(messageId: string | null | undefined): string | undefined {
  return messageId?.trim().replace(/^<(.*)>$/, "$1") || undefined;
}
