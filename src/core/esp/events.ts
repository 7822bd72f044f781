/**
 * What the email providers' event readers share (the webhook adapters' `normalize` in
 * src/webhooks, and the status poll's reading of Mailgun's Events API, core/poll/mailgun.ts): one draft per (event, recipient) made a
 * checked ProviderEvent, bounce details through our classifier, and the small readers their
 * payloads need (SMTP codes in free text, Unix times sent as strings, addresses as printed).
 */
import type { z } from "zod";
import { enhancedCodesIn, replyCodeIn } from "../bounce/codes.ts";
import { typedValue } from "../bounce/fields.ts";
import { zodDetails } from "../http.ts";
import type { EventType } from "../model.ts";
import {
  classifyProviderBounce,
  isoTime,
  ourId,
  providerEvent,
  providerEventId,
  type NormalizeContext,
  type NormalizeResult,
  type ProviderEvent,
} from "../provider-event.ts";

/** One event as a provider module reads it, before the common checks. */
export type Draft = {
  type: EventType;
  recipient: string | undefined;
  providerMessageId: string | undefined;
  /** The provider's own stable event id, when it has one. */
  eventId?: string | undefined;
  /** Fields the same on every retry of the event, for a derived id (the recipient is added). */
  stable: Array<string | number | undefined>;
  time: unknown;
  /** What the provider echoed under OUR_ID_KEY. */
  ours: unknown;
  detail: Record<string, unknown>;
};

export type Skipped = Extract<NormalizeResult, { ok: true }>["skipped"][number];

/** zod's issues as the result's `{path, message}` (dotted paths, as the API's errors). */
export function zodIssues(error: z.ZodError): Array<{ path: string; message: string }> {
  return zodDetails(error).map(({ path, message }) => ({ path: path ?? "(body)", message }));
}

/** The draft as a checked event, or why it cannot be one. */
export async function emailEvent(provider: string, ctx: NormalizeContext, draft: Draft): Promise<ProviderEvent | { skip: string }> {
  const recipient = draft.recipient?.trim();
  if (!recipient) return { skip: "no_recipient" };
  if (!draft.providerMessageId) return { skip: "no_message_id" };
  const messageId = ourId(draft.ours);
  const parsed = providerEvent.safeParse({
    id: await providerEventId(provider, draft.eventId || undefined, ...draft.stable, recipient),
    account: ctx.account,
    type: draft.type,
    occurredAt: eventTime(draft.time, ctx.receivedAt),
    receivedAt: ctx.receivedAt,
    provider,
    channel: "email",
    recipient,
    providerMessageId: draft.providerMessageId,
    ...(messageId ? { messageId } : {}),
    detail: compact(draft.detail),
  });
  // Only a provider value past the contract's bounds (a 300-character id) lands here.
  return parsed.success ? parsed.data : { skip: "invalid_event" };
}

/** Runs each item through `read` and collects events and skips, in the body's order. */
export async function collect(
  provider: string,
  ctx: NormalizeContext,
  items: readonly unknown[],
  read: (item: unknown) => { providerType: string; draft: Draft | { skip: string } },
): Promise<NormalizeResult> {
  const events: ProviderEvent[] = [];
  const skipped: Skipped[] = [];
  for (const [index, item] of items.entries()) {
    const { providerType, draft } = read(item);
    const result = "skip" in draft ? draft : await emailEvent(provider, ctx, draft);
    if ("skip" in result) skipped.push({ index, type: providerType, reason: result.skip });
    else events.push(result);
  }
  return { ok: true, events, skipped };
}

/** `class`, `reason` and the evidence, for a bounced event's detail. */
export function bounceDetail(input: {
  smtpCode?: number | undefined;
  enhancedCode?: string | undefined;
  diagnostic?: string | undefined;
  permanent?: boolean | undefined;
  recipient?: string | undefined;
}): Record<string, unknown> {
  const smtpCode = input.smtpCode ?? smtpCodeIn(input.diagnostic);
  const enhancedCode = input.enhancedCode ?? enhancedCodeIn(input.diagnostic);
  const verdict = classifyProviderBounce({
    ...(smtpCode ? { smtpCode } : {}),
    ...(enhancedCode ? { enhancedCode } : {}),
    ...(input.diagnostic ? { diagnostic: input.diagnostic } : {}),
    ...(input.permanent !== undefined ? { permanent: input.permanent } : {}),
    ...(input.recipient ? { recipient: input.recipient.trim() } : {}),
  });
  return { class: verdict.class, reason: verdict.reason, rule: verdict.rule, smtpCode, enhancedCode, diagnostic: clip(input.diagnostic) };
}

/** The first SMTP reply code in a diagnostic ("550 5.1.1 …", "smtp;550 …"), as the DSN reader finds it. */
export function smtpCodeIn(text: string | undefined): number | undefined {
  // "smtp;550 …" is RFC 3464's diagnostic-type; the code is in its value.
  return text ? replyCodeIn(typedValue(text).value) : undefined;
}

/** The first RFC 3463 status code in a diagnostic, as the DSN reader finds it. */
export function enhancedCodeIn(text: string | undefined): string | undefined {
  return text ? enhancedCodesIn(text)[0] : undefined;
}

/** An RFC 3463 status code as given, or undefined when it is not one. */
export function enhancedCode(value: unknown): string | undefined {
  return typeof value === "string" && /^[245]\.\d{1,3}\.\d{1,3}$/.test(value.trim()) ? value.trim() : undefined;
}

/** An SMTP reply code as given (number or digits), or undefined when it is not one. */
export function smtpCode(value: unknown): number | undefined {
  const code = typeof value === "string" && /^\d{3}$/.test(value) ? Number(value) : value;
  return typeof code === "number" && Number.isInteger(code) && code >= 200 && code <= 599 ? code : undefined;
}

/** Unix seconds (a number or its digits) or ISO 8601, as ISO 8601; the fallback otherwise. */
export function eventTime(value: unknown, fallback: string): string {
  return isoTime(typeof value === "string" && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value, fallback);
}

/** A provider's free text kept small: a diagnostic is a few lines, never a dump. */
export function clip(text: unknown, max = 1000): string | undefined {
  if (typeof text !== "string") return undefined;
  const trimmed = text.trim();
  return trimmed ? trimmed.slice(0, max) : undefined;
}

/** Detail without its empty entries (absent facts are absent keys), long provider text clipped: detail is small. */
export function compact(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (value === undefined || value === null || value === "") continue;
    out[key] = typeof value === "string" ? value.slice(0, 1000) : value;
  }
  return out;
}

/** The schema's limit on a recipient. */
const MAX_RECIPIENT = 512;

/** An address as providers print it, bare or as `Name <address>`, trimmed; undefined when empty or too long. */
export function addressOf(raw: string): string | undefined {
  const address = (/<([^<>]*)>\s*$/.exec(raw)?.[1] ?? raw).trim();
  return address && address.length <= MAX_RECIPIENT ? address : undefined;
}

/** A body that is not the provider's shape, as the result says it (dotted paths). */
export function invalid(error: z.ZodError): NormalizeResult {
  return { ok: false, issues: zodIssues(error) };
}
