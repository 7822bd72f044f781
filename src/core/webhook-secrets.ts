/**
 * An endpoint's signing secrets and their rotation. A rotated-out secret keeps signing for a
 * day beside the new one (the webhook-signature header carries one signature per secret), so
 * a receiver can deploy the new secret at its own pace and never sees an unverifiable delivery.
 */
import { toBase64 } from "./bytes.ts";

export const SECRET_BYTES = 32; // whsec_ + base64 of 32 random bytes (crypto.getRandomValues)
export const ROTATION_OVERLAP_MS = 24 * 3600_000;
export const MAX_OLD_SECRETS = 5;

export type EndpointSecret = { secret: string; createdAt: string; expiresAt: string | null }; // expiresAt null = current

export function newEndpointSecret(): string {
  return `whsec_${toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

/** An old secret past (or without a readable) expiry signs nothing: an unknown date is not trusted to be later. */
function live(entry: EndpointSecret, now: number): boolean {
  return entry.expiresAt === null || Date.parse(entry.expiresAt) > now;
}

/**
 * Rotation at `now`: the current secret gets expiresAt now+24h, the new one becomes current (first), expired old
 * ones are dropped, at most MAX_OLD_SECRETS old ones are kept (the newest: rotating in a loop cannot grow the list
 * or the signature header without bound).
 */
export function rotateSecrets(secrets: readonly EndpointSecret[], fresh: string, now: number): EndpointSecret[] {
  const expiresAt = new Date(now + ROTATION_OVERLAP_MS).toISOString();
  const old = secrets
    .filter((entry) => entry.secret !== fresh && live(entry, now))
    .map((entry) => (entry.expiresAt === null ? { ...entry, expiresAt } : entry))
    .sort((a, b) => Date.parse(b.expiresAt!) - Date.parse(a.expiresAt!) || Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, MAX_OLD_SECRETS);
  return [{ secret: fresh, createdAt: new Date(now).toISOString(), expiresAt: null }, ...old];
}

/** The secrets a delivery at `now` is signed with: current first, then old ones not yet expired. */
export function signingSecrets(secrets: readonly EndpointSecret[], now: number): string[] {
  const current = secrets.filter((entry) => entry.expiresAt === null);
  const old = secrets.filter((entry) => entry.expiresAt !== null && live(entry, now));
  return [...current, ...old].map((entry) => entry.secret);
}
