import { Hono } from "hono";
import { accountListQuery, createAccountRequest, patchAccountRequest } from "../core/api-requests.ts";
import { toHex } from "../core/bytes.ts";
import { keyHash, keyPrefix, newApiKey, newKeyId, SCOPES, DEFAULT_RATE_PER_SECOND } from "../core/config/keys.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import { forgetAccount, forgetGrants } from "../state/config-read.ts";
import { meterOn, meterSnapshot } from "../state/meter.ts";
import { configStub, directoryStub, keyIndexStub } from "../state/stubs.ts";
import { adminAuth } from "./auth.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

/** Account ids: `acct_` and 16 hex digits, never a colon (DO names join parts with one). */
function newAccountId(): string {
  return `acct_${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
}

/**
 * The platform admin (`ADMIN_API_KEY`): create, list, rename and disable accounts. A new
 * account comes with one API key holding every scope, shown in this answer only.
 */
export const admin = new Hono<AppEnv>()
  .use(adminAuth())
  .get("/meter", (c) => {
    if (!meterOn(c.env)) throw new ApiError(404, "meter_off", 'cost instrumentation is off in this deployment (METER is not "1")');
    return c.json({ counts: meterSnapshot() });
  })
  .post("/accounts", limitBody, async (c) => {
    const parsed = createAccountRequest.safeParse(readJson(c.req.raw.headers, await c.req.text()));
    if (!parsed.success) throw validationError(parsed.error);
    const id = newAccountId();
    const key = newApiKey();
    const hash = await keyHash(key);
    const keyId = newKeyId();
    // The account's own object first (its truth), then the indexes that find it.
    const account = await configStub(c.env, id).create(id, parsed.data.name, "admin");
    const record = await configStub(c.env, id).addKey(
      id,
      { id: keyId, hash, name: "first key", prefix: keyPrefix(key), scopes: [...SCOPES], ratePerSecond: DEFAULT_RATE_PER_SECOND },
      "admin",
    );
    await keyIndexStub(c.env, hash).indexKey(hash, id);
    await directoryStub(c.env).addAccount(account);
    return c.json({ ...account, apiKey: { ...record, key } }, 201);
  })
  .get("/accounts", async (c) => {
    const parsed = accountListQuery.safeParse(c.req.query());
    if (!parsed.success) throw validationError(parsed.error);
    const page = await directoryStub(c.env).listAccounts(parsed.data.cursor ?? null, parsed.data.limit);
    return c.json({ data: page.items, nextCursor: page.nextCursor });
  })
  .get("/accounts/:id", async (c) => {
    const id = c.req.param("id");
    if (!(await directoryStub(c.env).hasAccount(id))) throw new ApiError(404, "not_found", `no account ${id}`);
    const info = await configStub(c.env, id).info(id);
    if (!info) throw new ApiError(404, "not_found", `no account ${id}`);
    return c.json(info);
  })
  .patch("/accounts/:id", limitBody, async (c) => {
    const id = c.req.param("id");
    const parsed = patchAccountRequest.safeParse(readJson(c.req.raw.headers, await c.req.text()));
    if (!parsed.success) throw validationError(parsed.error);
    if (!(await directoryStub(c.env).hasAccount(id))) throw new ApiError(404, "not_found", `no account ${id}`);
    const info = await configStub(c.env, id).update(id, parsed.data, "admin");
    if (!info) throw new ApiError(404, "not_found", `no account ${id}`);
    await directoryStub(c.env).updateAccount(id, parsed.data);
    // This isolate at once; the others within CONFIG_CACHE_MS.
    forgetAccount(id);
    forgetGrants();
    return c.json(info);
  });
