/**
 * The canonical model: channels, delivery states and their ranks, event types and
 * suppression reasons. Every other module speaks these words.
 */
export const channels = ["email", "apns", "fcm", "webpush", "sms"] as const;
export type Channel = (typeof channels)[number];

/**
 * Delivery states. `accepted` means the next hop took custody: it is never `delivered`.
 * `scheduled` waits for its `sendAt` (below `queued`: going moves it up); `canceled` ends one
 * that was canceled before it went.
 */
export const deliveryStates = [
  "scheduled",
  "queued",
  "sending",
  "deferred",
  "accepted",
  "delivered",
  "bounced",
  "failed",
  "expired",
  "suppressed",
  "canceled",
] as const;
export type DeliveryState = (typeof deliveryStates)[number];

/**
 * Engagement events are recorded in the timeline but never move the delivery state.
 * `resubscribed` is a recipient opting back in (a SendGrid group, a Postmark stream): recorded,
 * never lifting a suppression by itself.
 */
export const engagementTypes = ["opened", "clicked", "complained", "unsubscribed", "resubscribed"] as const;
export type EngagementType = (typeof engagementTypes)[number];

/** `inbound` is an MO message or reply tied to a message; it never moves the state either. */
export const eventTypes = [...deliveryStates, ...engagementTypes, "inbound"] as const;
export type EventType = (typeof eventTypes)[number];

export const stateRank: Record<DeliveryState, number> = {
  scheduled: -1,
  queued: 0,
  sending: 1,
  deferred: 2,
  accepted: 3,
  delivered: 4,
  bounced: 4,
  failed: 4,
  expired: 4,
  suppressed: 4,
  canceled: 4,
};

export const terminalStates: ReadonlySet<DeliveryState> = new Set(["delivered", "bounced", "failed", "expired", "suppressed", "canceled"]);

export const suppressionReasons = [
  "hard_bounce",
  "soft_bounce_limit",
  "complaint",
  "unsubscribe",
  "token_invalid",
  "sms_stop",
  "manual",
] as const;
export type SuppressionReason = (typeof suppressionReasons)[number];

export const bounceClasses = ["hard", "soft", "undetermined"] as const;
export type BounceClass = (typeof bounceClasses)[number];

/** Channels whose recipient is an opaque device token or push endpoint. */
export const tokenChannels: ReadonlySet<Channel> = new Set(["apns", "fcm", "webpush"]);

export function isDeliveryState(type: string): type is DeliveryState {
  return (deliveryStates as readonly string[]).includes(type);
}
