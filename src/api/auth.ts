import { createMiddleware } from "hono/factory";
import { sha256Hex, utf8 } from "../core/bytes.ts";
import { keyHash, type KeyGrant, type Scope } from "../core/config/keys.ts";
import { leaseSize, retryAfterSeconds } from "../core/config/rate.ts";
import { ApiError } from "../core/http.ts";
import { keyGrant } from "../state/config-read.ts";
import { configStub, limiterStub } from "../state/stubs.ts";
import type { AppEnv } from "./types.ts";

function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? "");
  if (!match) throw new ApiError(401, "unauthorized", "send Authorization: Bearer <api key>");
  return match[1];
}

/**
 * Bearer API keys, looked up by their SHA-256 in the configuration store (cached per isolate
 * for a few seconds). `scope` is what the route needs: a key without it answers 403 naming it.
 * Then the key's rate limit, then the route.
 *
 * @example
 * app.post("/v1/messages", apiKeyAuth("send"), …)
 */
export function apiKeyAuth(scope: Scope) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const hash = await keyHash(bearer(c.req.header("authorization")));
    const grant = await keyGrant(c.env, hash);
    if (grant === null) throw new ApiError(401, "unauthorized", "the API key is not valid");
    if (grant === "disabled") throw new ApiError(403, "account_disabled", "this account is disabled; ask the platform's operator");
    if (!grant.scopes.includes(scope)) {
      throw new ApiError(403, "insufficient_scope", `this API key lacks the ${scope} scope`, [
        { path: "scopes", message: `needs ${scope}` },
      ]);
    }
    await spend(c.env, grant);
    touch(c.env, grant, executionContext(c));
    c.set("account", grant.account);
    c.set("key", grant);
    await next();
  });
}

/** The platform admin: `Authorization: Bearer <ADMIN_API_KEY>`, compared in constant time. */
export function adminAuth() {
  return createMiddleware<AppEnv>(async function authenticateAdmin(c, next) {
    const presented = bearer(c.req.header("authorization"));
    const expected = c.env.ADMIN_API_KEY;
    if (!expected) throw new ApiError(401, "unauthorized", "no admin key is configured for this deployment");
    const [a, b] = await Promise.all([sha256Hex(presented), sha256Hex(expected)]);
    if (!timingSafeEqual(a, b)) throw new ApiError(401, "unauthorized", "the admin key is not valid");
    await next();
  });
}

/** Hono throws when there is no execution context (the app called directly in a test). */
function executionContext(c: { executionCtx: { waitUntil(promise: Promise<unknown>): void } }) {
  try {
    return c.executionCtx;
  } catch {
    return { waitUntil: () => {} };
  }
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = utf8(a);
  const y = utf8(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.min(x.length, y.length); i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** This isolate's unspent lease per key, and until when the key's limiter refused it. */
type LocalLease = { tokens: number; until: number; refusedUntil: number };
const leases = new Map<string, LocalLease>();

/**
 * Spends one token of the key's budget, leasing more from its LimiterDO when this isolate has
 * none. Concurrent misses each lease for themselves (no shared in-flight promise: workerd ties
 * one to its request) and pool what is left over.
 */
async function spend(env: Env, grant: KeyGrant): Promise<void> {
  const id = `${grant.account}\n${grant.keyId}`;
  const now = Date.now();
  const local = leases.get(id);
  if (local && local.until > now && local.tokens > 0) {
    local.tokens -= 1;
    return;
  }
  // Refused in this window already: no need to ask again before it ends.
  if (local && local.refusedUntil > now) throw rateLimited(local.refusedUntil, now);
  const granted = await limiterStub(env, grant.account, grant.keyId).lease(grant.ratePerSecond, leaseSize(grant.ratePerSecond));
  const current = leases.get(id);
  // What other requests of this window leased and left is kept, refused or not.
  const carried = current && current.until === granted.until ? current.tokens : 0;
  if (granted.tokens === 0) {
    if (carried > 0) {
      leases.set(id, { tokens: carried - 1, until: granted.until, refusedUntil: granted.until });
      return;
    }
    leases.set(id, { tokens: 0, until: granted.until, refusedUntil: granted.until });
    throw rateLimited(granted.until, Date.now());
  }
  // One token is this request's; the rest join the pool.
  leases.set(id, { tokens: carried + granted.tokens - 1, until: granted.until, refusedUntil: 0 });
}

function rateLimited(until: number, now: number): ApiError {
  const seconds = retryAfterSeconds(until, now);
  return new ApiError(429, "rate_limited", `this API key is over its rate limit; retry in ${seconds} s`, [], {
    "retry-after": String(seconds),
  });
}

/** Last use, written at most once a minute per key per isolate, after the answer. */
const touched = new Map<string, number>();
function touch(env: Env, grant: KeyGrant, ctx: { waitUntil(promise: Promise<unknown>): void }): void {
  const now = Date.now();
  if ((touched.get(grant.keyId) ?? 0) > now - 60_000) return;
  touched.set(grant.keyId, now);
  ctx.waitUntil(
    configStub(env, grant.account)
      .touchKey(grant.account, grant.keyId, new Date(now).toISOString())
      .catch(() => touched.delete(grant.keyId)),
  );
}

/**
 * Reads need `read`; writes need the route's own scope. `readPosts` are POST paths that only
 * read (a query with a body too large for a URL, like /v1/suppressions/check).
 */
export function scoped(write: Scope, readPosts: readonly string[] = []) {
  return createMiddleware<AppEnv>((c, next) => {
    const reads = c.req.method === "GET" || c.req.method === "HEAD" || (c.req.method === "POST" && readPosts.includes(c.req.path));
    return apiKeyAuth(reads ? "read" : write)(c, next);
  });
}
