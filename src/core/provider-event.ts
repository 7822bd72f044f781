/**
 * What every provider webhook adapter (`src/webhooks/<provider>.ts`) normalizes to: one
 * contract for SendGrid, SES, Mailgun, Postmark, Resend, Vonage and any Standard Webhooks
 * sender. A provider names a message by its own id; lasthop's id rides along only when the
 * provider echoes what we gave it (custom args, tags, metadata, client-ref), so the event
 * carries both and the consumer correlates (src/queues/events.ts): ours first, else the
 * provider's id through its RefDO, else it is mail lasthop did not send (an external message).
 */
import { z } from "zod";
import { classifyBounce, type Classification } from "./bounce/classify.ts";
import { derivedEventId } from "./ids.ts";
import { eventTypes } from "./model.ts";

/** The key under which lasthop puts its message id in a provider's custom args, tags or metadata. */
export const OUR_ID_KEY = "lasthop_id";

export const providerEvent = z.strictObject({
  /** `${provider}:${the provider's stable event id}`, or a SHA-256 of its stable fields. */
  id: z.string().min(1).max(256),
  account: z.string().min(1).max(128),
  type: z.enum(eventTypes),
  occurredAt: z.iso.datetime({ offset: true }),
  receivedAt: z.iso.datetime({ offset: true }).optional(),
  provider: z.string().min(1).max(64),
  channel: z.enum(["email", "sms"]),
  /** The address or E.164 number the event is about. */
  recipient: z.string().min(1).max(512),
  providerMessageId: z.string().min(1).max(256),
  /** lasthop's message id, when the provider echoed it back (only ever a UUID). */
  messageId: z.uuid().optional(),
  /**
   * `providerType` (the provider's own name of the event) always; bounces add `class`,
   * `reason` (Sisimai's words), `smtpCode`, `enhancedCode`, `diagnostic`; complaints
   * `feedbackType` (RFC 5965; absent or "abuse" suppresses).
   */
  detail: z.record(z.string(), z.unknown()).default({}),
});
export type ProviderEvent = z.infer<typeof providerEvent>;

export type NormalizeContext = {
  account: string;
  /** When lasthop received the request (ISO 8601); also the fallback for an event without a time. */
  receivedAt: string;
  /** The request's headers (Standard Webhooks' `webhook-id` is the event's id). */
  headers?: Headers;
};

/** A verified body: its events, and what was left out on purpose (named, never silent). */
export type NormalizeResult =
  | { ok: true; events: ProviderEvent[]; skipped: Array<{ index: number; type: string; reason: string }> }
  | { ok: false; issues: Array<{ path: string; message: string }> };

/** Our id from whatever the provider echoed under OUR_ID_KEY, when it is a UUID. */
export function ourId(value: unknown): string | undefined {
  return typeof value === "string" && z.uuid().safeParse(value).success ? value : undefined;
}

/** `${provider}:` + the provider's own id, or + SHA-256 of the stable fields when it has none. */
export async function providerEventId(
  provider: string,
  stable: string | undefined,
  ...fields: Array<string | number | undefined>
): Promise<string> {
  return `${provider}:${stable ?? (await derivedEventId(provider, ...fields))}`;
}

/** An ISO 8601 time from Unix seconds or an ISO-ish string; the fallback when neither parses. */
export function isoTime(value: unknown, fallback: string): string {
  const at = typeof value === "number" ? value * 1000 : typeof value === "string" && value ? Date.parse(value) : Number.NaN;
  // Past ±8.64e15 ms a Date is invalid and toISOString throws: such a time is no time at all.
  return Number.isFinite(at) && Math.abs(at) <= 8.64e15 ? new Date(at).toISOString() : fallback;
}

/**
 * A provider's bounce through our own classifier: the SMTP reply and status it reports are the
 * same evidence a DSN carries, so the reason is ours (read as a reply to RCPT TO when the provider
 * calls it permanent). `permanent` is what the provider says:
 * its "transient" is always soft; its "permanent" is hard when our classifier cannot tell
 * (undefined, onhold), but a policy or content refusal it calls permanent stays soft, since
 * suppressing a live address for the sender's reputation would lose a reader.
 */
export function classifyProviderBounce(input: {
  smtpCode?: number;
  enhancedCode?: string;
  diagnostic?: string;
  permanent?: boolean;
  recipient?: string;
}): Classification {
  const domain = input.recipient?.split("@")[1]?.toLowerCase();
  const found = classifyBounce({
    action: input.permanent === false ? "delayed" : "failed",
    // A provider's permanent bounce is its verdict on the address, given at RCPT TO as a rule:
    // "unknown recipient" there is a dead address, not a content filter's words after DATA.
    ...(input.permanent === true ? { command: "RCPT" as const } : {}),
    ...(input.enhancedCode ? { enhancedCode: input.enhancedCode } : {}),
    ...(input.smtpCode ? { smtpCode: input.smtpCode } : {}),
    ...(input.diagnostic ? { diagnostic: input.diagnostic } : {}),
    ...(domain ? { recipientDomain: domain } : {}),
    ...(input.permanent === false ? { temporary: true } : {}),
  });
  if (input.permanent === false) return { ...found, class: "soft" };
  if (input.permanent === true && UNKNOWN.has(found.reason)) return { ...found, class: "hard" };
  return found;
}

const UNKNOWN = new Set(["undefined", "onhold"]);

/** What the events queue carries for provider webhooks: events packed (core/queue.ts packByBytes). */
export type ProviderEventPack = { kind: "provider-events"; events: ProviderEvent[] };
