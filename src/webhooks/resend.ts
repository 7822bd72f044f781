/**
 * Resend signs its webhooks with Svix, which is Standard Webhooks under `svix-` header names:
 * HMAC-SHA256 over `${id}.${timestamp}.${body}` with a `whsec_` secret, `v1,<base64>` entries,
 * 5 minutes' tolerance. So the check is src/core/standard-webhooks.ts's, the headers renamed.
 */
import { verify as verifyStandard, webhookHeaders } from "../core/standard-webhooks.ts";

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** The core's reasons as this module's short codes; the headers' absence is told before it runs. */
const REASONS: Record<string, string> = {
  "webhook-timestamp is not a Unix timestamp": "malformed_timestamp",
  "webhook-timestamp is outside the 5-minute tolerance": "stale_timestamp",
  "no signature matches": "bad_signature",
};

/** `now` is in milliseconds, as `Date.now()`; tests pass their own. */
export async function verify(input: { headers: Headers; rawBody: string; secret: string; now?: number }): Promise<VerifyResult> {
  const headers = webhookHeaders((name) => input.headers.get(name.replace(/^webhook-/, "svix-")));
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
