/**
 * Secrets at rest: AES-256-GCM under a key ring from a Worker secret (`CONFIG_KEYS`), each
 * sealed value naming the key that sealed it, so keys rotate without a flag day: put the new
 * key first, keep the old ones after it until every value has been re-sealed.
 *
 * The account id and the field's name are the additional data: a value copied into another
 * account's row, or into another field, does not open.
 */
import { fromBase64, toBase64Url, utf8 } from "../bytes.ts";

export type KeyRing = { current: string; keys: ReadonlyMap<string, CryptoKey> };

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * `CONFIG_KEYS` is `kid:base64key[,kid:base64key…]`, 32-byte keys, the first one current.
 * Throws with a message naming what is wrong: a deployment without a usable ring must not
 * store secrets it could not open again.
 */
export async function keyRing(text: string | undefined): Promise<KeyRing> {
  const entries = (text ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error("CONFIG_KEYS is not set: secrets cannot be sealed");
  const keys = new Map<string, CryptoKey>();
  for (const entry of entries) {
    const [kid, b64, extra] = entry.split(":");
    if (!kid || !b64 || extra !== undefined || !KEY_ID.test(kid)) throw new Error("CONFIG_KEYS entries are kid:base64key");
    const raw = fromBase64(b64);
    if (raw.length !== 32) throw new Error(`CONFIG_KEYS key ${kid} must be 32 bytes`);
    if (keys.has(kid)) throw new Error(`CONFIG_KEYS names ${kid} twice`);
    keys.set(kid, await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
  }
  return { current: entries[0]!.split(":")[0]!, keys };
}

/** `v1.<kid>.<iv>.<ciphertext>` (base64url). */
export async function seal(ring: KeyRing, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = ring.keys.get(ring.current)!;
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(context) }, key, utf8(plaintext));
  return `v1.${ring.current}.${toBase64Url(iv)}.${toBase64Url(ct)}`;
}

/** The key id a sealed value was sealed with (to find values still under an old key). */
export function sealedWith(sealed: string): string | null {
  const [version, kid] = sealed.split(".");
  return version === "v1" && kid ? kid : null;
}

/** Opens a sealed value; throws when its key is gone, or it was tampered with or moved. */
export async function open(ring: KeyRing, context: string, sealed: string): Promise<string> {
  const [version, kid, iv, ct, extra] = sealed.split(".");
  if (version !== "v1" || !kid || !iv || !ct || extra !== undefined) throw new Error("not a sealed value");
  const key = ring.keys.get(kid);
  if (!key) throw new Error(`the key ${kid} that sealed this value is not in CONFIG_KEYS`);
  const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv: fromBase64(iv), additionalData: utf8(context) }, key, fromBase64(ct));
  return new TextDecoder().decode(plain);
}

/** What a read shows of a secret: its last four characters, never more than a quarter of it. */
export function mask(secret: string): string {
  const tail = secret.length >= 16 ? secret.slice(-4) : "";
  return `…${tail}`;
}
