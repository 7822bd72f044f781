/**
 * SendGrid's Signed Event Webhook: ECDSA P-256 / SHA-256 over the bytes of
 * `timestamp + rawBody`, the signature base64 DER in `X-Twilio-Email-Event-Webhook-Signature`,
 * the Unix timestamp in `X-Twilio-Email-Event-Webhook-Timestamp`, checked with the account's
 * verification key (base64 DER SubjectPublicKeyInfo, as SendGrid shows it).
 */
import { fromBase64, utf8 } from "../core/bytes.ts";

export const SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature";
export const TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp";
export const TOLERANCE_SECONDS = 5 * 60;

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** `now` is in milliseconds, as `Date.now()`; tests pass their own. */
export async function verify(input: { headers: Headers; rawBody: string; publicKey: string; now?: number }): Promise<VerifyResult> {
  const signature = input.headers.get(SIGNATURE_HEADER);
  const timestamp = input.headers.get(TIMESTAMP_HEADER);
  if (!signature) return { ok: false, reason: "missing_signature" };
  if (!timestamp) return { ok: false, reason: "missing_timestamp" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed_timestamp" };
  const now = input.now ?? Date.now();
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return { ok: false, reason: "stale_timestamp" };

  const key = await importPublicKey(input.publicKey);
  if (!key) return { ok: false, reason: "bad_key" };
  const raw = rawSignature(signature);
  if (!raw) return { ok: false, reason: "malformed_signature" };
  // The header string is signed as sent, so it is concatenated, never reformatted.
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, utf8(timestamp + input.rawBody));
  return ok ? { ok: true } : { ok: false, reason: "bad_signature" };
}

/** The key as SendGrid shows it (bare base64 DER); PEM armour, if pasted with it, is dropped. */
async function importPublicKey(publicKey: string): Promise<CryptoKey | null> {
  const body = publicKey.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  try {
    // importKey refuses an SPKI of any other curve or algorithm than the one named.
    return await crypto.subtle.importKey("spki", fromBase64(body), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  } catch {
    return null;
  }
}

/** A base64 DER ECDSA signature as the 64-byte r||s WebCrypto verifies; null when malformed. */
export function rawSignature(signature: string): Uint8Array<ArrayBuffer> | null {
  let der: Uint8Array;
  try {
    der = fromBase64(signature.trim());
  } catch {
    return null;
  }
  return derToRaw(der);
}

/**
 * DER `SEQUENCE { INTEGER r, INTEGER s }` to r||s, each left-padded to 32 bytes. An integer
 * whose high bit is set carries a leading 0x00 (33 bytes); a small one is shorter than 32.
 * A P-256 signature is at most 72 bytes, so every length is in DER's one-byte short form.
 */
export function derToRaw(der: Uint8Array): Uint8Array<ArrayBuffer> | null {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return null;
  const out = new Uint8Array(64);
  let at = 2;
  for (const offset of [0, 32]) {
    if (der[at] !== 0x02) return null;
    const length = der[at + 1] ?? 0;
    const start = at + 2;
    const end = start + length;
    if (length < 1 || length > 33 || end > der.length) return null;
    // A set high bit without a 0x00 before it is a negative integer: no ECDSA r or s is.
    if ((der[start] ?? 0) & 0x80) return null;
    let first = start;
    while (first < end - 1 && der[first] === 0) first++;
    if (end - first > 32) return null;
    out.set(der.subarray(first, end), offset + 32 - (end - first));
    at = end;
  }
  return at === der.length ? out : null;
}
