import { DurableObject } from "cloudflare:workers";
import {
  parseServiceAccount,
  signAssertion,
  tokenRequestBody,
  tokenResponse,
  tokenUsable,
  type AccessToken,
} from "../core/google-oauth.ts";

/**
 * One OAuth access token per service account, shared by every isolate: the Durable
 * Object is the one place that mints, so a burst of sends from many isolates costs one
 * exchange at the token URI instead of one each.
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

  async mints(): Promise<number> {
    return (await this.ctx.storage.get<number>("mints")) ?? 0;
  }

  private async mint(serviceAccountJson: string, scope: string): Promise<AccessToken> {
    const sa = parseServiceAccount(serviceAccountJson);
    if (!sa) throw new Error("FCM_SERVICE_ACCOUNT is not a service account JSON");
    const response = await fetch(sa.token_uri, {
      method: "POST",
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
