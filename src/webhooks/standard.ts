/**
 * Any Standard Webhooks sender (standardwebhooks.com): Loops, Clerk, a customer's own system.
 * The signature is the spec's (src/core/standard-webhooks.ts) under its own `webhook-*` header
 * names. The body has no shape of its own, so the account's `mapping` (config section
 * `provider:standard`) says where each canonical field is, as dotted paths, and what each of
 * the sender's event types means. The spec posts one event per request, and `webhook-id` is
 * the same on every retry of it: that header is the event's id.
 */
import { z } from "zod";
import { enhancedCodesIn, replyCodeIn } from "../core/bounce/codes.ts";
import type { StandardMapping } from "../core/config/sections.ts";
import {
  classifyProviderBounce,
  isoTime,
  ourId,
  providerEvent,
  providerEventId,
  type NormalizeContext,
  type NormalizeResult,
  type ProviderEvent,
} from "../core/provider-event.ts";
import { verify as verifyStandard, webhookHeaders } from "../core/standard-webhooks.ts";

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** The core's reasons as short codes (resend.ts gives the same, being this under Svix's names); the headers' absence is told before it runs. */
const REASONS: Record<string, string> = {
  "webhook-timestamp is not a Unix timestamp": "malformed_timestamp",
  "webhook-timestamp is outside the 5-minute tolerance": "stale_timestamp",
  "no signature matches": "bad_signature",
};

/** `now` is in milliseconds, as `Date.now()`; tests pass their own. */
export async function verify(input: { headers: Headers; rawBody: string; secret: string; now?: number }): Promise<VerifyResult> {
  const headers = webhookHeaders(input.headers);
  if (!headers["webhook-id"]) return { ok: false, reason: "missing_id" };
  if (!headers["webhook-timestamp"]) return { ok: false, reason: "missing_timestamp" };
  if (!headers["webhook-signature"]) return { ok: false, reason: "missing_signature" };
  let result: VerifyResult;
  try {
    result = await verifyStandard(input.secret, headers, input.rawBody, input.now);
  } catch {
    // Only the secret's import throws: not base64, or empty.
    return { ok: false, reason: "bad_key" };
  }
  if (result.ok) return result;
  return { ok: false, reason: REASONS[result.reason] ?? "bad_signature" };
}

/** Segments that would reach an object's prototype machinery rather than its data. */
const FORBIDDEN = new Set(["__proto__", "constructor", "prototype"]);

/**
 * The value at a dotted path (`data.to.0`): digits index arrays, every other segment names an
 * own property. Undefined when any step is missing, or names a prototype segment.
 */
export function pick(body: unknown, path: string): unknown {
  let at: unknown = body;
  for (const segment of path.split(".")) {
    if (FORBIDDEN.has(segment) || at === null || typeof at !== "object") return undefined;
    if (Array.isArray(at)) {
      if (!/^\d+$/.test(segment)) return undefined;
      at = at[Number(segment)];
    } else {
      if (!Object.hasOwn(at, segment)) return undefined;
      at = (at as Record<string, unknown>)[segment];
    }
  }
  return at;
}

const eventBody = z.looseObject({});

/** Ids longer than this are hashed, so `standard:` + the id stays within the event id's 256. */
const MAX_HEADER_ID = 200;
const MAX_DIAGNOSTIC = 1000;

export async function normalize(body: unknown, ctx: NormalizeContext, mapping: StandardMapping): Promise<NormalizeResult> {
  // zod's object refuses arrays too: the spec posts one event per request.
  if (!eventBody.safeParse(body).success) return { ok: false, issues: [{ path: "(body)", message: "expected one event, a JSON object" }] };
  const providerType = pick(body, mapping.type);
  if (typeof providerType !== "string" || !providerType) {
    return { ok: false, issues: [{ path: mapping.type, message: "expected the event type, a string" }] };
  }
  const skip = (reason: string): NormalizeResult => ({
    ok: true,
    events: [],
    skipped: [{ index: 0, type: providerType.slice(0, 128), reason }],
  });

  const mapped = Object.hasOwn(mapping.types, providerType) ? mapping.types[providerType] : undefined;
  if (!mapped) return skip("unmapped_type");
  const { type, bounceClass } = typeof mapped === "string" ? { type: mapped, bounceClass: undefined } : mapped;
  const providerMessageId = text(pick(body, mapping.providerMessageId), 256);
  if (!providerMessageId) return skip("no_provider_message_id");
  const recipients = recipientsOf(pick(body, mapping.recipient), mapping.channel);
  if (recipients.length === 0) return skip("no_recipient");

  const rawTime = pick(body, mapping.occurredAt);
  const occurredAt = timeOf(rawTime, ctx.receivedAt);
  const messageId = mapping.messageId ? ourId(pick(body, mapping.messageId)) : undefined;
  const headerId = ctx.headers?.get("webhook-id")?.trim() || undefined;
  const stableId = headerId && headerId.length <= MAX_HEADER_ID ? headerId : undefined;

  const events: ProviderEvent[] = [];
  for (const recipient of recipients) {
    // One recipient: the sender's own id. Several: the id with the recipient, one event each.
    const id =
      stableId && recipients.length === 1
        ? await providerEventId("standard", stableId)
        : await providerEventId("standard", undefined, headerId, providerType, providerMessageId, recipient, String(rawTime ?? ""));
    const detail: Record<string, unknown> = { providerType };
    if (type === "bounced") Object.assign(detail, bounceDetail(body, mapping, recipient, bounceClass));
    events.push(
      providerEvent.parse({
        id,
        account: ctx.account,
        type,
        occurredAt,
        receivedAt: ctx.receivedAt,
        provider: "standard",
        channel: mapping.channel,
        recipient,
        providerMessageId,
        ...(messageId ? { messageId } : {}),
        detail,
      }),
    );
  }
  return { ok: true, events, skipped: [] };
}

