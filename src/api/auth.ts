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
    const account = apiKeys(c.env.API_KEYS).get(await sha256Hex(match[1]));
    if (!account) throw new ApiError(401, "unauthorized", "the API key is not valid");
    c.set("account", account);
    await next();
  });
}

const parsed = new Map<string, ReadonlyMap<string, string>>();

/**
 * Parsed once per isolate: the secret does not change while it lives. A Map, so no lookup can
 * reach Object.prototype's members; a secret that does not parse authenticates nobody (401).
 */
function apiKeys(json: string | undefined): ReadonlyMap<string, string> {
  if (!json) return new Map();
  let keys = parsed.get(json);
  if (!keys) {
    const map = new Map<string, string>();
    try {
      const value: unknown = JSON.parse(json);
      if (value && typeof value === "object" && !Array.isArray(value)) {
        for (const [hash, account] of Object.entries(value)) if (typeof account === "string" && account) map.set(hash, account);
      }
    } catch {
      console.error(JSON.stringify({ msg: "API_KEYS is not JSON: no key is valid" }));
    }
    keys = map;
    parsed.set(json, keys);
  }
  return keys;
}
