/**
 * FCM HTTP v1: the OAuth assertion's claims and the mapping of answers to outcomes
 * (error codes from the v1 `FcmError` detail, falling back to the HTTP status).
 */
import type { SendOutcome } from "./outcome.ts";
import { parseRetryAfter } from "./retry.ts";

export const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
export const FCM_DEFAULT_ORIGIN = "https://fcm.googleapis.com";

type FcmErrorBody = {
  error?: { code?: number; message?: string; status?: string; details?: Array<Record<string, unknown>> };
};

/** The FcmError `errorCode` from the details, else the canonical `status`. */
export function fcmErrorCode(body: FcmErrorBody | null): string | undefined {
  const details = body?.error?.details ?? [];
  const fcm = details.find((d) => String(d["@type"] ?? "").endsWith("google.firebase.fcm.v1.FcmError"));
  return (fcm?.errorCode as string | undefined) ?? body?.error?.status;
}

/** Whether an INVALID_ARGUMENT names the registration token (a BadRequest field violation on message.token). */
function namesToken(body: FcmErrorBody | null): boolean {
  const details = body?.error?.details ?? [];
  const fields = details.flatMap((d) => (Array.isArray(d.fieldViolations) ? (d.fieldViolations as Array<{ field?: string }>) : []));
  if (fields.some((f) => f.field === "message.token")) return true;
  return /registration token/i.test(body?.error?.message ?? "");
}

export function fcmOutcome(status: number, body: unknown, retryAfter?: string | null): SendOutcome {
  const parsed = (body && typeof body === "object" ? body : null) as (FcmErrorBody & { name?: string }) | null;
  if (status >= 200 && status < 300) {
    return { kind: "accepted", detail: { status, ...(parsed?.name ? { providerMessageId: parsed.name } : {}) } };
  }
  const code = fcmErrorCode(parsed);
  const detail: Record<string, unknown> = {
    status,
    ...(code ? { fcmError: code } : {}),
    ...(parsed?.error?.message ? { message: parsed.error.message.slice(0, 300) } : {}),
  };
  switch (code) {
    case "UNREGISTERED":
    case "SENDER_ID_MISMATCH":
      return { kind: "bounced", detail: { ...detail, class: "hard", reason: "token_invalid" } };
    case "INVALID_ARGUMENT":
      return namesToken(parsed)
        ? { kind: "bounced", detail: { ...detail, class: "hard", reason: "token_invalid" } }
        : { kind: "failed", detail: { ...detail, reason: "invalid_argument" } };
    case "QUOTA_EXCEEDED":
    case "UNAVAILABLE":
    case "INTERNAL":
      return {
        kind: "retry",
        retryAfter: parseRetryAfter(retryAfter),
        detail: { ...detail, reason: code === "QUOTA_EXCEEDED" ? "rate_limited" : "server_error" },
      };
    case "THIRD_PARTY_AUTH_ERROR":
      return {
        kind: "failed",
        detail: { ...detail, reason: "configuration", hint: "the APNs or web push credentials uploaded to Firebase were refused" },
      };
  }
  if (status === 429 || status >= 500)
    return {
      kind: "retry",
      retryAfter: parseRetryAfter(retryAfter),
      detail: { ...detail, reason: status === 429 ? "rate_limited" : "server_error" },
    };
  if (status === 401 || status === 403)
    return { kind: "failed", detail: { ...detail, reason: "configuration", hint: "check the FCM service account" } };
  return { kind: "failed", detail: { ...detail, reason: "rejected" } };
}
