/** Shapes exchanged with the Durable Objects over RPC. */
import type { Channel, DeliveryState, EventType, SuppressionReason } from "../core/model.ts";
import type { RecipientEffect } from "../core/suppression.ts";
import type { SendRequest } from "../core/schema.ts";
import type { DlrStat } from "../core/bridge.ts";
import type { TrackingPrivacy } from "../core/tracking.ts";
import type { RenderFailure, TemplateUse } from "../core/template.ts";

/** A message whose template could not be rendered for its recipient: created `failed`, never sent. */
export type RenderingFailed = { template: TemplateUse; failure: RenderFailure };

export type TimelineEvent = {
  id: string;
  type: EventType;
  occurredAt: string;
  receivedAt: string;
  provider: string;
  detail: Record<string, unknown>;
};

export type MessageView = {
  id: string;
  channel: Channel;
  to: string;
  status: DeliveryState;
  attempts: number;
  createdAt: string;
  updatedAt: string;
  providerMessageId?: string;
  /** Sent elsewhere: lasthop learnt of it from this provider's events (no request, no attempts). */
  external?: { provider: string };
  metadata?: Record<string, unknown>;
  /** Rendered from this stored template (its name and version). */
  template?: TemplateUse;
  /** The route that carried the message (or may have: it is pinned there), SMS and email. */
  route?: string;
  /** SMS over SMPP: one entry per part, with its SMSC id and its latest receipt. */
  receipts?: Array<{ segment: number; smscId: string; stat?: string; err?: string; at?: string }>;
  /**
   * SMS while `accepted`: receipts are advisory (carriers drop them); with none by then the
   * message ends `expired` (reason no_delivery_receipt).
   */
  receiptDeadline?: string;
  /** A scheduled send: when it goes (or went). */
  sendAt?: string;
  events: TimelineEvent[];
};

export type CreateInput = {
  id: string;
  account: string;
  request: SendRequest;
  recipientKey: string;
  recipient: string;
  bodyHash: string;
  /** Keyword replies (STOP/HELP confirmations) go to a recipient who opted out. */
  bypassSuppression?: boolean;
  /** A scheduled send: epoch ms when it goes (core/schedule.ts decided it is ahead). */
  sendAt?: number;
  /** Only answer an existing message (replay or conflict); make none (`absent`). */
  replayOnly?: boolean;
  /** The template did not render for this recipient: the message is made `failed` (rendering_failed). */
  rendering?: RenderingFailed;
};

/**
 * A message lasthop did not send, first heard of through a provider's event: keyed by the
 * provider and its message id (its RefDO holds our id for it), with its own timeline.
 */
export type ExternalInput = {
  id: string;
  account: string;
  channel: "email" | "sms";
  recipientKey: string;
  recipient: string;
  provider: string;
  providerMessageId: string;
};

export type CreateResult =
  | { kind: "created"; message: MessageView; reason?: SuppressionReason; rendering?: RenderingFailed }
  | { kind: "replay"; message: MessageView; reason?: SuppressionReason; rendering?: RenderingFailed }
  | { kind: "conflict" }
  | { kind: "absent" };

/** A cancel: done (or done before: a second cancel is the same), too late, or no such message. */
export type CancelResult =
  | { kind: "canceled"; message: MessageView }
  | { kind: "not_cancelable"; status: DeliveryState }
  | { kind: "unknown" };

/** What a send queue carries: just the ids; the MessageDO holds the request (channels' SendJob is the send itself). */
export type QueuedSend = { account: string; messageId: string };

export type AttemptStart =
  | { action: "send"; request: SendRequest; attempt: number; createdAt: string; route?: string }
  | { action: "skip"; reason: "unknown" | "done" | "suppressed" | "in_flight" | "scheduled" | "not_due" };

export type ApplyResult =
  | { kind: "applied"; state: DeliveryState; changed: boolean }
  | { kind: "duplicate"; state: DeliveryState }
  | { kind: "unknown" };

export type SuppressionEntry = {
  channel: Channel;
  recipientKey: string;
  recipient: string;
  reason: SuppressionReason;
  at: string;
  sourceEventId?: string;
  messageId?: string;
};

export type RecipientTarget = { account: string; channel: Channel; recipientKey: string; recipient: string };

export type EffectInput = RecipientTarget & {
  effect: RecipientEffect;
  eventId: string;
  messageId: string;
  at: string;
};

/** A delivery receipt for one submitted part, as the bridge reports it (ids canonical). */
export type ReceiptInput = {
  route: string;
  smscId: string;
  stat: DlrStat;
  err?: string;
  doneAt?: string;
  text?: string;
  receivedAt: string;
};

/** What a RefDO maps its provider id to: one part of one message. */
export type RefMapping = { account: string; messageId: string; segment: number; segments: number };

export type ReceiptResult =
  | { kind: "applied"; state: DeliveryState }
  | { kind: "duplicate"; state: DeliveryState }
  | { kind: "parked" }
  | { kind: "unknown" };

/** An open or click, as the tracking routes saw it; the account comes from the verified token only. */
export type TrackInput = {
  kind: "o" | "c";
  index: number;
  method: string;
  userAgent: string;
  ip: string | null;
  privacy: TrackingPrivacy;
  at: string;
};
export type TrackResult = { kind: "unknown" } | { kind: "no_link" } | { kind: "recorded"; url?: string; machine: boolean };
