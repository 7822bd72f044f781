import { Hono } from "hono";
import { DEFAULT_POOL } from "../core/ip-pools.ts";
import type { PoolView } from "../core/api-responses.ts";
import { accountRuntime } from "../state/config-read.ts";
import { poolConfig } from "../state/pool-gate.ts";
import { poolStub } from "./../state/stubs.ts";
import type { AppEnv } from "./types.ts";

/**
 * `GET /v1/email/pools`: each IP pool of the account's `delivery` section (and `default`, the
 * bridge's own address) with each address's warm-up cap and counts of the UTC day, and each
 * destination's rate in force. One request to each pool's object.
 */
export const pools = new Hono<AppEnv>().get("/pools", async (c) => {
  const account = c.get("account");
  const { sections } = await accountRuntime(c.env, account);
  const delivery = sections.delivery;
  if (!delivery) return c.json({ data: [] as PoolView[] });
  const names = [...delivery.pools.map((p) => p.name), DEFAULT_POOL];
  const data = await Promise.all(
    names.map((name) => poolStub(c.env, account, name).view(poolConfig(account, delivery, name)) as Promise<PoolView>),
  );
  return c.json({ data });
});
