/**
 * API keys: `lh_` and 32 random bytes (base64url). Stored as their SHA-256 only; shown once.
 * Scopes say what a key may do; a route names the one it needs.
 */
import { z } from "zod";
import { sha256Hex, toBase64Url } from "../bytes.ts";

export const SCOPES = [
  /** POST /v1/messages */
  "send",
  /** every GET: messages, suppressions, stats, SMS inbox, configuration (masked), audit */
  "read",
  /** PUT/DELETE /v1/suppressions */
  "suppressions:write",
  /** every configuration write: domains, push credentials, providers, SMS and email settings */
  "config:write",
  /** POST/DELETE /v1/api-keys (a key that can mint keys can mint any scope) */
  "keys:write",
] as const;
export type Scope = (typeof SCOPES)[number];
export const scope = z.enum(SCOPES);

/** The default per-key rate: requests per second, counted in one-second windows (core/config/rate.ts). */
export const DEFAULT_RATE_PER_SECOND = 100;

export const createKeyRequest = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z
    .array(scope)
    .min(1)
    .refine((s) => new Set(s).size === s.length, "scopes must not repeat"),
  /** Requests per second for this key; default DEFAULT_RATE_PER_SECOND. */
  ratePerSecond: z.number().int().min(1).max(100_000).optional(),
});
export type CreateKeyRequest = z.infer<typeof createKeyRequest>;

export function newApiKey(): string {
  return `lh_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export function keyHash(key: string): Promise<string> {
  return sha256Hex(key);
}

/** What a list shows of a key: its prefix, enough to recognise, never enough to use. */
export function keyPrefix(key: string): string {
  return key.startsWith("lh_") ? `${key.slice(0, 7)}…` : "…";
}

/** The key ids are short and not secret: `key_` and 16 hex digits. */
export function newKeyId(): string {
  return `key_${Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** What every authenticated request knows about its key. */
export type KeyGrant = { account: string; keyId: string; scopes: readonly Scope[]; ratePerSecond: number };
