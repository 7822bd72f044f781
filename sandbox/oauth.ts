// Google's OAuth 2.0 token endpoint for service accounts (the JWT bearer grant, RFC 7523, as in
// "Using OAuth 2.0 for Server to Server Applications"): the sender signs an RS256 assertion with
// the service account's private key and trades it for a short-lived access token. Errors use
// Google's shape, {"error": ..., "error_description": ...}, with its wording where known.
import { createPublicKey, randomBytes, type KeyObject } from "node:crypto";
import { CappedMap } from "./capped.ts";
import { numericDate, parseCompactJws, verifyRs256 } from "./jws.ts";

export type ServiceAccount = {
  /** The service account's email, `<name>@<project>.iam.gserviceaccount.com`; the assertion's `iss`. */
  clientEmail: string;
  projectId: string;
  /** SPKI PEM of the account's RSA key (a PKCS#8 private key PEM is accepted too). */
  publicKeyPem: string;
};

export type AccessToken = { clientEmail: string; projectId: string; scopes: ReadonlySet<string>; expiresAtMs: number };

export type TokenLookup = { ok: true; token: AccessToken } | { ok: false; reason: "missing" | "unknown" | "expired" };

export type GrantResult =
  | { ok: true; body: { access_token: string; expires_in: number; token_type: "Bearer" } }
  | { ok: false; body: { error: string; error_description: string } };

export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
// Google issues tokens for an hour and reports one second less.
export const DEFAULT_TOKEN_TTL_SECONDS = 3599;
// "The assertion ... maximum of 1 hour after the issued time."
const MAX_ASSERTION_LIFETIME_SECONDS = 3600;
// Google does not document its tolerance for clocks running ahead; five minutes is the usual leeway.
const MAX_CLOCK_SKEW_SECONDS = 300;
const TIMEFRAME_ERROR =
  "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";

export class OAuthService {
  readonly #accounts = new Map<string, { projectId: string; publicKey: KeyObject }>();
  readonly #tokens = new CappedMap<string, AccessToken>();
  #tokenUri: string | null = null;
  #ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS;
  #issued = 0;

  /** The endpoint's own URL: assertions must name it as their `aud` (the key file's token_uri). */
  setTokenUri(uri: string): void {
    this.#tokenUri = uri;
  }

  get tokenTtlSeconds(): number {
    return this.#ttlSeconds;
  }

  set tokenTtlSeconds(seconds: number) {
    this.#ttlSeconds = seconds;
  }

  get tokensIssued(): number {
    return this.#issued;
  }

  /** Registers (or replaces) a service account; throws when the PEM is not an RSA key. */
  registerServiceAccount(account: ServiceAccount): void {
    if (typeof account.clientEmail !== "string" || !account.clientEmail.includes("@"))
      throw new Error("clientEmail must be an email address");
    if (typeof account.projectId !== "string" || account.projectId === "") throw new Error("projectId must be a non-empty string");
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey(account.publicKeyPem);
    } catch {
      throw new Error("publicKeyPem is not a PEM key");
    }
    if (publicKey.asymmetricKeyType !== "rsa") throw new Error("publicKeyPem must be an RSA key: service accounts sign with RS256");
    this.#accounts.set(account.clientEmail, { projectId: account.projectId, publicKey });
  }

  /** `POST /oauth/token` with the form fields of the request. */
  grant(form: URLSearchParams, nowMs: number = Date.now()): GrantResult {
    const grantType = form.get("grant_type") ?? "";
    if (grantType !== JWT_BEARER_GRANT) return failure("unsupported_grant_type", `Invalid grant_type: ${grantType}`);
    const assertion = form.get("assertion");
    if (assertion === null || assertion === "") return failure("invalid_request", "Missing required parameter: assertion");

    const jws = parseCompactJws(assertion);
    if (typeof jws === "string") return failure("invalid_grant", `Invalid JWT: ${jws}`);
    if (jws.header.alg !== "RS256") return failure("invalid_grant", "Invalid JWT Signature.");
    const account = typeof jws.claims.iss === "string" ? this.#accounts.get(jws.claims.iss) : undefined;
    if (account === undefined) return failure("invalid_grant", "Invalid grant: account not found");
    if (!verifyRs256(jws, account.publicKey)) return failure("invalid_grant", "Invalid JWT Signature.");
    if (this.#tokenUri === null || jws.claims.aud !== this.#tokenUri) {
      return failure("invalid_grant", `Invalid JWT: Failed audience check. The right audience is ${this.#tokenUri}`);
    }

    const iat = numericDate(jws.claims.iat);
    const exp = numericDate(jws.claims.exp);
    const now = nowMs / 1000;
    if (iat === null || exp === null || exp <= iat || exp - iat > MAX_ASSERTION_LIFETIME_SECONDS)
      return failure("invalid_grant", TIMEFRAME_ERROR);
    if (exp <= now || iat > now + MAX_CLOCK_SKEW_SECONDS) return failure("invalid_grant", TIMEFRAME_ERROR);

    // The token endpoint only wants some scope: whether it is the right one for an API is the
    // API's call (FCM answers 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT), as with Google.
    const scopes = typeof jws.claims.scope === "string" ? jws.claims.scope.split(" ").filter((scope) => scope !== "") : [];
    if (scopes.length === 0) return failure("invalid_scope", "Invalid OAuth scope or ID token audience provided.");

    // "ya29." is how Google's access tokens start; senders sometimes log-redact on it.
    const accessToken = `ya29.sandbox-${randomBytes(48).toString("base64url")}`;
    this.#tokens.set(accessToken, {
      clientEmail: jws.claims.iss as string,
      projectId: account.projectId,
      scopes: new Set(scopes),
      expiresAtMs: nowMs + this.#ttlSeconds * 1000,
    });
    this.#issued += 1;
    return { ok: true, body: { access_token: accessToken, expires_in: this.#ttlSeconds, token_type: "Bearer" } };
  }

  /** Resolves an `Authorization` header value to the token it carries. */
  lookup(authorization: string | undefined, nowMs: number = Date.now()): TokenLookup {
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (match === null) return { ok: false, reason: "missing" };
    const token = this.#tokens.get(match[1]!);
    if (token === undefined) return { ok: false, reason: "unknown" };
    if (token.expiresAtMs <= nowMs) return { ok: false, reason: "expired" };
    return { ok: true, token };
  }

  /** Invalidates every access token issued so far (the `POST /_sandbox/fcm/revoke` fault). */
  revokeAll(): void {
    this.#tokens.clear();
  }
}

function failure(error: string, description: string): GrantResult {
  return { ok: false, body: { error, error_description: description } };
}
