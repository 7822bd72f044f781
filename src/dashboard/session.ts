/**
 * The dashboard's session: the signed-in API key, sealed (AES-GCM under the CONFIG_KEYS ring,
 * its own context so no other sealed value opens as a session) with its expiry and a random
 * nonce inside. The cookie is the whole session: nothing is stored server-side, so sign-out is
 * the browser forgetting it, and revoking the key ends every session made with it (each page
 * calls the API with the key).
 */
import { toBase64Url, utf8 } from "../core/bytes.ts";
import { keyRing, open, seal, type KeyRing } from "../core/config/secrets.ts";
import { timingSafeEqual } from "../core/constant-time.ts";

export const SESSION_COOKIE = "lh_dash";
export const SESSION_TTL_MS = 12 * 3_600_000;
const CONTEXT = "dashboard-session";

export type Session = { key: string; exp: number; nonce: string };

/** One ring per CONFIG_KEYS text per isolate: importing keys on every request is wasted work. */
let cached: { text: string; ring: Promise<KeyRing> } | null = null;
function ring(env: Env): Promise<KeyRing> {
  const text = env.CONFIG_KEYS ?? "";
  if (cached?.text !== text) cached = { text, ring: keyRing(text) };
  return cached.ring;
}

export async function sealSession(env: Env, key: string, now = Date.now()): Promise<{ value: string; session: Session }> {
  const session: Session = { key, exp: now + SESSION_TTL_MS, nonce: toBase64Url(crypto.getRandomValues(new Uint8Array(16))) };
  return { value: await seal(await ring(env), CONTEXT, JSON.stringify(session)), session };
}

/** The session in a cookie value, or null when it is absent, tampered with, sealed by a retired key or expired. */
export async function openSession(env: Env, value: string | undefined, now = Date.now()): Promise<Session | null> {
  if (!value) return null;
  try {
    const session = JSON.parse(await open(await ring(env), CONTEXT, value)) as Session;
    if (typeof session.key !== "string" || typeof session.nonce !== "string" || !(session.exp > now)) return null;
    return session;
  } catch {
    return null;
  }
}

/** The CSRF token of a session: HMAC of a fixed label under the session's own nonce (so it dies with the session). */
export async function csrfToken(session: Session): Promise<string> {
  const key = await crypto.subtle.importKey("raw", utf8(session.nonce), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toBase64Url(await crypto.subtle.sign("HMAC", key, utf8("dashboard-csrf")));
}

export async function csrfValid(session: Session, presented: unknown): Promise<boolean> {
  if (typeof presented !== "string" || presented.length === 0) return false;
  return timingSafeEqual(utf8(await csrfToken(session)), utf8(presented));
}

/**
 * `Secure` everywhere except plain http on a loopback host (wrangler dev, the test stack):
 * decided by the request's own URL, so a deployment cannot forget a flag. A non-loopback http
 * request still gets a Secure cookie, which the browser then refuses: failing closed.
 */
export function secureCookie(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  const loopback = hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
  return !(protocol === "http:" && loopback);
}
