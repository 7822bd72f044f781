import { createMiddleware } from "hono/factory";
import { sha256Hex } from "../core/bytes.ts";
import { ApiError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

/**
 * Bearer API keys. Only their SHA-256 is configured (secret `API_KEYS`: a JSON object of
 * sha256-hex → account id), so a leaked config never leaks a usable key.
 *
 * @example
 * app.use("/v1/messages/*", apiKeyAuth())
 */
export function apiKeyAuth() {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new ApiError(401, "unauthorized", "send Authorization: Bearer <api key>");
    const account = apiKeys(c.env.API_KEYS)[await sha256Hex(match[1])];
    if (!account) throw new ApiError(401, "unauthorized", "the API key is not valid");
    c.set("account", account);
    await next();
  });
}

const parsed = new Map<string, Record<string, string>>();

/** Parsed once per isolate: the secret does not change while it lives. */
function apiKeys(json: string | undefined): Record<string, string> {
  if (!json) return {};
  let keys = parsed.get(json);
  if (!keys) {
    keys = JSON.parse(json) as Record<string, string>;
    parsed.set(json, keys);
  }
  return keys;
}
