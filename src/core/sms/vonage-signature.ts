/**
 * Vonage's SMS API signature ("Signing Messages", developer.vonage.com/getting-started/concepts/
 * signing-messages, generating a signature manually; as @vonage/sms's verifySignature does it).
 * One implementation for both directions: the callbacks we verify and the sends we sign.
 *  - every parameter but `sig`, sorted by key, each as `&key=value` with `&` and `=` in the value
 *    replaced by `_`;
 *  - `md5hash` (the dashboard's default): hex MD5 of that string followed by the secret;
 *    `md5`, `sha1`, `sha256`, `sha512`: hex HMAC of that string keyed by the secret.
 */
import { toHex, utf8 } from "../bytes.ts";
import { hmacMd5, md5 } from "../md5.ts";

export type VonageAlgorithm = "md5hash" | "md5" | "sha1" | "sha256" | "sha512";

const SUBTLE_HASH = { sha1: "SHA-1", sha256: "SHA-256", sha512: "SHA-512" } as const;

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
