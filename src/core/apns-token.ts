/**
 * An account's APNs provider token, minted at the edge ("Establishing a token-based connection
 * to APNs"): an ES256 JWT, header {alg: ES256, kid: key id}, claims {iss: team id, iat}, signed
 * with the account's .p8 key. Pure: TokenDO holds the one current token per account and key,
 * and each isolate keeps a copy for a short while.
 *
 * Apple's timing, and ours:
 * - a token older than an hour is refused (ExpiredProviderToken), so we mint a new one once the
 *   current is APNS_TOKEN_REFRESH_MS (45 minutes) old;
 * - changing tokens more often than every 20 minutes is refused (TooManyProviderTokenUpdates),
 *   so one token is shared by every isolate and every send, and a token APNs calls expired is
 *   replaced at most once per 20 minutes.
 */
import { decodeJwt, decodeProtectedHeader, importPKCS8, SignJWT } from "jose";

/** Age at which the current token is replaced: between Apple's 20-minute floor and one-hour limit. */
export const APNS_TOKEN_REFRESH_MS = 45 * 60_000;
/** Apple refuses a token change sooner than this after the last. */
export const APNS_TOKEN_MIN_CHANGE_MS = 20 * 60_000;
/** Apple refuses a token older than this. */
export const APNS_TOKEN_LIFETIME_MS = 60 * 60_000;
/** How long an isolate answers from its copy before asking TokenDO again (a forced refresh reaches every isolate within this). */
export const APNS_TOKEN_ISOLATE_MS = 60_000;

/** What signs: the account's `apns` section, or part of it. */
export type ApnsSigningKey = { key: string; keyId: string; teamId: string };

/** The token TokenDO holds and hands out; `issuedAt` in ms since the epoch (`iat` is its seconds). */
export type ApnsProviderToken = { token: string; keyId: string; teamId: string; issuedAt: number };

/** TokenDO's state: the current token and when a rejected one last forced a new one. */
export type ApnsTokenState = { current?: ApnsProviderToken; forcedAt?: number };

/** Signs one provider token at `nowMs`: {alg: ES256, kid} and {iss, iat}, nothing else (Apple reads no other claim). */
export async function signProviderToken(signer: ApnsSigningKey, nowMs: number): Promise<ApnsProviderToken> {
  const key = await importPKCS8(signer.key, "ES256");
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: signer.keyId })
    .setIssuer(signer.teamId)
    .setIssuedAt(Math.floor(nowMs / 1000))
    .sign(key);
  return { token, keyId: signer.keyId, teamId: signer.teamId, issuedAt: nowMs };
}

/** Whether `key` is a PKCS#8 P-256 key jose can sign ES256 with (what Apple's .p8 files are). */
export async function keyCanSign(key: string): Promise<boolean> {
  try {
    await importPKCS8(key, "ES256");
    return true;
  } catch {
    return false;
  }
}

export type MintReason = "initial" | "age" | "expired";

/**
 * Whether TokenDO must mint now, and why; null: hand out the current token. `rejected` is a
 * token APNs answered ExpiredProviderToken to: it is replaced only while it is still current
 * (every caller who saw it shares one new token) and at most once per 20 minutes, so a peer
 * that calls every token expired cannot drive the key into TooManyProviderTokenUpdates.
 */
export function mintReason(state: ApnsTokenState, nowMs: number, rejected?: string): MintReason | null {
  const { current } = state;
  if (!current) return "initial";
  if (nowMs - current.issuedAt >= APNS_TOKEN_REFRESH_MS) return "age";
  if (
    rejected !== undefined &&
    rejected === current.token &&
    nowMs - (state.forcedAt ?? Number.NEGATIVE_INFINITY) >= APNS_TOKEN_MIN_CHANGE_MS
  ) {
    return "expired";
  }
  return null;
}

/** Whether an isolate may send with its copy, fetched from TokenDO at `fetchedAt`, without asking again. */
export function isolateMayUse(token: ApnsProviderToken | undefined, fetchedAt: number, nowMs: number): token is ApnsProviderToken {
  return token !== undefined && nowMs - token.issuedAt < APNS_TOKEN_REFRESH_MS && nowMs - fetchedAt < APNS_TOKEN_ISOLATE_MS;
}

/** TokenDO's name: the account first (no account can reach another's token), the team, the key id, and the key's fingerprint (a replaced .p8 mints anew). */
export async function providerTokenName(account: string, signer: ApnsSigningKey): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(signer.key.trim())));
  const fingerprint = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${account}:apns:${signer.teamId}:${signer.keyId}:${fingerprint}`;
}

/**
 * The key id and team id a provider token names (its `kid` and `iss`), read without verifying
 * it: the bridge checks a batch's token names the credential it travels under, so a session
 * pool keyed by team and key never carries another team's token. Null when it is not an ES256 JWT.
 */
export function providerTokenIds(token: string): { keyId: string; teamId: string } | null {
  try {
    const header = decodeProtectedHeader(token);
    const claims = decodeJwt(token);
    if (header.alg !== "ES256" || typeof header.kid !== "string" || typeof claims.iss !== "string") return null;
    return { keyId: header.kid, teamId: claims.iss };
  } catch {
    return null;
  }
}
