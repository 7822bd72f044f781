/**
 * Vonage's SMS API (POST {baseUrl}/sms/json), the pure half: the route's settings, the signed
 * request, and what the answer means for the message. Vonage answers HTTP 200 even when it refuses
 * a message: each part carries its own `status` ("0" is success) and `error-text`
 * (developer.vonage.com/messaging/sms/guides/troubleshooting-sms, /api-errors/sms).
 * The HTTP client lives in channels/sms-vonage.ts.
 */
import { z } from "zod";
import type { OutcomeDetail, SendOutcome, Submitted } from "../outcome.ts";
import { gsm7Septets } from "./gsm.ts";
import { signature, type VonageAlgorithm } from "./vonage-signature.ts";

/**
 * A Vonage account (or sub-account) as one route. Its credentials live in the route, as a REST
 * route's do: the route is complete when the sms section validates, and two Vonage routes may use
 * two API keys. The signature secret, when set, signs every send instead of the API secret
 * (Vonage refuses both at once, status 32). Receipts come back to /v1/webhooks/vonage/{account}
 * and are checked with the account's provider:vonage signatureSecret.
 */
export const vonageRoute = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
    type: z.literal("vonage"),
    /** The API origin; https://rest.nexmo.com unless a region or a test double says otherwise. */
    baseUrl: z.url({ protocol: /^https?$/ }).default("https://rest.nexmo.com"),
    apiKey: z.string().regex(/^[A-Za-z0-9]{1,64}$/, "must be the account's API key (letters and digits)"),
    apiSecret: z.string().min(1).max(256).optional(),
    signatureSecret: z.string().min(1).max(256).optional(),
    signatureMethod: z.enum(["md5hash", "md5", "sha1", "sha256", "sha512"]).optional(),
  })
  .refine((r) => r.apiSecret !== undefined || r.signatureSecret !== undefined, {
    message: "give apiSecret or signatureSecret",
    path: ["apiSecret"],
  });
export type VonageRoute = z.infer<typeof vonageRoute>;

export type VonageSend = {
  /** E.164; Vonage wants the digits without `+`. */
  to: string;
  from: string;
  text: string;
  /** Our message id, echoed in every receipt as client-ref (at most 100 characters). */
  clientRef: string;
  /** Where the receipts go. */
  callback: string;
};

/**
 * The form fields of one send: authenticated by api_secret, or by `sig` over every field plus a
 * `timestamp` when the route has a signature secret. `type` unicode for text GSM-7 cannot carry.
 */
export async function vonageRequest(
  route: VonageRoute,
  send: VonageSend,
  now = Date.now(),
): Promise<{ url: string; params: Record<string, string> }> {
  const params: Record<string, string> = {
    api_key: route.apiKey,
    // A number goes without its +; an alphanumeric sender id as it is.
    from: send.from.replace(/^\+/, ""),
    to: send.to.replace(/^\+/, ""),
    text: send.text,
    type: gsm7Septets(send.text) === null ? "unicode" : "text",
    "client-ref": send.clientRef,
    callback: send.callback,
    "status-report-req": "1",
  };
  if (route.signatureSecret !== undefined) {
    params.timestamp = String(Math.floor(now / 1000));
    params.sig = await signature(params, route.signatureSecret, (route.signatureMethod ?? "md5hash") satisfies VonageAlgorithm);
  } else {
    params.api_secret = route.apiSecret!;
  }
  return { url: `${route.baseUrl.replace(/\/+$/, "")}/sms/json`, params };
}

/** `error`: Vonage's name for the status; `reason` what failover reads (retry), or the error itself. */
type Meaning = { kind: "retry"; reason: string; submitted: Submitted; error: string } | { kind: "failed" | "bounced"; error: string };

/**
 * Every non-zero `status` of the documented table, by what it says about the message and the route:
 *  - retry, stays on the route: throttling (1, 10) says the route works, only slower;
 *  - retry `route_auth`, passes to the next route: the route cannot send anything (credentials,
 *    signature, a suspended account, HTTP not enabled: 4, 8, 11, 14, 32);
 *  - retry `route_down`, passes on: no credit (9) stops every message until a top-up;
 *  - retry `route_down` but submitted "maybe" (5): the platform failed while processing the message,
 *    so it may be out; it stays pinned, and counts against the route's health;
 *  - bounced hard: the number itself can never take it (7 barred, 33 deactivated);
 *  - failed: this message as built was refused (2, 3, 6, 12, 15, 22, 23), or a trial account's
 *    whitelist refused a number that may be fine (29: not the number's fault, so no suppression).
 */
