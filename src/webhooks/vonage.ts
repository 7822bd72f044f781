/**
 * Vonage signed SMS callbacks (delivery receipts and inbound messages), following "Signing
 * Messages" (developer.vonage.com/getting-started/concepts/signing-messages); the signature itself
 * lives in core/sms/vonage-signature.ts, shared with the Vonage SMS route that signs its sends.
 * The `timestamp` parameter (Unix seconds) is signed with the rest; we refuse it beyond 5 minutes.
 */
import { z } from "zod";
import { utf8 } from "../core/bytes.ts";
import { timingSafeEqual } from "../core/constant-time.ts";
import { signature, signedString, type VonageAlgorithm } from "../core/sms/vonage-signature.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";
import { ourId, providerEvent, providerEventId, type NormalizeContext, type NormalizeResult } from "../core/provider-event.ts";

export { signature, signedString, type VonageAlgorithm };

export const TOLERANCE_SECONDS = 5 * 60;

/** Query or form parameters (or a JSON callback's fields), each a string. */
const vonageParams = z.record(z.string(), z.string());

export async function verify(params: unknown, secret: string, algorithm: VonageAlgorithm, now = Date.now()): Promise<VerifyResult> {
  const parsed = vonageParams.safeParse(params);
  if (!parsed.success) return { ok: false, reason: "malformed_params" };
  const { sig, timestamp } = parsed.data;
  if (!sig) return { ok: false, reason: "missing_signature" };
  if (!timestamp) return { ok: false, reason: "missing_timestamp" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed_timestamp" };
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return { ok: false, reason: "stale_timestamp" };
  const expected = await signature(parsed.data, secret, algorithm);
  // Hex either case: our digests are lower-case, so lower-case what was sent.
  return timingSafeEqual(utf8(expected), utf8(sig.toLowerCase())) ? { ok: true } : { ok: false, reason: "bad_signature" };
}

// ---- Delivery receipts and inbound messages (SMS API callbacks), the parsed half. ----

type ErrCodeMeaning = { type: "delivered" | "bounced" | "failed"; class?: "hard" | "soft"; reason: string };

/**
 * Every DLR `err-code` Vonage documents ("Vonage SMS Delivery Error Codes and Descriptions",
 * api.support.vonage.com/hc/en-us/articles/204014733; the delivery receipts guide). Bounced: the
 * number itself cannot take the message, hard when Vonage says it never will (remove it from
 * your database), soft when the handset is only out of reach now. Failed: the carrier, the
 * route, the content or the sender's registration refused it; the number may be fine.
 */
export const DLR_ERRORS: Readonly<Record<number, ErrCodeMeaning>> = {
  0: { type: "delivered", reason: "delivered" },
  1: { type: "failed", reason: "unknown" },
  2: { type: "bounced", class: "soft", reason: "absent_subscriber_temporary" },
  3: { type: "bounced", class: "hard", reason: "absent_subscriber_permanent" },
  // "Permanent error. Number should be removed from your database."
  4: { type: "bounced", class: "hard", reason: "call_barred_by_user" },
  5: { type: "failed", reason: "portability_error" },
  6: { type: "failed", reason: "anti_spam_rejection" },
  7: { type: "bounced", class: "soft", reason: "handset_busy" },
  8: { type: "failed", reason: "network_error" },
  // Despite the name, Vonage's words: the user asked not to receive messages from this service.
  // Sending again is pointless either way, so the number is suppressed.
  9: { type: "bounced", class: "hard", reason: "illegal_number" },
  10: { type: "failed", reason: "illegal_message" },
  // Vonage found no route ("contact support"): its routing, not the number.
  11: { type: "failed", reason: "unroutable" },
  // "Confirm the recipient's number": likely a bad number, not surely. Soft, so it takes the
  // soft-bounce limit to suppress, and a passing routing fault suppresses nobody.
  12: { type: "bounced", class: "soft", reason: "destination_unreachable" },
  // About this content for this recipient, not the number.
  13: { type: "failed", reason: "subscriber_age_restriction" },
  // SMS is off on the recipient's plan until they ask their carrier (as Twilio's 30004).
  14: { type: "bounced", class: "hard", reason: "number_blocked_by_carrier" },
  15: { type: "bounced", class: "soft", reason: "prepaid_insufficient_funds" },
  16: { type: "failed", reason: "gateway_quota_exceeded" },
  50: { type: "failed", reason: "entity_filter" },
  51: { type: "failed", reason: "header_filter" },
  52: { type: "failed", reason: "content_filter" },
  53: { type: "failed", reason: "consent_filter" },
  54: { type: "failed", reason: "regulation_error" },
  99: { type: "failed", reason: "general_error" },
};

export type VonageVerdict = {
  type: "accepted" | "delivered" | "bounced" | "failed" | "expired" | null;
  class?: "hard" | "soft";
  reason: string;
  errCode?: number;
};

/**
 * A DLR's `status` and `err-code`. `accepted` and `buffered` are intermediate (the carrier took
 * it, or holds it for a handset out of reach); `failed` and `rejected` say why in `err-code`.
 */
export function vonageStatusVerdict(status: string, errCode?: string): VonageVerdict {
  const s = status.trim().toLowerCase();
  const code = errCode !== undefined && /^\s*\d{1,4}\s*$/.test(errCode) ? Number(errCode) : undefined;
  const withCode = code === undefined ? {} : { errCode: code };
  if (s === "accepted" || s === "buffered") return { type: "accepted", reason: s, ...withCode };
  if (s === "delivered") return { type: "delivered", reason: s, ...withCode };
  if (s === "expired") return { type: "expired", reason: s, ...withCode };
  if (s === "failed" || s === "rejected") {
    const meaning = code === undefined ? undefined : DLR_ERRORS[code];
    // err-code 0 on a failure says nothing: the status stands.
    if (!meaning || meaning.type === "delivered") return { type: "failed", reason: s, ...withCode };
    return { ...meaning, ...withCode } as VonageVerdict;
  }
  return { type: null, reason: s, ...withCode };
}

/** A callback's field: a string, or a number in a JSON callback. */
const field = z.union([z.string(), z.number()]).transform(String);

const receipt = z.looseObject({
  messageId: z.string().min(1).max(256),
  msisdn: z.string().regex(/^\+?\d{6,15}$/, "the handset's number, digits in international format"),
  status: z.string().min(1).max(32),
  "err-code": field.optional(),
  scts: field.optional(),
  "message-timestamp": z.string().optional(),
  "client-ref": z.string().optional(),
  to: z.string().optional(),
  "network-code": field.optional(),
  price: field.optional(),
});

/** A callback is a delivery receipt when it has `status`; an inbound message has `text` instead. */
export function isReceipt(params: Readonly<Record<string, unknown>>): boolean {
  return typeof params.status === "string" && params.status !== "";
}

/** One delivery receipt as one event; `unknown` (and any status Vonage does not document) is skipped. */
export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  const parsed = receipt.safeParse(body);
  if (!parsed.success) {
    return { ok: false, issues: parsed.error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message })) };
  }
  const dlr = parsed.data;
  const errCode = dlr["err-code"];
  const verdict = vonageStatusVerdict(dlr.status, errCode);
  if (!verdict.type) return { ok: true, events: [], skipped: [{ index: 0, type: dlr.status, reason: "unknown_status" }] };

  const messageId = ourId(dlr["client-ref"]);
  const event = providerEvent.parse({
    // No event id in a DLR: these fields are the same on a retried callback.
    id: await providerEventId("vonage", undefined, dlr.messageId, dlr.status, errCode, dlr.scts),
    account: ctx.account,
    type: verdict.type,
    occurredAt: vonageTime(dlr["message-timestamp"]) ?? sctsTime(dlr.scts) ?? ctx.receivedAt,
    receivedAt: ctx.receivedAt,
    provider: "vonage",
    channel: "sms",
    recipient: `+${dlr.msisdn.replace(/^\+/, "")}`,
    providerMessageId: dlr.messageId,
    ...(messageId ? { messageId } : {}),
    detail: {
      providerType: dlr.status,
      reason: verdict.reason,
      ...(verdict.class ? { class: verdict.class } : {}),
      ...(verdict.errCode !== undefined ? { errCode: verdict.errCode } : {}),
      ...(dlr.status.trim().toLowerCase() === "buffered" ? { buffered: true } : {}),
      ...(dlr["network-code"] ? { networkCode: dlr["network-code"] } : {}),
      ...(dlr.price ? { price: dlr.price } : {}),
      ...(dlr.to ? { sender: dlr.to } : {}),
    },
  });
  return { ok: true, events: [event], skipped: [] };
}

