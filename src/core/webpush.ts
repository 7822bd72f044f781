/**
 * Web push limits, the push-service allowlist and the VAPID settings (pure; the sender
 * lives in src/channels).
 */

/** RFC 8291 §4: a 4096-byte record carries 86 bytes of header, a 16-byte tag and a 1-byte delimiter. */
export const WEBPUSH_MAX_RECORD = 4096;
export const WEBPUSH_MAX_PLAINTEXT = WEBPUSH_MAX_RECORD - 86 - 16 - 1;

/** Four weeks: what the push services keep at most, and our default TTL. */
export const WEBPUSH_DEFAULT_TTL = 2_419_200;

export type VapidConfig = { subject: string; publicKey: string; privateKey: string };

/** The VAPID key pair and subject (RFC 8292), or null when any of the three is missing. */
export function vapidFrom(settings: { VAPID_SUBJECT?: string; VAPID_PUBLIC_KEY?: string; VAPID_PRIVATE_KEY?: string }): VapidConfig | null {
  const { VAPID_SUBJECT: subject, VAPID_PUBLIC_KEY: publicKey, VAPID_PRIVATE_KEY: privateKey } = settings;
  return subject && publicKey && privateKey ? { subject, publicKey, privateKey } : null;
}

/** `WEBPUSH_ALLOWED_HOSTS`: comma-separated `host`, `*.domain`, either with an optional `:port`. */
export function parseAllowlist(list: string | undefined): string[] {
  return (list ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
}

/** The https default: an entry without a port allows only this one. */
const HTTPS_PORT = "443";

/**
 * Whether an endpoint may be fetched: its host must be on the allowlist, exactly or
 * under a `*.` pattern, and its port 443 unless the entry names another (`host:8793`),
 * so a crafted subscription cannot make us call anything else, nor another service on an
 * allowed host.
 */
export function endpointAllowed(endpoint: string, allowlist: readonly string[]): boolean {
  let host: string;
  let port: string;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== "https:" || url.username || url.password) return false;
    host = url.hostname.toLowerCase();
    port = url.port || HTTPS_PORT; // URL drops an explicit :443
  } catch {
    return false;
  }
  return allowlist.some((entry) => {
    // The last `:digits` is a port; `[::1]` keeps its colons inside the brackets.
    const split = /^(.+):(\d{1,5})$/.exec(entry);
    const pattern = split ? split[1]! : entry;
    if ((split ? String(Number(split[2])) : HTTPS_PORT) !== port) return false;
    return pattern.startsWith("*.") ? host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1 : host === pattern;
  });
}

export function payloadText(payload: string | Record<string, unknown>): string {
  return typeof payload === "string" ? payload : JSON.stringify(payload);
}