const STATUSES: Readonly<Record<number, Meaning>> = {
  1: { kind: "retry", reason: "throttled", submitted: "no", error: "throttled" },
  2: { kind: "failed", error: "missing_parameters" },
  3: { kind: "failed", error: "invalid_parameters" },
  4: { kind: "retry", reason: "route_auth", submitted: "no", error: "invalid_credentials" },
  5: { kind: "retry", reason: "route_down", submitted: "maybe", error: "internal_error" },
  6: { kind: "failed", error: "invalid_message" },
  7: { kind: "bounced", error: "number_barred" },
  8: { kind: "retry", reason: "route_auth", submitted: "no", error: "partner_account_barred" },
  9: { kind: "retry", reason: "route_down", submitted: "no", error: "partner_quota_violation" },
  10: { kind: "retry", reason: "throttled", submitted: "no", error: "too_many_existing_binds" },
  11: { kind: "retry", reason: "route_auth", submitted: "no", error: "account_not_enabled_for_http" },
  12: { kind: "failed", error: "message_too_long" },
  14: { kind: "retry", reason: "route_auth", submitted: "no", error: "invalid_signature" },
  15: { kind: "failed", error: "invalid_sender_address" },
  22: { kind: "failed", error: "invalid_network_code" },
  23: { kind: "failed", error: "invalid_callback_url" },
  29: { kind: "failed", error: "non_whitelisted_destination" },
  32: { kind: "retry", reason: "route_auth", submitted: "no", error: "signature_and_api_secret_disallowed" },
  33: { kind: "bounced", error: "number_deactivated" },
};

/** The meaning of one part's `status`; an undocumented code is a refusal of this message. */
export function vonageStatusMeaning(status: number): Meaning {
  return STATUSES[status] ?? { kind: "failed", error: "unknown_status" };
}

const text = z.union([z.string(), z.number()]).transform(String);
const part = z.looseObject({
  status: text.pipe(z.string().regex(/^\d{1,4}$/)).transform(Number),
  "message-id": z.string().min(1).optional(),
  "error-text": z.string().optional(),
  to: z.string().optional(),
  "remaining-balance": text.optional(),
  "message-price": text.optional(),
  network: text.optional(),
});
const answer = z.looseObject({ "message-count": text.optional(), messages: z.array(part).min(1) });

/**
 * What one answer to POST /sms/json comes to. A 200 is read part by part: any part accepted makes
 * the message accepted (it is out; receipts tell the rest, and sending it again would duplicate
 * those parts), the failed parts noted; no part accepted maps the first part's status. Otherwise
 * the HTTP status: 401/403 the credentials, 429 throttling, 502/503 an edge that never reached the
 * API (nothing queued), any other 5xx or an unreadable 200 may have sent it.
 */
export function vonageSendOutcome(httpStatus: number, body: unknown, retryAfter?: number): SendOutcome {
  const http = { status: httpStatus };
  const after = retryAfter === undefined ? {} : { retryAfter };
  if (httpStatus === 401 || httpStatus === 403) return { kind: "retry", detail: { ...http, reason: "route_auth", submitted: "no" } };
  if (httpStatus === 429) return { kind: "retry", ...after, detail: { ...http, reason: "throttled", submitted: "no" } };
  if (httpStatus === 502 || httpStatus === 503)
    return { kind: "retry", ...after, detail: { ...http, reason: "route_down", submitted: "no" } };
  if (httpStatus >= 500) return { kind: "retry", ...after, detail: { ...http, reason: "server_error", submitted: "maybe" } };
  if (httpStatus < 200 || httpStatus > 299) return { kind: "failed", detail: { ...http, reason: "rejected" } };

  const parsed = answer.safeParse(body);
  if (!parsed.success) return { kind: "retry", detail: { ...http, reason: "unexpected_answer", submitted: "maybe" } };
  const parts = parsed.data.messages;
  const accepted = parts.filter((p) => p.status === 0 && p["message-id"] !== undefined);
  const failedParts = parts
    .map((p, index) => ({ index, p }))
    .filter(({ p }) => !accepted.includes(p))
    .map(({ index, p }) => ({ part: index + 1, vonageStatus: p.status, ...(p["error-text"] ? { errorText: p["error-text"] } : {}) }));

  if (accepted.length > 0) {
    const first = accepted[0]!;
    const detail: OutcomeDetail = {
      ...http,
      providerMessageId: first["message-id"],
      messageIds: accepted.map((p) => p["message-id"]!),
      providerSegments: parts.length,
      ...(first.network ? { network: first.network } : {}),
      ...(accepted.some((p) => p["message-price"]) ? { price: totalPrice(accepted.map((p) => p["message-price"])) } : {}),
      ...(failedParts.length > 0 ? { failedParts } : {}),
    };
    return { kind: "accepted", detail };
  }

  const first = parts[0]!;
  const meaning = vonageStatusMeaning(first.status);
  const detail = {
    ...http,
    reason: meaning.kind === "retry" ? meaning.reason : meaning.error,
    vonageStatus: first.status,
    vonageError: meaning.error,
    ...(first["error-text"] ? { errorText: first["error-text"] } : {}),
  };
  if (meaning.kind === "retry") return { kind: "retry", detail: { ...detail, submitted: meaning.submitted } };
  if (meaning.kind === "bounced") return { kind: "bounced", detail: { ...detail, class: "hard", submitted: "no" } };
  return { kind: "failed", detail: { ...detail, submitted: "no" } };
}

/** The parts' prices added up, as Vonage writes them (8 decimals). */
function totalPrice(prices: ReadonlyArray<string | undefined>): string {
  return prices.reduce((sum, price) => sum + (Number(price) || 0), 0).toFixed(8);
}
