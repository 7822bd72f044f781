import type { Scope } from "../core/config/keys.ts";

/**
 * The scope each API-key route family needs for writes (reads need `read`), by path prefix:
 * the one table app.ts enforces (`scoped`) and the OpenAPI document states (`x-scopes`).
 * `readPosts` are POST paths that only read (a query with a body too large for a URL).
 */
export const routeScopes: ReadonlyArray<{ prefix: string; write: Scope; readPosts?: readonly string[] }> = [
  { prefix: "/v1/messages", write: "send" },
  { prefix: "/v1/suppressions", write: "suppressions:write", readPosts: ["/v1/suppressions/check"] },
  { prefix: "/v1/stats", write: "read" },
  { prefix: "/v1/routes", write: "read" },
  { prefix: "/v1/sms", write: "config:write" },
  { prefix: "/v1/email", write: "config:write" },
  { prefix: "/v1/push", write: "config:write" },
  { prefix: "/v1/providers", write: "config:write" },
  { prefix: "/v1/domains", write: "config:write" },
  { prefix: "/v1/api-keys", write: "keys:write" },
  { prefix: "/v1/audit", write: "read" },
  { prefix: "/v1/webhook-endpoints", write: "config:write" },
  { prefix: "/v1/recipients", write: "suppressions:write" },
  { prefix: "/v1/retention", write: "config:write" },
  { prefix: "/v1/bridge", write: "read" },
  { prefix: "/v1/templates", write: "config:write" },
];

/** The scope a request needs, as `scoped` decides it; null for a path no API key reaches. */
export function scopeFor(method: string, path: string): Scope | null {
  const family = routeScopes.find((s) => path === s.prefix || path.startsWith(`${s.prefix}/`));
  if (!family) return null;
  const m = method.toUpperCase();
  const reads = m === "GET" || m === "HEAD" || (m === "POST" && (family.readPosts ?? []).includes(path));
  return reads ? "read" : family.write;
}
