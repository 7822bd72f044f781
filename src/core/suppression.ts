import { tokenChannels, type Channel, type EventType, type SuppressionReason } from "./model.ts";

/** What an applied event does to its recipient. */
export type RecipientEffect = { kind: "suppress"; reason: SuppressionReason } | { kind: "soft_bounce" } | { kind: "delivered" };

/**
 * Maps an event to its effect on the recipient. Hard bounces, complaints (abuse only:
 * RFC 5965 fraud/virus/other reports are recorded, not suppressing), unsubscribes and dead
 * tokens suppress at once (an unsubscribe from one group only does not); soft bounces only count towards the limit;
 * a bounce nobody could classify (class undetermined, reason onhold or undefined) does nothing:
 * an unknown is no evidence against an address, so it is counted in the stats instead
 * (`bounce_unclassified`); a delivery resets the count.
 */
export function recipientEffect(channel: Channel, event: { type: EventType; detail: Record<string, unknown> }): RecipientEffect | null {
  const detail = event.detail;
  switch (event.type) {
    case "bounced":
      if (unclassified(detail)) return null;
      if (detail.class !== "hard") return { kind: "soft_bounce" };
      if (tokenChannels.has(channel)) return { kind: "suppress", reason: "token_invalid" };
      return { kind: "suppress", reason: "hard_bounce" };
    case "complained":
      return detail.feedbackType === undefined || detail.feedbackType === "abuse" ? { kind: "suppress", reason: "complaint" } : null;
    case "unsubscribed":
      // From one group or stream (SendGrid's ASM groups, a Postmark stream) the recipient still
      // wants the rest: the customer's own preference centre acts on it, not a suppression.
      return detail.group === undefined ? { kind: "suppress", reason: "unsubscribe" } : null;
    case "inbound":
      return detail.keyword === "stop" ? { kind: "suppress", reason: "sms_stop" } : null;
    case "delivered":
      return { kind: "delivered" };
    default:
      return null;
  }
}

/**
 * A bounce whose reason could not be determined: never evidence enough to suppress. A provider's
 * own permanent verdict (class hard) is evidence, whatever our reading of its words.
 */
export function unclassified(detail: Record<string, unknown>): boolean {
  if (detail.class === "undetermined") return true;
  return detail.class !== "hard" && (detail.reason === "onhold" || detail.reason === "undefined");
}

/** Whether `count` consecutive soft bounces reach the configured limit. */
export function softBounceLimitReached(count: number, limit: number): boolean {
  return limit > 0 && count >= limit;
}
