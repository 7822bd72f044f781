/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
 * `${webhook-id}.${webhook-timestamp}.${body}` with a `whsec_`-prefixed base64 secret,
 * sent as space-separated `v1,<base64>` entries. Used by the edge to verify the bridge
 * and by the bridge to verify the edge: one implementation for both sides.
 *
 * The platform secret (WEBHOOK_SECRET = BRIDGE_SECRET) never signs a request itself: each
 * door (the path a signed request is posted to) has its own key, `doorSecret(secret, door)`,
 * so a body signed for one door is refused at every other.
 */
import { fromBase64, toBase64, utf8 } from "./bytes.ts";

export const TOLERANCE_SECONDS = 5 * 60;

export type WebhookHeaders = { "webhook-id": string; "webhook-timestamp": string; "webhook-signature": string };

/** A Fetch `Headers`, or a getter by lower-case name (Node's `req.headers[name]`, Hono's `c.req.header`). */
export type HeaderSource = Headers | ((name: string) => string | string[] | null | undefined);

/** The three Standard Webhooks headers of a request, as `verify` takes them (the first of repeated ones). */
export function webhookHeaders(source: HeaderSource): Partial<WebhookHeaders> {
  const get = typeof source === "function" ? source : (name: string) => source.get(name);
  const one = (name: keyof WebhookHeaders) => {
    const value = get(name);
    return (Array.isArray(value) ? value[0] : value) ?? undefined;
  };
  return { "webhook-id": one("webhook-id"), "webhook-timestamp": one("webhook-timestamp"), "webhook-signature": one("webhook-signature") };
}

/** What the door's name is prefixed with before it is MACed: no other HMAC of the secret starts so. */
export const DOOR_LABEL = "lasthop door:";

/**
 * The signing key of one door: `whsec_` + base64(HMAC-SHA256(key bytes of `secret`,
 * "lasthop door:" + door)). It is an ordinary Standard Webhooks secret, so any sender
 * (the `standardwebhooks` package included) can sign for that door with it, and only there.
 */
export async function doorSecret(secret: string, door: string): Promise<string> {
  const key = await importSecret(secret, "sign");
  return `whsec_${toBase64(await crypto.subtle.sign("HMAC", key, utf8(DOOR_LABEL + door)))}`;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

function importSecret(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  const raw = fromBase64(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret);
  return crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [usage]);
}

export async function sign(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await importSecret(secret, "sign");
  const mac = await crypto.subtle.sign("HMAC", key, utf8(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(mac)}`;
}

/** Headers for an outgoing signed request. */
export async function signedHeaders(secret: string, body: string, now = Date.now()): Promise<WebhookHeaders> {
  const id = `msg_${crypto.randomUUID()}`;
  const timestamp = Math.floor(now / 1000);
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": await sign(secret, id, timestamp, body) };
}

/**
 * Verifies a request's signature. Each candidate is checked with `crypto.subtle.verify`,
 * which compares in constant time, so no timing leaks which byte differs.
 */
export async function verify(secret: string, headers: Partial<WebhookHeaders>, body: string, now = Date.now()): Promise<VerifyResult> {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures) return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp is not a Unix timestamp" };
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
    return { ok: false, reason: "webhook-timestamp is outside the 5-minute tolerance" };
  }
  const key = await importSecret(secret, "verify");
  const signed = utf8(`${id}.${timestamp}.${body}`);
  for (const entry of signatures.split(" ")) {
    const [version, value] = entry.split(",", 2);
    if (version !== "v1" || !value) continue;
    let mac: Uint8Array<ArrayBuffer>;
    try {
      mac = fromBase64(value);
    } catch {
      continue;
    }
    if (await crypto.subtle.verify("HMAC", key, mac, signed)) return { ok: true };
  }
  return { ok: false, reason: "no signature matches" };
}

/**
 * What can be judged before the body is read: the three headers present, the timestamp a
 * Unix time within the tolerance, a `v1,<base64>` signature among them. A route with a large
 * body runs this first, so an unsigned or stale request costs no read; verify() still decides.
 */
export function checkSignatureHeaders(headers: Partial<WebhookHeaders>, now = Date.now()): VerifyResult {
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!headers["webhook-id"] || !timestamp || !signatures)
    return { ok: false, reason: "missing webhook-id, webhook-timestamp or webhook-signature" };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "webhook-timestamp is not a Unix timestamp" };
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS)
    return { ok: false, reason: "webhook-timestamp is outside the 5-minute tolerance" };
  if (!signatures.split(" ").some((entry) => /^v1,[A-Za-z0-9+/]+={0,2}$/.test(entry)))
    return { ok: false, reason: "webhook-signature holds no v1 signature" };
  return { ok: true };
}
