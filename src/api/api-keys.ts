import { Hono } from "hono";
import { createKeyRequest, DEFAULT_RATE_PER_SECOND, keyHash, keyPrefix, newApiKey, newKeyId } from "../core/config/keys.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import { forgetKey } from "../state/config-read.ts";
import { configStub, keyIndexStub } from "../state/stubs.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

/**
 * `/v1/api-keys`: the account's keys. A new key is answered once, in full; lists show its
 * prefix, scopes, rate and when it was created and last used. A deleted key stops working
 * in this isolate at once and everywhere within CONFIG_CACHE_MS.
 */
export const apiKeys = new Hono<AppEnv>()
  .get("/", async (c) => {
    const account = c.get("account");
    return c.json({ data: await configStub(c.env, account).listKeys(account) });
  })
  .post("/", limitBody, async (c) => {
    const parsed = createKeyRequest.safeParse(readJson(c.req.raw.headers, await c.req.text()));
    if (!parsed.success) throw validationError(parsed.error);
    const account = c.get("account");
    const key = newApiKey();
    const hash = await keyHash(key);
    // Index first: a crash before the key's own row leaves an index entry that grants nothing.
    await keyIndexStub(c.env, hash).indexKey(hash, account);
    const record = await configStub(c.env, account).addKey(
      account,
      {
        id: newKeyId(),
        hash,
        name: parsed.data.name,
        prefix: keyPrefix(key),
        scopes: parsed.data.scopes,
        ratePerSecond: parsed.data.ratePerSecond ?? DEFAULT_RATE_PER_SECOND,
      },
      c.get("key").keyId,
    );
    if (!record) throw new ApiError(404, "not_found", "this account does not exist");
    return c.json({ ...record, key }, 201);
  })
  .delete("/:id", async (c) => {
    const account = c.get("account");
    const hash = await configStub(c.env, account).revokeKey(account, c.req.param("id"), c.get("key").keyId);
    if (!hash) throw new ApiError(404, "not_found", `no API key ${c.req.param("id")}`);
    await keyIndexStub(c.env, hash).unindexKey(hash);
    forgetKey(hash);
    return c.body(null, 204);
  });
