import { Hono } from "hono";
import { z } from "zod";
import { idempotencyKey } from "../core/api-requests.ts";
import { batchRequest } from "../core/schema.ts";
import type { EndpointInfo } from "../core/webhook-endpoint.ts";
import type { DeliveryView } from "../state/endpoint.ts";
import { configStub, counterStubs, endpointStub, messageStub } from "../state/stubs.ts";
import { decodeCursor, mergePages, messageSearchQuery, recipientKeysFor, type IndexRow } from "../core/message-search.ts";
import { acceptMessage, type TemplateCache } from "./accept.ts";
import { limitBody } from "./body.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

function readIdempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const parsed = idempotencyKey.safeParse(header);
  if (!parsed.success) {
    throw new ApiError(400, "validation_failed", "the Idempotency-Key header is invalid", [
      { path: "Idempotency-Key", message: parsed.error.issues[0]?.message ?? "invalid" },
    ]);
  }
  return parsed.data;
}

/**
 * `GET /v1/messages`: the account's messages newest first, filtered, a page at a time. Each of
 * the account's 16 counter shards holds the index rows of the messages it counts; every shard
 * answers its newest `limit + 1` matches at once and the page is their merge.
 */
export async function searchMessages(env: Env, account: string, query: Record<string, string>) {
  const parsed = messageSearchQuery.safeParse(query);
  if (!parsed.success) throw validationError(parsed.error);
  const q = parsed.data;
  const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
  if (before === null) {
    throw new ApiError(400, "validation_failed", "the cursor is invalid", [
      { path: "cursor", message: "use nextCursor from a previous page" },
    ]);
  }
  const shardQuery = {
    ...(q.recipient !== undefined ? { recipientKeys: await recipientKeysFor(q.recipient, q.channel) } : {}),
    ...(q.channel ? { channel: q.channel } : {}),
    ...(q.status ? { status: q.status } : {}),
    ...(q.tag ? { tag: q.tag } : {}),
    ...(q.route ? { route: q.route } : {}),
    ...(q.provider ? { provider: q.provider } : {}),
    ...(q.providerMessageId ? { providerMessageId: q.providerMessageId } : {}),
    ...(q.from ? { from: new Date(q.from).toISOString() } : {}),
    ...(q.until ? { until: new Date(q.until).toISOString() } : {}),
    ...(before ? { before } : {}),
    limit: q.limit + 1,
  };
  const pages = await Promise.all(counterStubs(env, account).map(async (shard) => (await shard.search(shardQuery)) as IndexRow[]));
  const { data, nextCursor } = mergePages(pages, q.limit);
  // The recipient's key is the index's business: the page shows `to` as the message view does.
  return { data: data.map(({ recipientKey: _key, ...row }) => row), nextCursor };
}

/** How many items of a batch are accepted at once: DO calls in flight per request. */
const BATCH_CONCURRENCY = 50;

export const messages = new Hono<AppEnv>()
  .post("/", limitBody, async (c) => {
    const key = readIdempotencyKey(c.req.header("idempotency-key"));
    const value = readJson(c.req.raw.headers, await c.req.text());
    const accepted = await acceptMessage(c.env, c.get("account"), value, { idempotencyKey: key });
    return c.json(accepted.body, accepted.httpStatus);
  })
  .post("/batch", limitBody, async (c) => {
    const key = readIdempotencyKey(c.req.header("idempotency-key"));
    const value = readJson(c.req.raw.headers, await c.req.text());
    const parsed = batchRequest.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    const items = parsed.data.messages;
    const results: unknown[] = new Array(items.length);
    // Items that name a template share its one fetch (and, without a version, one version).
    const templates: TemplateCache = new Map();
    // One bad item never fails the others: each gets its own result or error, in order.
    for (let start = 0; start < items.length; start += BATCH_CONCURRENCY) {
      await Promise.all(
        items.slice(start, start + BATCH_CONCURRENCY).map(async (item, offset) => {
          const index = start + offset;
          try {
            const accepted = await acceptMessage(c.env, c.get("account"), item, { idempotencyKey: key && `${key}:${index}`, templates });
            results[index] = accepted.body;
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            results[index] = err.body();
          }
        }),
      );
    }
    return c.json({ results }, 202);
  })
  .get("/", async (c) => c.json(await searchMessages(c.env, c.get("account"), c.req.query())))
  .get("/:id", async (c) => {
    const id = c.req.param("id");
    const message = z.uuid().safeParse(id).success ? await messageStub(c.env, c.get("account"), id).get() : null;
    if (!message) throw new ApiError(404, "not_found", `no message ${id}`);
    return c.json(message);
  })
  .get("/:id/deliveries", async (c) => {
    const id = c.req.param("id");
    const account = c.get("account");
    const message = z.uuid().safeParse(id).success ? await messageStub(c.env, account, id).get() : null;
    if (!message) throw new ApiError(404, "not_found", `no message ${id}`);
    // Every endpoint of the account (at most MAX_ENDPOINTS_PER_ACCOUNT), each asked for this message's events.
    const endpoints = (await configStub(c.env, account).listEndpoints(account)) as EndpointInfo[];
    const perEndpoint = await Promise.all(
      endpoints.map(async (e) => {
        const deliveries = (await endpointStub(c.env, account, e.id).deliveriesOf(id)) as DeliveryView[];
        return deliveries.map((d) => ({ endpointId: e.id, url: e.url, ...d }));
      }),
    );
    return c.json({ data: perEndpoint.flat() });
  });
