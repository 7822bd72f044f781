import { DurableObject } from "cloudflare:workers";
import {
  parseServiceAccount,
  signAssertion,
  tokenRequestBody,
  tokenResponse,
  tokenUsable,
  type AccessToken,
} from "../core/google-oauth.ts";
import {
  keyCanSign,
  mintReason,
  signProviderToken,
  type ApnsProviderToken,
  type ApnsSigningKey,
  type ApnsTokenState,
} from "../core/apns-token.ts";
import { checkEndpointUrl, parseDevHosts } from "../core/webhook-url.ts";

/**
 * One OAuth access token per service account, shared by every isolate: the Durable
 * Object is the one place that mints, so a burst of sends from many isolates costs one
 * exchange at the token URI instead of one each. The same holds for an account's APNs
 * provider token (`apnsToken`, an instance named `account:apns:team:key:fingerprint`): Apple
 * refuses a key whose token changes more than once per 20 minutes, so there is one per key.
 */
export class TokenDO extends DurableObject<Env> {
  private current?: AccessToken;
  private minting?: Promise<AccessToken>;

  /**
   * A token valid for at least TOKEN_MARGIN_MS. `rejected` is a token the provider just
   * answered 401 to: it is replaced once, however many callers report it.
   */
  async accessToken(serviceAccountJson: string, scope: string, rejected?: string): Promise<AccessToken> {
    this.current ??= await this.ctx.storage.get<AccessToken>("token");
    if (tokenUsable(this.current, rejected)) return this.current;
    this.minting ??= this.mint(serviceAccountJson, scope).finally(() => (this.minting = undefined));
    return this.minting;
  }

  private apns?: ApnsTokenState;
  private apnsMinting?: Promise<ApnsProviderToken>;

  /**
   * The account's current APNs provider token, minted when there is none, when it is
   * APNS_TOKEN_REFRESH_MS old, or when APNs called it expired (`rejected`, at most once per 20 minutes).
   */
  async apnsToken(signer: ApnsSigningKey, rejected?: string): Promise<ApnsProviderToken | { unusableKey: true }> {
    this.apns ??= (await this.ctx.storage.get<ApnsTokenState>("apns")) ?? {};
    if (this.apnsMinting) return this.apnsMinting;
    const why = mintReason(this.apns, Date.now(), rejected);
    if (why === null) return this.apns.current!;
    // A key that cannot sign is the account's to fix: an answer, not an exception to retry.
    if (!(await keyCanSign(signer.key))) return { unusableKey: true };
    const minting = this.mintApns(signer, why);
    this.apnsMinting = minting;
    try {
      return await minting;
    } finally {
      if (this.apnsMinting === minting) this.apnsMinting = undefined;
    }
  }

  private async mintApns(signer: ApnsSigningKey, why: "initial" | "age" | "expired"): Promise<ApnsProviderToken> {
    const now = Date.now();
    const current = await signProviderToken(signer, now);
    this.apns = { ...this.apns, current, ...(why === "expired" ? { forcedAt: now } : {}) };
    await this.ctx.storage.put("apns", this.apns);
    await this.ctx.storage.put("mints", (await this.mints()) + 1);
    return current;
  }

  async mints(): Promise<number> {
    return (await this.ctx.storage.get<number>("mints")) ?? 0;
  }

  private async mint(serviceAccountJson: string, scope: string): Promise<AccessToken> {
    const sa = parseServiceAccount(serviceAccountJson);
    if (!sa) throw new Error("FCM_SERVICE_ACCOUNT is not a service account JSON");
    // The key file comes from the account: its token_uri follows the outbound URL rules, and no redirect.
    const verdict = checkEndpointUrl(sa.token_uri, parseDevHosts(this.env.WEBHOOK_DEV_HOSTS));
    if (!verdict.ok) throw new Error(`the service account's token_uri is refused: ${verdict.message}`);
    const response = await fetch(sa.token_uri, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: tokenRequestBody(await signAssertion(sa, scope)),
    });
    const body = await response.json().catch(() => null);
    const parsed = tokenResponse.safeParse(body);
    if (!response.ok || !parsed.success) {
      throw new Error(`token exchange at ${sa.token_uri} failed: ${response.status} ${JSON.stringify(body)?.slice(0, 300)}`);
    }
    const token = { token: parsed.data.access_token, expiresAt: Date.now() + parsed.data.expires_in * 1000 };
    this.current = token;
    await this.ctx.storage.put("token", token);
    await this.ctx.storage.put("mints", (await this.mints()) + 1);
    return token;
  }
}
