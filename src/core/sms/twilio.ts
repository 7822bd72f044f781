/**
 * Twilio Programmable Messaging, the pure half: webhook signatures (X-Twilio-Signature), status
 * callbacks and the synchronous error answer of a send. The HTTP client lives elsewhere.
 */
import { fromBase64, toBase64, utf8 } from "../bytes.ts";
import { derivedEventId } from "../ids.ts";
import type { Submitted } from "../outcome.ts";
import type { CanonicalEvent } from "../schema.ts";

export type FormParams = ReadonlyArray<readonly [string, string]>;

/**
 * The signed string: the full URL, then each POST parameter's name immediately followed by its
 * value, sorted by name then value. Identical name/value pairs count once, as in Twilio's own
 * helper libraries (twilio-node, twilio-python) that define what the header is checked against.
 */
function signedData(url: string, params: FormParams): Uint8Array<ArrayBuffer> {
  const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const unique = [...new Map(params.map(([name, value]) => [`${name}\0${value}`, [name, value] as const])).values()];
  unique.sort((a, b) => byCodeUnits(a[0], b[0]) || byCodeUnits(a[1], b[1]));
  return utf8(url + unique.map(([name, value]) => name + value).join(""));
}

function hmacKey(authToken: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", utf8(authToken), { name: "HMAC", hash: "SHA-1" }, false, [usage]);
}

export async function twilioSignature(authToken: string, url: string, params: FormParams): Promise<string> {
  const key = await hmacKey(authToken, "sign");
  return toBase64(await crypto.subtle.sign("HMAC", key, signedData(url, params)));
}

/**
 * Candidate URLs cover what Twilio may have signed for one endpoint (with and without the port,
 * behind a proxy that rewrote the host). crypto.subtle.verify compares in constant time.
 */
export async function verifyTwilioSignature(
  authToken: string,
  urls: readonly string[],
  params: FormParams,
  signature: string,
): Promise<boolean> {
  let mac: Uint8Array<ArrayBuffer>;
  try {
    mac = fromBase64(signature.trim());
  } catch {
    return false;
  }
  const key = await hmacKey(authToken, "verify");
  for (const url of urls) {
    if (await crypto.subtle.verify("HMAC", key, mac, signedData(url, params))) return true;
  }
  return false;
}

type ErrorMeaning = { type: "bounced" | "failed"; class?: "hard" | "soft"; reason: string };

/**
 * Twilio error codes (twilio.com/docs/api/errors/<code>). Bounced: the number itself cannot take
 * the message; hard when it never will, soft when the handset is only out of reach now (30003).
 * Failed: the message or the account was refused; the number may be fine.
 */
const ERRORS: Readonly<Record<number, ErrorMeaning>> = {
  21211: { type: "bounced", class: "hard", reason: "invalid_to_number" },
  21214: { type: "bounced", class: "hard", reason: "to_number_unreachable" },
  21612: { type: "bounced", class: "hard", reason: "cannot_route" },
  21614: { type: "bounced", class: "hard", reason: "not_a_mobile_number" },
  // Split out of 21614 in 2024 for landlines.
  21635: { type: "bounced", class: "hard", reason: "landline" },
  30003: { type: "bounced", class: "soft", reason: "unreachable_handset" },
  30004: { type: "bounced", class: "hard", reason: "message_blocked" },
  30005: { type: "bounced", class: "hard", reason: "unknown_destination" },
  30006: { type: "bounced", class: "hard", reason: "landline_or_unreachable_carrier" },
  20003: { type: "failed", reason: "authentication_failed" },
  21408: { type: "failed", reason: "region_not_enabled" },
  21610: { type: "failed", reason: "opted_out" },
  30001: { type: "failed", reason: "queue_overflow" },
  30002: { type: "failed", reason: "account_suspended" },
  30007: { type: "failed", reason: "carrier_filtered" },
  30008: { type: "failed", reason: "unknown_error" },
  30009: { type: "failed", reason: "missing_segment" },
  30010: { type: "failed", reason: "price_exceeds_max" },
  30032: { type: "failed", reason: "toll_free_unverified" },
  30034: { type: "failed", reason: "unregistered_10dlc" },
};

function errorNumber(code: unknown): number | undefined {
  if (typeof code === "number") return Number.isInteger(code) ? code : undefined;
  if (typeof code === "string" && /^\s*\d+\s*$/.test(code)) return Number(code);
  return undefined;
}

export type TwilioVerdict = {
  type: "accepted" | "delivered" | "bounced" | "failed" | null;
  class?: "hard" | "soft";
  reason: string;
  errorCode?: number;
};

const IN_FLIGHT = new Set(["queued", "accepted", "scheduled", "sending", "sent"]);