/** An ISO time from UTC parts, when they name a real instant (no 2020-13-45). */
function utc(y: number, mo: number, d: number, h: number, mi: number, s: number): string | undefined {
  const at = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  const same = at.getUTCFullYear() === y && at.getUTCMonth() === mo - 1 && at.getUTCDate() === d && at.getUTCHours() === h;
  return same && at.getUTCMinutes() === mi && at.getUTCSeconds() === s ? at.toISOString() : undefined;
}

/** `message-timestamp`: "2020-01-01 12:00:00", UTC (never the runtime's zone). */
export function vonageTime(value: string | undefined): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(value?.trim() ?? "");
  return m ? utc(+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]) : undefined;
}

/** `scts`, the carrier's time of the receipt: "YYMMDDhhmm", UTC. */
export function sctsTime(value: string | undefined): string | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value?.trim() ?? "");
  return m ? utc(2000 + +m[1], +m[2], +m[3], +m[4], +m[5], 0) : undefined;
}

export type VonageInbound = {
  id: string;
  from: string;
  to: string;
  body: string;
  receivedAt: string;
  /** Set on one part of a concatenated message: its body is that part's text only. */
  concat?: { ref: string; part: number; total: number };
};

/**
 * An inbound (MO) message: `msisdn` sent `text` to our number `to`. Null for a binary message
 * (`data`, no text) or one without its ids. Each part of a concatenated message comes in its own
 * callback with its own `messageId`; it is returned as it is, marked `concat`, so no text is
 * lost, and a reader must not take an opt-out keyword from a part (a long message's last part
 * may read "STOP"). A part whose concat fields do not read as numbers is null: it cannot be placed.
 */
export function inboundMessage(
  params: Readonly<Record<string, string>>,
  receivedAt: string = new Date().toISOString(),
): VonageInbound | null {
  const { messageId, msisdn, to, text, type } = params;
  if (!messageId || !msisdn || !to || typeof text !== "string") return null;
  if (type !== undefined && type !== "text" && type !== "unicode") return null;
  const message: VonageInbound = {
    id: messageId,
    from: /^\d{6,15}$/.test(msisdn) ? `+${msisdn}` : msisdn,
    to,
    body: text,
    receivedAt: vonageTime(params["message-timestamp"]) ?? receivedAt,
  };
  if (params.concat !== "true") return message;
  const ref = params["concat-ref"];
  const part = Number(params["concat-part"]);
  const total = Number(params["concat-total"]);
  if (!ref || !Number.isInteger(part) || !Number.isInteger(total) || part < 1 || part > total) return null;
  return { ...message, concat: { ref, part, total } };
}
