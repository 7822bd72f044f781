import { Hono } from "hono";
import { statsQuery } from "../core/api-requests.ts";
import { mergeBuckets, type StatsBucket } from "../state/account.ts";
import { counterStubs } from "../state/stubs.ts";
import { ApiError, validationError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

const DAY_MS = 86_400_000;

/** Hourly counts per channel and outcome (and per route in `routes`); `none` holds events that linked to no message. */
export const stats = new Hono<AppEnv>().get("/", async (c) => {
  const parsed = statsQuery.safeParse(c.req.query());
  if (!parsed.success) throw validationError(parsed.error);
  const to = new Date(parsed.data.to ?? Date.now() + 3_600_000);
  const from = new Date(parsed.data.from ?? to.getTime() - DAY_MS);
  if (from >= to) throw new ApiError(400, "validation_failed", "from must be before to", [{ path: "from", message: "must be before to" }]);
  const shards = counterStubs(c.env, c.get("account"));
  const lists = await Promise.all(
    shards.map(async (shard) => (await shard.stats(from.toISOString(), to.toISOString(), parsed.data.channel)) as unknown as StatsBucket[]),
  );
  const buckets = mergeBuckets(lists);
  return c.json({ from: from.toISOString(), to: to.toISOString(), buckets });
});
