/**
 * The event stream to the customer: the events lasthop POSTs to an account's webhook
 * endpoints, one zod schema per type (the one contract of what goes out; the JSON Schema in
 * docs/webhook-events.schema.json is generated from it). Every body is `{type, timestamp, data}`;
 * `data.id` is the canonical event's id, sent as `webhook-id`, the same on every retry, so a
 * receiver dedupes by it.
 */
import { z } from "zod";
import { channels, deliveryStates, suppressionReasons, type Channel, type EventType } from "./model.ts";

/** Message events: one per timeline event lasthop applies (`sending`, `inbound` and `resubscribed` are not sent). */
export const messageEventTypes = [
  "message.scheduled",
  "message.queued",
  "message.accepted",
  "message.deferred",
  "message.delivered",
  "message.bounced",
  "message.failed",
  "message.expired",
  "message.suppressed",
  "message.complained",
  "message.unsubscribed",
  "message.opened",
  "message.clicked",
  "message.canceled",
  // Not a timeline type: a template that did not render for the recipient (the message is `failed`, never sent).
  "message.rendering_failed",
] as const;
export type MessageEventType = (typeof messageEventTypes)[number];

export const webhookEventTypes = [
  ...messageEventTypes,
  "recipient.suppressed",
  "recipient.unsuppressed",
  "sms.inbound",
  "endpoint.disabled",
  "pool.reputation_alert",
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/**
 * Types an endpoint gets only when it names them (`message.queued` doubles the volume for little
 * news; `message.scheduled` is the accept the API answered already).
 */
export const optInEventTypes: ReadonlySet<WebhookEventType> = new Set(["message.queued", "message.scheduled"]);

const isoTime = z.string().describe("ISO 8601 time");

/** What a message event says about its message: its state after the event, and the customer's own labels. */
export const messageSummary = z.object({
  id: z.string().describe("the message id (POST /v1/messages answered it)"),
  channel: z.enum(channels),
  to: z.string().describe("the recipient: address, number, device token or push endpoint, in full"),
  status: z.enum(deliveryStates).describe("the message's state after this event"),
  tags: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()).optional(),
  external: z.object({ provider: z.string() }).optional().describe("sent through a provider, not by lasthop"),
});
export type MessageSummary = z.infer<typeof messageSummary>;

const messageEventData = z.object({
  id: z.string().describe("the event id (= webhook-id)"),
  provider: z.string().describe("who reported it: lasthop, bridge, twilio, sendgrid, ses, …"),
  occurredAt: isoTime,
  receivedAt: isoTime,
  detail: z
    .record(z.string(), z.unknown())
    .describe(
      "the event's evidence: SMTP reply, DSN status, bounce class, DLR stat, …; for message.opened and message.clicked: machine, machineReason, first, link and url (a click), ip and userAgent (per the account's tracking.privacy)",
    ),
  message: messageSummary,
});

const recipientData = z.object({
  id: z.string(),
  channel: z.enum(channels),
  recipient: z
    .string()
    .describe(
      "the suppressed address or number; a push token or endpoint as its SHA-256 hex (as /v1/suppressions names it); an SMS opt-out is `<handset>:<our sender>`",
    ),
  reason: z.enum(suppressionReasons),
  at: isoTime,
  messageId: z.string().optional(),
  sourceEventId: z.string().optional(),
});

const smsInboundData = z.object({
  id: z.string().describe("the MO's id"),
  from: z.string(),
  to: z.string(),
  body: z.string(),
  keyword: z.string().nullable().describe("stop, start or help when the text was one"),
  replyId: z.string().nullable().describe("the confirmation lasthop sent back, a message id"),
  route: z.string(),
  provider: z.string(),
  receivedAt: isoTime,
});

const endpointDisabledData = z.object({
  id: z.string(),
  endpointId: z.string(),
  url: z.string(),
  reason: z.enum(["gone", "failing"]).describe("gone: it answered 410; failing: no success for 5 days"),
  disabledAt: isoTime,
  failingSince: isoTime.nullable(),
});

const poolAlertData = z.object({
  id: z.string().describe("pool:<pool>:<day>:<kind>: one alert per pool, UTC day and kind"),
  pool: z.string().describe("the IP pool of the account's delivery settings; default is the bridge's own address"),
  day: z.string().describe("the UTC day the counts are of (YYYY-MM-DD)"),
  kind: z.enum(["bounce_rate", "complaint_rate"]),
  rate: z.number().describe("bounced or complaints / sent, over the day so far"),
  threshold: z.number().describe("the account's threshold (delivery.reputation)"),
  counts: z.object({ sent: z.number(), bounced: z.number(), complaints: z.number() }),
});

const testData = z.object({ id: z.string(), endpointId: z.string(), message: z.string() });

const envelope = <T extends string, D extends z.ZodType>(type: z.ZodLiteral<T> | z.ZodEnum<Record<T, T>>, data: D) =>
  z.object({ type, timestamp: isoTime.describe("when lasthop emitted the event"), data });

export const webhookEvent = z.discriminatedUnion("type", [
  envelope(z.enum(messageEventTypes), messageEventData),
  envelope(z.enum(["recipient.suppressed", "recipient.unsuppressed"]), recipientData),
  envelope(z.literal("sms.inbound"), smsInboundData),
  envelope(z.literal("endpoint.disabled"), endpointDisabledData),
  envelope(z.literal("pool.reputation_alert"), poolAlertData),
  envelope(z.literal("test"), testData),
]);
export type WebhookEvent = z.infer<typeof webhookEvent>;

/** The webhook type of a timeline event, or null for the ones that are not sent. */
export function messageEventType(type: EventType): MessageEventType | null {
  const name = `message.${type}`;
  return (messageEventTypes as readonly string[]).includes(name) ? (name as MessageEventType) : null;
}

/** The channel an event concerns, for an endpoint's channel filter (none: every endpoint). */
export function eventChannel(event: WebhookEvent): Channel | null {
  switch (event.type) {
    case "recipient.suppressed":
    case "recipient.unsuppressed":
      return event.data.channel;
    case "sms.inbound":
      return "sms";
    case "endpoint.disabled":
    case "pool.reputation_alert":
    case "test":
      return null;
    default:
      return event.data.message.channel;
  }
}

/** The message an event is about, for GET /v1/messages/:id/deliveries. */
export function eventMessageId(event: WebhookEvent): string | null {
  switch (event.type) {
    case "recipient.suppressed":
    case "recipient.unsuppressed":
      return event.data.messageId ?? null;
    case "sms.inbound":
    case "endpoint.disabled":
    case "pool.reputation_alert":
    case "test":
      return null;
    default:
      return event.data.message.id;
  }
}

export type EndpointFilter = { eventTypes: readonly string[] | null; channels: readonly Channel[] | null };

/** Whether an endpoint takes an event: named types (or every type but the opt-in ones), and its channels. */
export function endpointWants(filter: EndpointFilter, event: WebhookEvent): boolean {
  if (event.type === "test") return true;
  if (filter.eventTypes ? !filter.eventTypes.includes(event.type) : optInEventTypes.has(event.type)) return false;
  const channel = eventChannel(event);
  return !channel || !filter.channels || filter.channels.includes(channel);
}

/** The JSON Schema of every event body (docs/webhook-events.schema.json is this, written by `npm run schemas`). */
export function webhookEventJsonSchema(): unknown {
  return z.toJSONSchema(webhookEvent, { target: "draft-2020-12" });
}
