/**
 * Postmark webhooks carry no signature: the documented protection is HTTP Basic credentials in
 * the webhook URL (`https://<username>:<password>@example.com/webhook`, postmarkapp.com/developer/
 * webhooks/webhooks-overview), which arrive as `Authorization: Basic base64(user:pass)`.
 */
import { fromBase64, utf8 } from "../core/bytes.ts";
import { timingSafeEqual } from "../core/constant-time.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";

export type PostmarkCredentials = { webhookUsername: string; webhookPassword: string };

const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;

// Digests are compared, not the strings: equal length on both sides, so the time taken
// reveals nothing about the configured credentials' lengths either.
async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(text)));
}

export async function verify(authorization: string | null | undefined, expected: PostmarkCredentials): Promise<VerifyResult> {
  if (!expected.webhookUsername || !expected.webhookPassword) return { ok: false, reason: "credentials_not_configured" };
  if (!authorization) return { ok: false, reason: "missing_credentials" };
  const match = BASIC.exec(authorization.trim());
  if (!match) return { ok: false, reason: "malformed_credentials" };
  let decoded: string;
  try {
    decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(fromBase64(match[1]!));
  } catch {
    return { ok: false, reason: "malformed_credentials" };
  }
  // RFC 7617: the user-id cannot contain ':', the password can; split at the first one.
  const colon = decoded.indexOf(":");
  if (colon < 0) return { ok: false, reason: "malformed_credentials" };
  const [user, pass, wantUser, wantPass] = await Promise.all([
    digest(decoded.slice(0, colon)),
    digest(decoded.slice(colon + 1)),
    digest(expected.webhookUsername),
    digest(expected.webhookPassword),
  ]);
  // Both comparisons run whatever the first one says: no early exit on a wrong username.
  const userOk = timingSafeEqual(user, wantUser);
  const passOk = timingSafeEqual(pass, wantPass);
  return userOk && passOk ? { ok: true } : { ok: false, reason: "bad_credentials" };
}
