// APNs token-based authentication ("Establishing a token-based connection to APNs"): the
// provider token is an ES256 JWT whose header names the signing key (kid) and whose claims
// carry the team id (iss) and the issue time (iat). APNs rejects a token older than an hour,
// and answers 429 TooManyProviderTokenUpdates when the provider swaps tokens more often than
// once every 20 minutes; both are modelled here, per team and key.
import { createPublicKey, type KeyObject } from "node:crypto";
import { CappedMap, CappedSet } from "./capped.ts";
import { numericDate, parseCompactJws, verifyEs256 } from "./jws.ts";

export type ApnsKey = {
  /** The 10-character key id Apple shows beside the .p8 download; the JWT's `kid`. */
  keyId: string;
  /** The 10-character team id; the JWT's `iss`. */
  teamId: string;
  /** SPKI PEM of the P-256 key (a PKCS#8 .p8 is accepted too: its public half is used). */
  publicKeyPem: string;
};

export type ProviderTokenVerdict =
  | { ok: true; keyId: string; teamId: string }
  | {
      ok: false;
      status: 403 | 429;
      reason: "MissingProviderToken" | "InvalidProviderToken" | "ExpiredProviderToken" | "TooManyProviderTokenUpdates";
    };

export type ProviderTokenStats = { providerTokensSeen: number; tokenChanges: number };

type KeyState = {
  keyId: string;
  teamId: string;
  publicKey: KeyObject;
};

/** One key's token on one connection, as far as APNs is concerned. */
type TokenState = {
  current: string | null;
  changedAt: number;
  /** Set once APNs has told the provider its token expired: the next change is then expected. */
  changeAllowed: boolean;
  /** The expire-tokens round this state has caught up with. */
  expiryRound: number;
};

// "APNs rejects any request whose token contains a timestamp that is more than one hour old."
const MAX_TOKEN_AGE_MS = 3600 * 1000;
// "Refresh your token no more than once every 20 minutes."
const MIN_CHANGE_INTERVAL_MS = 20 * 60 * 1000;
// Apple does not document a tolerance for clocks running ahead; five minutes is the usual JWT leeway.
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export class ProviderTokens {
  readonly #keys = new Map<string, KeyState>();
  /** Tokens whose signature and claims already checked out: ECDSA once per token, not per push. */
  readonly #verified = new CappedMap<string, { keyId: string; iatMs: number }>();
  /** Tokens the expire-tokens fault retired. */
  readonly #expired = new CappedSet<string>();
  /** Every token that ever verified, so a re-verification is not counted twice. */
  readonly #seenTokens = new CappedSet<string>();
  #seen = 0;
  #changes = 0;
  /** Per connection, per key: the token it signs with there. Gone with the connection. */
  readonly #onConnection = new WeakMap<object, Map<string, TokenState>>();
  /** How many times expire-tokens ran: a connection's states catch up when next used. */
  #expiryRound = 0;

  /** Registers (or replaces) a signing key; throws when the PEM is not a P-256 key. */
  register(key: ApnsKey): void {
    if (typeof key.keyId !== "string" || key.keyId === "") throw new Error("keyId must be a non-empty string");
    if (typeof key.teamId !== "string" || key.teamId === "") throw new Error("teamId must be a non-empty string");
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(key.publicKeyPem);
    } catch {
      throw new Error("publicKeyPem is not a PEM key");
    }
    if (publicKey.asymmetricKeyType !== "ec" || publicKey.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
      throw new Error("publicKeyPem must be a P-256 (prime256v1) key: APNs signs with ES256");
    }
    this.#keys.set(key.keyId, { keyId: key.keyId, teamId: key.teamId, publicKey });
    // Tokens verified against a replaced key must be checked again.
    for (const [token, verified] of this.#verified) if (verified.keyId === key.keyId) this.#verified.delete(token);
  }

  /** Checks the `authorization` request header of one push arriving on `connection`. */
  check(authorization: string | undefined, connection: object, nowMs: number = Date.now()): ProviderTokenVerdict {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (match === null) return { ok: false, status: 403, reason: "MissingProviderToken" };
    const token = match[1]!;

    const verified = this.#verified.get(token) ?? this.#verify(token);
    if (verified === null) return { ok: false, status: 403, reason: "InvalidProviderToken" };
    const key = this.#keys.get(verified.keyId);
    if (key === undefined) return { ok: false, status: 403, reason: "InvalidProviderToken" };
    const state = this.#state(connection, key.keyId);

    if (this.#expired.has(token) || nowMs - verified.iatMs > MAX_TOKEN_AGE_MS) {
      // The provider now has to refresh, so its next token is not an over-eager update.
      if (token === state.current) state.changeAllowed = true;
      return { ok: false, status: 403, reason: "ExpiredProviderToken" };
    }
    if (verified.iatMs - nowMs > MAX_CLOCK_SKEW_MS) return { ok: false, status: 403, reason: "InvalidProviderToken" };

    if (state.current !== token) {
      // A key's first token on a connection is not an update; later ones must wait 20 minutes
      // unless APNs itself declared the current one expired.
      if (state.current !== null) {
        if (!state.changeAllowed && nowMs - state.changedAt < MIN_CHANGE_INTERVAL_MS) {
          return { ok: false, status: 429, reason: "TooManyProviderTokenUpdates" };
        }
        this.#changes += 1;
      }
      state.current = token;
      state.changedAt = nowMs;
      state.changeAllowed = false;
    }
    return { ok: true, keyId: key.keyId, teamId: key.teamId };
  }

  /** The fault behind `POST /_sandbox/apns/expire-tokens`: every token seen so far is now stale. */
  expireAll(): void {
    for (const token of this.#verified.keys()) this.#expired.add(token);
    // Every connection's current token is among them; each may change once, when next used.
    this.#expiryRound += 1;
  }

  stats(): ProviderTokenStats {
    return { providerTokensSeen: this.#seen, tokenChanges: this.#changes };
  }

  #state(connection: object, keyId: string): TokenState {
    const keys = this.#onConnection.get(connection) ?? new Map<string, TokenState>();
    this.#onConnection.set(connection, keys);
    const state = keys.get(keyId) ?? { current: null, changedAt: 0, changeAllowed: false, expiryRound: this.#expiryRound };
    keys.set(keyId, state);
    if (state.expiryRound !== this.#expiryRound) {
      if (state.current !== null) state.changeAllowed = true;
      state.expiryRound = this.#expiryRound;
    }
    return state;
  }

  #verify(token: string): { keyId: string; iatMs: number } | null {
    const jws = parseCompactJws(token);
    if (typeof jws === "string") return null;
    if (jws.header.alg !== "ES256" || typeof jws.header.kid !== "string") return null;
    const key = this.#keys.get(jws.header.kid);
    if (key === undefined || !verifyEs256(jws, key.publicKey)) return null;
    if (jws.claims.iss !== key.teamId) return null;
    const iat = numericDate(jws.claims.iat);
    if (iat === null) return null;
    const verified = { keyId: key.keyId, iatMs: iat * 1000 };
    this.#verified.set(token, verified);
    if (!this.#seenTokens.has(token)) {
      this.#seenTokens.add(token);
      this.#seen += 1;
    }
    return verified;
  }
}
