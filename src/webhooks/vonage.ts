/**
 * Vonage signed SMS callbacks (delivery receipts and inbound messages), following "Signing
 * Messages" (developer.vonage.com/getting-started/concepts/signing-messages, the section on
 * generating a signature manually), as @vonage/sms's verifySignature implements it:
 *  - every parameter but `sig`, sorted by key, each as `&key=value` with `&` and `=` in the value
 *    replaced by `_`;
 *  - `md5hash` (the dashboard's default): hex MD5 of that string followed by the secret;
 *    `md5`, `sha1`, `sha256`, `sha512`: hex HMAC of that string keyed by the secret.
 * The `timestamp` parameter (Unix seconds) is signed with the rest; we refuse it beyond 5 minutes.
 */
import { z } from "zod";
import { toHex, utf8 } from "../core/bytes.ts";
import { timingSafeEqual } from "../core/constant-time.ts";
import { hmacMd5, md5 } from "../core/md5.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";

export const TOLERANCE_SECONDS = 5 * 60;

export type VonageAlgorithm = "md5hash" | "md5" | "sha1" | "sha256" | "sha512";

const SUBTLE_HASH = { sha1: "SHA-1", sha256: "SHA-256", sha512: "SHA-512" } as const;

/** Query or form parameters (or a JSON callback's fields), each a string. */
const vonageParams = z.record(z.string(), z.string());

/** The string Vonage signs, from all the parameters but `sig`. */
export function signedString(params: Readonly<Record<string, string>>): string {
  const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return Object.entries(params)
    .filter(([key]) => key !== "sig")
    .sort(([a], [b]) => byCodeUnits(a, b))
    .map(([key, value]) => `&${key}=${value.replace(/[&=]/g, "_")}`)
    .join("");
}

export async function signature(params: Readonly<Record<string, string>>, secret: string, algorithm: VonageAlgorithm): Promise<string> {
  const signed = signedString(params);
  if (algorithm === "md5hash") return toHex(md5(utf8(signed + secret)));
  if (algorithm === "md5") return toHex(hmacMd5(utf8(secret), utf8(signed)));
  const key = await crypto.subtle.importKey("raw", utf8(secret), { name: "HMAC", hash: SUBTLE_HASH[algorithm] }, false, ["sign"]);
  return toHex(await crypto.subtle.sign("HMAC", key, utf8(signed)));
}

export async function verify(params: unknown, secret: string, algorithm: VonageAlgorithm, now = Date.now()): Promise<VerifyResult> {
  const parsed = vonageParams.safeParse(params);
  if (!parsed.success) return { ok: false, reason: "malformed_params" };
  const { sig, timestamp } = parsed.data;
  if (!sig) return { ok: false, reason: "missing_signature" };
  if (!timestamp) return { ok: false, reason: "missing_timestamp" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed_timestamp" };
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return { ok: false, reason: "stale_timestamp" };
  const expected = await signature(parsed.data, secret, algorithm);
  // Hex either case: our digests are lower-case, so lower-case what was sent.
  return timingSafeEqual(utf8(expected), utf8(sig.toLowerCase())) ? { ok: true } : { ok: false, reason: "bad_signature" };
}
