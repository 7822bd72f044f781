/**
 * Google service-account OAuth 2.0 (RFC 7523 JWT bearer grant): the assertion a service
 * account signs to get an access token. Pure: the exchange itself happens in TokenDO.
 */
import { SignJWT, importPKCS8 } from "jose";
import { z } from "zod";

export const serviceAccount = z.looseObject({
  type: z.literal("service_account"),
  project_id: z.string().min(1),
  private_key: z.string().includes("PRIVATE KEY"),
  client_email: z.string().min(1),
  token_uri: z.url(),
});
export type ServiceAccount = z.infer<typeof serviceAccount>;

/** Parses the FCM_SERVICE_ACCOUNT secret; null when it is absent or not a service account. */
export function parseServiceAccount(json: string | undefined): ServiceAccount | null {
  if (!json) return null;
  try {
    const parsed = serviceAccount.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The signed assertion: RS256, iss = client_email, aud = token_uri, one hour, the given scope. */
export async function signAssertion(sa: ServiceAccount, scope: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const key = await importPKCS8(sa.private_key, "RS256");
  return new SignJWT({ scope })
    .setProtectedHeader({ alg: "RS256", typ: "JWT", ...(typeof sa.private_key_id === "string" ? { kid: sa.private_key_id } : {}) })
    .setIssuer(sa.client_email)
    .setAudience(sa.token_uri)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + 3600)
    .sign(key);
}

export function tokenRequestBody(assertion: string): URLSearchParams {
  return new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer", assertion });
}

export const tokenResponse = z.looseObject({ access_token: z.string().min(1), expires_in: z.number().int().positive() });

export type AccessToken = { token: string; expiresAt: number };

/** Tokens are handed out only while they have at least this long to live. */
export const TOKEN_MARGIN_MS = 5 * 60_000;

/**
 * Whether a token may still be handed out: it lives at least TOKEN_MARGIN_MS more, and it is
 * not the one the provider just answered 401 to. TokenDO and each isolate's cache ask the same.
 */
export function tokenUsable(token: AccessToken | undefined, rejected?: string, now = Date.now()): token is AccessToken {
  return token !== undefined && token.expiresAt - TOKEN_MARGIN_MS > now && token.token !== rejected;
}
