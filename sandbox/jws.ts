// Compact JWS (RFC 7515) parsing and signature checks with node:crypto alone, for the APNs
// provider token (ES256) and the Google service-account assertion (RS256). Shares no code with
// the senders under test.
import { verify, type KeyObject } from "node:crypto";

export type CompactJws = {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** `<header>.<claims>` as sent: the bytes the signature covers. */
  signingInput: Buffer;
  signature: Buffer;
};

// JWS compact serialisation is unpadded base64url (RFC 7515 §2); anything else is a sender bug.
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Splits and decodes a compact JWS; a string says what is wrong with it. */
export function parseCompactJws(token: string): CompactJws | string {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((part) => BASE64URL.test(part))) return "not a compact JWS (three base64url parts)";
  const [encodedHeader, encodedClaims, encodedSignature] = parts as [string, string, string];
  const header = decodeJsonObject(encodedHeader);
  if (header === null) return "JWS header is not a JSON object";
  const claims = decodeJsonObject(encodedClaims);
  if (claims === null) return "JWT claims are not a JSON object";
  return {
    header,
    claims,
    signingInput: Buffer.from(`${encodedHeader}.${encodedClaims}`, "ascii"),
    signature: Buffer.from(encodedSignature, "base64url"),
  };
}

/** ES256 (RFC 7518 §3.4): SHA-256 over P-256, the signature being the raw 64-byte r||s pair, not DER. */
export function verifyEs256(jws: CompactJws, key: KeyObject): boolean {
  if (jws.signature.length !== 64) return false;
  return verify("sha256", jws.signingInput, { key, dsaEncoding: "ieee-p1363" }, jws.signature);
}

/** RS256 (RFC 7518 §3.3): RSASSA-PKCS1-v1_5 with SHA-256. */
export function verifyRs256(jws: CompactJws, key: KeyObject): boolean {
  return verify("sha256", jws.signingInput, key, jws.signature);
}

/** A NumericDate claim (RFC 7519 §2): seconds since the epoch, or null when absent or not a number. */
export function numericDate(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function decodeJsonObject(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
