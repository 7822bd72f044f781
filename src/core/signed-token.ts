/**
 * The edge's signed link tokens: `<payload>.<mac>`, both base64url, the payload a JSON array
 * of strings and numbers, the mac HMAC-SHA-256 over the payload's text. One scheme for every
 * link lasthop writes into a message (one-click unsubscribe, open and click tracking); each
 * use signs under its own key (`purpose`), so a token made for one route is refused at another.
 */
import { fromBase64, toBase64Url, utf8 } from "./bytes.ts";
import { timingSafeEqual } from "./constant-time.ts";

export type TokenValue = string | number;

async function hmacKey(secret: string, purpose: string): Promise<CryptoKey> {
  // The unsubscribe key is the secret itself (tokens already in mailboxes keep working); other
  // purposes prefix it, so their keys differ from it and from each other.
  const material = purpose === "" ? secret : `lasthop/${purpose}/${secret}`;
  return crypto.subtle.importKey("raw", utf8(material), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function macOf(secret: string, purpose: string, payload: string): Promise<string> {
  return toBase64Url(await crypto.subtle.sign("HMAC", await hmacKey(secret, purpose), utf8(payload)));
}

export async function signToken(secret: string, purpose: string, values: readonly TokenValue[]): Promise<string> {
  const payload = toBase64Url(utf8(JSON.stringify(values)));
  return `${payload}.${await macOf(secret, purpose, payload)}`;
}

/**
 * The values of a token we signed with this many entries, or null for anything forged,
 * truncated or tampered with. The mac is compared as text in constant time, so a second
 * spelling of the same bytes (base64url's spare low bits) is refused too.
 */
export async function verifyToken(secret: string, purpose: string, token: string, arity: number): Promise<TokenValue[] | null> {
  const [payload, mac, extra] = token.split(".");
  if (!payload || !mac || extra !== undefined || !/^[\w-]+$/.test(payload) || !/^[\w-]+$/.test(mac)) return null;
  if (!timingSafeEqual(utf8(await macOf(secret, purpose, payload)), utf8(mac))) return null;
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromBase64(payload)));
    if (!Array.isArray(value) || value.length !== arity) return null;
    if (!value.every((v) => typeof v === "string" || (typeof v === "number" && Number.isSafeInteger(v)))) return null;
    return value as TokenValue[];
  } catch {
    return null;
  }
}
