// What APNs checks on one notification request, as pure functions over the request's headers
// and body ("Sending notification requests to APNs", "Handling notification responses from
// APNs"). Each rejection carries Apple's status and `reason` string.

export type ApnsRejection = { status: 400 | 413; reason: string };

/** The request headers a push is judged (and recorded) by; null when absent. */
export type ApnsHeaders = {
  "apns-id": string | null;
  "apns-topic": string | null;
  "apns-push-type": string | null;
  "apns-priority": string | null;
  "apns-expiration": string | null;
  "apns-collapse-id": string | null;
};

export const APNS_HEADER_NAMES = [
  "apns-id",
  "apns-topic",
  "apns-push-type",
  "apns-priority",
  "apns-expiration",
  "apns-collapse-id",
] as const;

// The apns-push-type values Apple documents.
const PUSH_TYPES = new Set([
  "alert",
  "background",
  "voip",
  "complication",
  "fileprovider",
  "mdm",
  "liveactivity",
  "pushtotalk",
  "location",
]);
// "The canonical form is 32 lowercase hexadecimal digits, displayed in five groups separated by
// hyphens in the form 8-4-4-4-12"; uppercase digits pass too (UUIDs compare case-insensitively).
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_COLLAPSE_ID_BYTES = 64;
// "For Voice over Internet Protocol (VoIP) notifications, the maximum payload size is 5 KB
// (5120 bytes). For all other remote notifications, the maximum payload size is 4 KB (4096 bytes)."
const MAX_PAYLOAD_BYTES = 4096;
export const MAX_VOIP_PAYLOAD_BYTES = 5120;

export function isCanonicalUuid(value: string): boolean {
  return UUID.test(value);
}

export function checkHeaders(headers: ApnsHeaders): ApnsRejection | null {
  if (headers["apns-id"] !== null && !UUID.test(headers["apns-id"])) return { status: 400, reason: "BadMessageId" };
  // Token-based connections must always name the topic (the app's bundle id, plus a suffix for
  // some push types).
  if (headers["apns-topic"] === null || headers["apns-topic"] === "") return { status: 400, reason: "MissingTopic" };
  // Apple calls the push type "required for watchOS 6 and later; recommended for macOS, iOS,
  // tvOS, and iPadOS", so an absent header passes and means alert.
  const pushType = headers["apns-push-type"];
  if (pushType !== null && !PUSH_TYPES.has(pushType)) return { status: 400, reason: "InvalidPushType" };
  const priority = headers["apns-priority"];
  if (priority !== null && !/^(10|5|1)$/.test(priority)) return { status: 400, reason: "BadPriority" };
  // Background notifications "must" use priority 5. Only an explicit other value is refused: with
  // the header absent APNs defaults to 10, but Apple does not document rejecting that case.
  if (pushType === "background" && priority !== null && priority !== "5") return { status: 400, reason: "BadPriority" };
  const expiration = headers["apns-expiration"];
  if (expiration !== null && !/^\d{1,12}$/.test(expiration)) return { status: 400, reason: "BadExpirationDate" };
  const collapseId = headers["apns-collapse-id"];
  if (collapseId !== null && Buffer.byteLength(collapseId, "utf8") > MAX_COLLAPSE_ID_BYTES) return { status: 400, reason: "BadCollapseId" };
  return null;
}

export function maxPayloadBytes(pushType: string | null): number {
  return pushType === "voip" ? MAX_VOIP_PAYLOAD_BYTES : MAX_PAYLOAD_BYTES;
}

/**
 * Checks the body: present, within the size limit of its push type, and a JSON dictionary.
 * Apple documents no reason for a body that is not JSON (there is no "BadPayload"); the
 * sandbox answers such bodies as PayloadEmpty, the nearest documented one, since a body with
 * no readable dictionary carries nothing to deliver. It does not require the `aps` key: Apple
 * documents no error for its absence either.
 */
export function checkPayload(
  body: Buffer,
  oversized: boolean,
  pushType: string | null,
): ApnsRejection | { payload: Record<string, unknown> } {
  if (body.length === 0) return { status: 400, reason: "PayloadEmpty" };
  if (oversized || body.length > maxPayloadBytes(pushType)) return { status: 413, reason: "PayloadTooLarge" };
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return { payload: value as Record<string, unknown> };
  } catch {
    // fall through
  }
  return { status: 400, reason: "PayloadEmpty" };
}

/** The device token from `:path`: hex, an even number of digits. */
export function checkDeviceToken(hex: string): ApnsRejection | null {
  if (hex === "") return { status: 400, reason: "MissingDeviceToken" };
  if (!/^(?:[0-9a-fA-F]{2}){1,100}$/.test(hex)) return { status: 400, reason: "BadDeviceToken" };
  return null;
}

/** Words a sandbox device token can carry (as bytes, read as latin1) to pick its outcome. */
export const OUTCOME_WORDS = ["bounce", "bad", "slow", "down", "hold"] as const;
export type OutcomeWord = (typeof OUTCOME_WORDS)[number];

export function outcomeWord(text: string): OutcomeWord | null {
  return OUTCOME_WORDS.find((word) => text.includes(word)) ?? null;
}

export function deviceTokenText(hex: string): string {
  return Buffer.from(hex, "hex").toString("latin1");
}
