/**
 * The APNs provider token ("Establishing a token-based connection to APNs"): an ES256 JWT,
 * header {alg: ES256, kid: key id}, claims {iss: team id, iat}, signed with the .p8 key.
 *
 * Apple's rules, which this class enforces:
 * - reuse one token for every request (a new token per request is refused with
 *   TooManyProviderTokenUpdates);
 * - refresh no more than once every 20 minutes and no less than once every 60 (a token older
 *   than an hour is ExpiredProviderToken). We refresh once the token is `refreshAfterMs` old
 *   (20–50 minutes; default 50), checked on every `get()`, so a token is never used past that
 *   age and never reaches 60 minutes.
 *
 * `invalidate(token)` answers ExpiredProviderToken: it forces one new token even inside the
 * 20-minute floor (a token APNs calls expired is useless), and every caller who saw the same
 * expired token shares that single refresh. To keep a peer that calls every token expired
 * (clock skew) from driving us into TooManyProviderTokenUpdates, at most one such forced
 * refresh happens per 20 minutes; later invalidations inside that window are ignored and the
 * affected sends come back as `retry` for the edge's queue.
 */
import { importPKCS8, SignJWT } from "jose";

export const MIN_REFRESH_MS = 20 * 60_000;
export const MAX_REFRESH_MS = 50 * 60_000;
/** Apple rejects tokens older than this. */
export const TOKEN_LIFETIME_MS = 60 * 60_000;

export type ProviderTokenOptions = {
  /** PKCS#8 PEM text of the .p8 key. */
  key: string;
  keyId: string;
  teamId: string;
  /** Age at which a token is replaced; 20–50 minutes. */
  refreshAfterMs?: number;
  /** Injected clock (ms since the epoch) for tests. */
  now?: () => number;
  /** Called after each new token is signed (metrics, logs). */
  onRefresh?: (why: "initial" | "age" | "expired") => void;
};

type Issued = { token: string; issuedAt: number };

export class ProviderTokens {
  readonly #keyPem: string;
  readonly #keyId: string;
  readonly #teamId: string;
  readonly #refreshAfterMs: number;
  readonly #now: () => number;
  readonly #onRefresh: ProviderTokenOptions["onRefresh"];
  #key: Promise<CryptoKey> | undefined;
  #current: Issued | undefined;
  /** The token APNs called expired, if it is still the current one. */
  #invalidated: string | undefined;
  #lastForcedAt = Number.NEGATIVE_INFINITY;
  /** The one refresh in progress: concurrent `get()` calls wait on it instead of signing again. */
  #pending: Promise<string> | undefined;

  constructor(options: ProviderTokenOptions) {
    const refreshAfterMs = options.refreshAfterMs ?? MAX_REFRESH_MS;
    if (!(refreshAfterMs >= MIN_REFRESH_MS && refreshAfterMs <= MAX_REFRESH_MS)) {
      throw new RangeError("the provider token refresh age must be between 20 and 50 minutes");
    }
    this.#keyPem = options.key;
    this.#keyId = options.keyId;
    this.#teamId = options.teamId;
    this.#refreshAfterMs = refreshAfterMs;
    this.#now = options.now ?? Date.now;
    this.#onRefresh = options.onRefresh;
  }

  /** The token to send now: the current one, or a new one when it is due. */
  get(): Promise<string> {
    if (this.#pending) return this.#pending;
    const current = this.#current;
    const now = this.#now();
    let why: "initial" | "age" | "expired" | undefined;
    if (!current) why = "initial";
    else if (this.#invalidated === current.token) why = "expired";
    else if (now - current.issuedAt >= this.#refreshAfterMs) why = "age";
    if (!why) return Promise.resolve(current!.token);
    const reason = why;
    this.#pending = this.#sign(now).then(
      (token) => {
        this.#current = { token, issuedAt: now };
        this.#pending = undefined;
        if (reason === "expired") this.#lastForcedAt = now;
        this.#onRefresh?.(reason);
        return token;
      },
      (error: unknown) => {
        this.#pending = undefined;
        throw error;
      },
    );
    return this.#pending;
  }

  /**
   * APNs answered ExpiredProviderToken for `token`. Returns true when the next `get()` will
   * sign a new token (or one is already on its way), false when the refresh was refused by
   * the once-per-20-minutes limit on forced refreshes.
   */
  invalidate(token: string): boolean {
    if (this.#pending) return true; // a new token is already being signed
    if (this.#current?.token !== token) return true; // already replaced: share that refresh
    if (this.#invalidated === token) return true;
    if (this.#now() - this.#lastForcedAt < MIN_REFRESH_MS) return false;
    this.#invalidated = token;
    return true;
  }

  async #sign(now: number): Promise<string> {
    this.#key ??= importPKCS8(this.#keyPem, "ES256");
    return new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: this.#keyId })
      .setIssuer(this.#teamId)
      .setIssuedAt(Math.floor(now / 1000))
      .sign(await this.#key);
  }
}
