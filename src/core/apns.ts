/**
 * APNs (Apple Push Notification service) request headers and response mapping, pure and
 * shared: the bridge builds requests and maps answers with these, the edge validates with
 * the same limits. Reasons are Apple's own strings ("Handling notification responses from APNs").
 */
import type { SendOutcome } from "./outcome.ts";
import { parseRetryAfter } from "./retry.ts";

export const APNS_PRODUCTION_ORIGIN = "https://api.push.apple.com";
export const APNS_SANDBOX_ORIGIN = "https://api.sandbox.push.apple.com";

/** One notification as the edge hands it to the bridge. */
export type ApnsNotification = {
  id: string;
  token: string;
  topic: string;
  pushType: string;
  priority?: 10 | 5 | 1;
  expiration?: number;
  collapseId?: string;
  payload: Record<string, unknown>;
  sandbox?: boolean;
};

/** The request headers for `POST /3/device/<token>`; `apns-id` carries our message id. */
export function apnsHeaders(n: ApnsNotification, authorization: string): Record<string, string> {
  const headers: Record<string, string> = {
    authorization,
    "apns-id": n.id,
    "apns-topic": n.topic,
    "apns-push-type": n.pushType,
    "apns-priority": String(n.priority ?? (n.pushType === "background" ? 5 : 10)),
  };
  if (n.expiration !== undefined) headers["apns-expiration"] = String(n.expiration);
  if (n.collapseId !== undefined) headers["apns-collapse-id"] = n.collapseId;
  return headers;
}

/**
 * The suffixes Apple appends to an app's bundle id for push types that need their own topic:
 * VoIP, watchOS complications, File Provider, Live Activities, push to talk, location queries
 * ("Sending notification requests to APNs", apns-topic). Such a topic belongs to the base app.
 */
export const APNS_TOPIC_SUFFIXES = [
  ".voip",
  ".complication",
  ".pushkit.fileprovider",
  ".push-type.liveactivity",
  ".voip-ptt",
  ".location-query",
];

/**
 * Whether an account may push to `topic`: it is one of the account's topics, or one of them
 * with an Apple suffix (the VoIP topic of a listed app is that app's). Exact, case-sensitive
 * matches: a topic listed with its suffix matches itself only.
 */
export function apnsTopicAllowed(topic: string, topics: readonly string[]): boolean {
  if (topics.includes(topic)) return true;
  const suffix = APNS_TOPIC_SUFFIXES.find((s) => topic.endsWith(s));
  return suffix !== undefined && topics.includes(topic.slice(0, -suffix.length));
}

/** Reasons that mean the device token is dead for this topic: prune it. */
const TOKEN_INVALID = new Set(["BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"]);
/** Reasons that mean our provider credentials are wrong: no retry can fix it, an operator must. */
const CONFIGURATION = new Set([
  "InvalidProviderToken",
  "MissingProviderToken",
  "BadCertificate",
  "BadCertificateEnvironment",
  "TopicDisallowed",
  "Forbidden",
]);

/**
 * Maps APNs' answer to an outcome. 200 is custody only: APNs sends no delivery receipt, so
 * an APNs message stays `accepted`. `ExpiredProviderToken` and `TooManyProviderTokenUpdates`
 * are transient here: the bridge refreshes its token and the attempt is retried.
 */
export function apnsOutcome(
  status: number,
  body: { reason?: string; timestamp?: number } | null,
  retryAfter?: string | null,
  apnsId?: string,
): SendOutcome {
  const reason = body?.reason;
  const detail: Record<string, unknown> = { status, ...(reason ? { apnsReason: reason } : {}) };
  if (status === 200) return { kind: "accepted", detail: { ...detail, ...(apnsId ? { providerMessageId: apnsId } : {}) } };
  if (status === 410 || (reason && TOKEN_INVALID.has(reason))) {
    // 410 carries the last time APNs knew the token was valid (ms since the epoch).
    const since = typeof body?.timestamp === "number" ? { unregisteredAt: new Date(body.timestamp).toISOString() } : {};
    return { kind: "bounced", detail: { ...detail, ...since, class: "hard", reason: "token_invalid" } };
  }
  if (status === 429 || status >= 500 || reason === "ExpiredProviderToken" || reason === "TooManyProviderTokenUpdates") {
    return {
      kind: "retry",
      retryAfter: parseRetryAfter(retryAfter),
      detail: { ...detail, reason: status === 429 ? "rate_limited" : status >= 500 ? "server_error" : "provider_token" },
    };
  }
  if (status === 403 || (reason && CONFIGURATION.has(reason))) {
    return {
      kind: "failed",
      detail: {
        ...detail,
        reason: "configuration",
        hint: "check the APNs key, key id, team id and topic: the account's apns section, or the bridge's APNS_* for the deployment's key",
      },
    };
  }
  if (status === 413) return { kind: "failed", detail: { ...detail, reason: "payload_too_large" } };
  return { kind: "failed", detail: { ...detail, reason: "rejected" } };
}
