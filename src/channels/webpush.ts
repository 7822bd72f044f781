import { buildPushPayload, type VapidKeys } from "@block65/webcrypto-web-push";
import type { SendOutcome } from "../core/outcome.ts";
import { parseRetryAfter } from "../core/retry.ts";
import type { WebPushSend } from "../core/schema.ts";
import { WEBPUSH_DEFAULT_TTL, payloadText, type VapidConfig } from "../core/webpush.ts";

/**
 * Sends one web push (RFC 8030) with an aes128gcm payload (RFC 8291) and VAPID (RFC 8292).
 *
 * @example
 * const outcome = await sendWebPush(request, vapidFrom(env)!)
 */
export async function sendWebPush(request: WebPushSend, vapid: VapidConfig): Promise<SendOutcome> {
  const push = await buildPushPayload(
    { data: payloadText(request.payload) },
    { endpoint: request.to.endpoint, expirationTime: null, keys: request.to.keys },
    vapid satisfies VapidKeys,
  );
  // The library turns TTL 0 into 60 and has no default of its own worth keeping:
  // RFC 8030 §5.2 makes 0 meaningful (deliver now or drop), and ours is four weeks.
  const headers: Record<string, string> = { ...push.headers, ttl: String(request.ttl ?? WEBPUSH_DEFAULT_TTL) };
  if (request.urgency) headers.urgency = request.urgency;
  if (request.topic) headers.topic = request.topic;
  let response: Response;
  try {
    // No redirects: a 3xx from an allowed host must not take us to a host that is not.
    response = await fetch(request.to.endpoint, { method: "POST", headers, body: push.body, redirect: "manual" });
  } catch (err) {
    return { kind: "retry", detail: { reason: "network_error", error: String(err) } };
  }
  const body = await response.text().catch(() => "");
  return webpushOutcome(response.status, response.headers, body);
}

/**
 * Maps a push service's answer to an outcome, as the services document it
 * (RFC 8030 §5-§8; Mozilla autopush, FCM and WNS agree on these codes).
 */
export function webpushOutcome(status: number, headers: Headers, body: string): SendOutcome {
  const detail: Record<string, unknown> = { status, ...(body ? { response: body.slice(0, 512) } : {}) };
  if (status >= 200 && status < 300) {
    const location = headers.get("location");
    return { kind: "accepted", detail: { ...detail, ...(location ? { providerMessageId: location } : {}) } };
  }
  // 404/410: the subscription is gone for good; it must be pruned, never retried.
  if (status === 404 || status === 410) return { kind: "bounced", detail: { ...detail, class: "hard", reason: "token_invalid" } };
  if (status === 413) return { kind: "failed", detail: { ...detail, reason: "payload_too_large" } };
  if (status === 429 || status >= 500) {
    return {
      kind: "retry",
      retryAfter: parseRetryAfter(headers.get("retry-after")),
      detail: { ...detail, reason: status === 429 ? "rate_limited" : "server_error" },
    };
  }
  // 400/401/403: our request or our VAPID key is wrong; retrying cannot help.
  const reason = status === 401 || status === 403 ? "vapid_rejected" : "rejected";
  return { kind: "failed", detail: { ...detail, reason } };
}