/** A string or a number as trimmed text of 1 to `max` characters. */
function text(value: unknown, max: number): string | undefined {
  const s = typeof value === "string" ? value.trim() : typeof value === "number" && Number.isFinite(value) ? String(value) : "";
  return s && s.length <= max ? s : undefined;
}

/** One recipient or an array of them, each once; SMS numbers of digits get their `+`. */
function recipientsOf(value: unknown, channel: StandardMapping["channel"]): string[] {
  const found = (Array.isArray(value) ? value : [value]).map((v) => text(v, 512)).filter((v) => v !== undefined);
  const spelt = channel === "sms" ? found.map((v) => (/^\d{7,15}$/.test(v) ? `+${v}` : v)) : found;
  return [...new Set(spelt)];
}

/**
 * Unix seconds, Unix milliseconds (Clerk's `timestamp`; nothing in seconds is past 1e11, the
 * year 5138), either as a numeric string, or an ISO 8601 string; the fallback otherwise.
 */
function timeOf(value: unknown, fallback: string): string {
  const n = typeof value === "number" ? value : typeof value === "string" && /^\d{1,16}$/.test(value) ? Number(value) : undefined;
  const unixSeconds = n !== undefined && n >= 1e11 ? n / 1000 : n;
  // Past JavaScript's last date (8.64e15 ms), isoTime's Date would throw.
  if (unixSeconds !== undefined && !(Math.abs(unixSeconds) <= 8.64e12)) return fallback;
  const iso = isoTime(unixSeconds ?? value, fallback);
  // A time zod's datetime refuses (a six-digit year) is no time.
  return z.iso.datetime({ offset: true }).safeParse(iso).success ? iso : fallback;
}

/**
 * The sender's class word (from the mapped type, else the mapping's field) decides hard or soft; our classifier gives the reason from the
 * diagnostic (and keeps a policy refusal soft even when called permanent). No word: undetermined.
 */
function bounceDetail(body: unknown, mapping: StandardMapping, recipient: string, typeClass?: "hard" | "soft"): Record<string, unknown> {
  // The type's own class (its name says it) before a field's.
  const word = typeClass ?? (mapping.bounceClass ? pick(body, mapping.bounceClass) : undefined);
  const stated = typeof word === "string" ? word.trim().toLowerCase() : "";
  const permanent = stated === "hard" || stated === "permanent" ? true : stated === "soft" || stated === "transient" ? false : undefined;
  const diagnostic = mapping.diagnostic ? diagnosticOf(pick(body, mapping.diagnostic)) : undefined;
  const smtpCode = diagnostic ? replyCodeIn(diagnostic) : undefined;
  const enhancedCode = diagnostic ? enhancedCodesIn(diagnostic)[0] : undefined;
  const found = classifyProviderBounce({
    ...(smtpCode ? { smtpCode } : {}),
    ...(enhancedCode ? { enhancedCode } : {}),
    ...(diagnostic ? { diagnostic } : {}),
    ...(permanent !== undefined ? { permanent } : {}),
    recipient,
  });
  return {
    class: permanent === undefined ? "undetermined" : found.class,
    reason: found.reason,
    ...(typeof word === "string" && word ? { bounceClass: word } : {}),
    ...(smtpCode ? { smtpCode } : {}),
    ...(enhancedCode ? { enhancedCode } : {}),
    ...(diagnostic ? { diagnostic } : {}),
  };
}

/** A diagnostic string, or an array of them (Resend's `bounce.diagnosticCode`), cut to size. */
function diagnosticOf(value: unknown): string | undefined {
  const parts = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string" && v.trim() !== "");
  const joined = parts.map((p) => p.trim()).join("; ");
  return joined ? joined.slice(0, MAX_DIAGNOSTIC) : undefined;
}
