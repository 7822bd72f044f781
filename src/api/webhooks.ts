import { Hono } from "hono";
import { eventBatch } from "../core/schema.ts";
import { limitBody, readJson } from "./body.ts";
import { assertSigned } from "./signed.ts";
import { ApiError, validationError } from "./errors.ts";
import type { AppEnv } from "./types.ts";

/** Cloudflare Queues take at most 100 messages per sendBatch call. */
const QUEUE_BATCH = 100;

/**
 * Provider feedback. `bridge` (and any Standard Webhooks sender) posts canonical events;
 * they are verified before anything is parsed, enqueued, and answered 202 before they
 * are applied, so a slow DO never makes a provider time out and redeliver.
 */
export const webhooks = new Hono<AppEnv>().post("/:provider", limitBody, async (c) => {
  const provider = c.req.param("provider");
  if (provider !== "bridge") throw new ApiError(404, "not_found", `no webhook provider ${provider}`);
  const raw = await c.req.text();
  await assertSigned(c, raw);
  const { value } = await readJson(c, raw);
  const parsed = eventBatch.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error);
  const receivedAt = new Date().toISOString();
  const events = parsed.data.events.map((event) => ({ body: { ...event, receivedAt: event.receivedAt ?? receivedAt } }));
  for (let i = 0; i < events.length; i += QUEUE_BATCH) await c.env.EVENTS.sendBatch(events.slice(i, i + QUEUE_BATCH));
  return c.json({ accepted: events.length }, 202);
});