/** A StatusCallback's MessageStatus and ErrorCode. `sent` is the carrier's acceptance, not delivery. */
export function twilioStatusVerdict(status: string, errorCode?: string | number | null): TwilioVerdict {
  const s = status.trim().toLowerCase();
  const code = errorNumber(errorCode);
  const withCode = code === undefined ? {} : { errorCode: code };
  if (IN_FLIGHT.has(s)) return { type: "accepted", reason: s };
  if (s === "delivered" || s === "read") return { type: "delivered", reason: s };
  if (s === "canceled") return { type: "failed", reason: s, ...withCode };
  if (s === "undelivered" || s === "failed") {
    const meaning = code === undefined ? undefined : ERRORS[code];
    return meaning ? { ...meaning, ...withCode } : { type: "failed", reason: s, ...withCode };
  }
  return { type: null, reason: s, ...withCode };
}

export type TwilioSendVerdict = { kind: "bounced" | "failed" | "retry"; reason: string; errorCode?: number; submitted: Submitted };

/**
 * A non-2xx answer to POST /2010-04-01/Accounts/{sid}/Messages.json; the body is Twilio's
 * `{code, message, more_info, status}`. 502/503 come from the edge before the application saw the
 * request, so nothing was queued; a 500 or 504 may have created the message before failing.
 */
export function twilioSendErrorVerdict(httpStatus: number, body: unknown): TwilioSendVerdict {
  const code = errorNumber(body !== null && typeof body === "object" ? (body as { code?: unknown }).code : undefined);
  const withCode = code === undefined ? {} : { errorCode: code };
  if (httpStatus === 429 || code === 20429) return { kind: "retry", reason: "rate_limited", submitted: "no", ...withCode };
  if (httpStatus === 502 || httpStatus === 503) return { kind: "retry", reason: "service_unavailable", submitted: "no", ...withCode };
  if (httpStatus >= 500 && httpStatus <= 599) {
    return { kind: "retry", reason: httpStatus === 504 ? "gateway_timeout" : "server_error", submitted: "maybe", ...withCode };
  }
  if (httpStatus >= 400 && httpStatus <= 499) {
    const meaning = code === undefined ? undefined : ERRORS[code];
    if (meaning?.type === "bounced" && meaning.class === "hard")
      return { kind: "bounced", reason: meaning.reason, submitted: "no", ...withCode };
    const reason = meaning?.reason ?? REJECTIONS[httpStatus] ?? "rejected";
    return { kind: "failed", reason, submitted: "no", ...withCode };
  }
  // Not an error status at all: we cannot tell what happened, so the send may have gone through.
  return { kind: "retry", reason: "unexpected_status", submitted: "maybe", ...withCode };
}

const REJECTIONS: Readonly<Record<number, string>> = { 401: "unauthorized", 403: "forbidden", 404: "not_found" };

/** One observation of a message's Twilio status: a status callback's fields, or a fetched resource's. */
export type TwilioStatusSeen = {
  account: string;
  messageId: string;
  route: string;
  sid: string;
  status: string;
  errorCode?: string | number | null;
  /** When lasthop saw it (ISO 8601). */
  now: string;
};

/**
 * A message's Twilio status as a canonical event, whoever saw it: the status callback or the
 * status poll (core/poll/twilio.ts). Twilio has no event id, so the id is derived from the sid,
 * the status and the error code: the same transition seen both ways is one event, applied once
 * (MessageDO dedupes by id). `sent` and the other in-flight statuses map to `accepted`, which
 * never moves a message back; a status that means nothing to us is null.
 */
export async function twilioStatusEvent(seen: TwilioStatusSeen, via: "callback" | "poll"): Promise<CanonicalEvent | null> {
  const verdict = twilioStatusVerdict(seen.status, seen.errorCode);
  if (!verdict.type) return null;
  // The callback's ErrorCode is a form string, the resource's error_code a number: the id takes the same text.
  const code = seen.errorCode === null || seen.errorCode === undefined || seen.errorCode === "" ? undefined : String(seen.errorCode);
  return {
    id: await derivedEventId("twilio", seen.sid, seen.status, code),
    account: seen.account,
    messageId: seen.messageId,
    type: verdict.type,
    occurredAt: seen.now,
    receivedAt: seen.now,
    provider: "twilio",
    detail: {
      status: seen.status,
      reason: verdict.reason,
      ...(verdict.class ? { class: verdict.class } : {}),
      ...(verdict.errorCode !== undefined ? { errorCode: verdict.errorCode } : {}),
      ...(seen.sid ? { sid: seen.sid, providerMessageId: seen.sid } : {}),
      route: seen.route,
      ...(via === "poll" ? { via } : {}),
    },
  };
}
