import { Hono } from "hono";
import { z } from "zod";
import { idempotencyKey } from "../core/api-requests.ts";
import { batchRequest } from "../core/schema.ts";
import type { EndpointInfo } from "../core/webhook-endpoint.ts";
import type { DeliveryView } from "../state/endpoint.ts";
import { accountStub, configStub, counterStubs, endpointStub, messageStub } from "../state/stubs.ts";
import type { CancelResult } from "../state/types.ts";
import { messageIdFor } from "../core/ids.ts";
import { scheduleOf } from "../core/schedule.ts";
import { decodeCursor, mergePages, messageSearchQuery, recipientKeysFor, type IndexRow } from "../core/message-search.ts";
import { acceptMessage, sendAtError, type TemplateCache } from "./accept.ts";
import { MAX_BODY_BYTES, limitBodyTo } from "./body.ts";
import { MAX_SEND_BODY_BYTES } from "../core/attachment.ts";
import { utf8 } from "../core/bytes.ts";
import { ApiError, payloadTooLarge, readJson, validationError } from "../core/http.ts";
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

/** A batch's `sendAt` for the items that give none (an item's own wins); a non-object item stays as it is, to fail alone. */
function withSendAt(item: unknown, sendAt: string | undefined): unknown {
  if (sendAt === undefined || item === null || typeof item !== "object" || Array.isArray(item) || "sendAt" in item) return item;
  return { ...item, sendAt };
}

/**
 * The batch's `sendAt` out of bounds is the whole batch's 400 (path `sendAt`), not a thousand
 * item errors; unless this Idempotency-Key already made the batch (its time has since passed):
 * then each item answers its replay.
 */
async function assertBatchSchedule(env: Env, account: string, sendAt: string | undefined, key: string | undefined): Promise<void> {
  const schedule = scheduleOf(sendAt, Date.now());
  if (schedule.kind !== "invalid") return;
  if (key && (await messageStub(env, account, await messageIdFor(account, `${key}:0`)).get())) return;
  throw sendAtError(schedule.message);
}

/**
 * Cancels every member still scheduled, BATCH_CONCURRENCY at a time (a batch has at most
 * BATCH_MAX members, so the work is bounded); the others are counted, never an error. Safe to
 * repeat: a member canceled before counts as canceled again.
 */
async function cancelBatch(env: Env, account: string, batchId: string, members: string[]) {
  let canceled = 0;
  let notCancelable = 0;
  for (let start = 0; start < members.length; start += BATCH_CONCURRENCY) {
    const results = await Promise.all(
      members
        .slice(start, start + BATCH_CONCURRENCY)
        .map(async (id) => (await messageStub(env, account, id).cancel()) as unknown as CancelResult),
    );
    for (const r of results) {
      if (r.kind === "canceled") canceled++;
      else if (r.kind === "not_cancelable") notCancelable++;
    }
  }
  return { batchId, canceled, notCancelable };
}

const limitSend = limitBodyTo(MAX_SEND_BODY_BYTES);

function isEmail(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { channel?: unknown }).channel === "email";
}

/** How many items of a batch are accepted at once: DO calls in flight per request. */
const BATCH_CONCURRENCY = 50;

export const messages = new Hono<AppEnv>()
  // The send routes take a message at the attachment limit (core/attachment.ts); a push or SMS
  // send keeps the 256 KiB every other route has.
  .post("/", limitSend, async (c) => {
    const key = readIdempotencyKey(c.req.header("idempotency-key"));
    const text = await c.req.text();
    const value = readJson(c.req.raw.headers, text);
    if (!isEmail(value) && utf8(text).length > MAX_BODY_BYTES) throw payloadTooLarge(MAX_BODY_BYTES);
    const accepted = await acceptMessage(c.env, c.get("account"), value, { idempotencyKey: key });
    return c.json(accepted.body, accepted.httpStatus);
  })
  .post("/batch", limitSend, async (c) => {
    const key = readIdempotencyKey(c.req.header("idempotency-key"));
    const value = readJson(c.req.raw.headers, await c.req.text());
    const parsed = batchRequest.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    const account = c.get("account");
    const { messages: items, sendAt } = parsed.data;
    await assertBatchSchedule(c.env, account, sendAt, key);
    const results: unknown[] = new Array(items.length);
    // Items that name a template share its one fetch (and, without a version, one version).
    const templates: TemplateCache = new Map();
    // One bad item never fails the others: each gets its own result or error, in order.
    for (let start = 0; start < items.length; start += BATCH_CONCURRENCY) {
      await Promise.all(
        items.slice(start, start + BATCH_CONCURRENCY).map(async (item, offset) => {
          const index = start + offset;
          try {
            const accepted = await acceptMessage(c.env, account, withSendAt(item, sendAt), {
              idempotencyKey: key && `${key}:${index}`,
              templates,
            });
            results[index] = accepted.body;
          } catch (err) {
            if (!(err instanceof ApiError)) throw err;
            results[index] = err.body();
          }
        }),
      );
    }
    // Kept before the answer names the batch, so its cancel always finds every member made.
    const batchId = await messageIdFor(account, key && `${key}:batch`);
    const members = results.flatMap((r) => (r && typeof (r as { id?: unknown }).id === "string" ? [(r as { id: string }).id] : []));
    await accountStub(c.env, account).recordBatch(batchId, members);
    return c.json({ batchId, results }, 202);
  })
  .post("/batches/:batchId/cancel", async (c) => {
    const batchId = c.req.param("batchId");
    const account = c.get("account");
    const members = z.uuid().safeParse(batchId).success ? await accountStub(c.env, account).batchMembers(batchId) : null;
    if (!members) throw new ApiError(404, "not_found", `no batch ${batchId}`);
    return c.json(await cancelBatch(c.env, account, batchId, members));
  })
  .post("/:id/cancel", async (c) => {
    const id = c.req.param("id");
    const result = z.uuid().safeParse(id).success
      ? ((await messageStub(c.env, c.get("account"), id).cancel()) as unknown as CancelResult)
      : ({ kind: "unknown" } as const);
    if (result.kind === "unknown") throw new ApiError(404, "not_found", `no message ${id}`);
    if (result.kind === "not_cancelable") {
      throw new ApiError(409, "not_cancelable", `message ${id} is ${result.status}: only a scheduled message can be canceled`, [
        { path: "status", message: result.status },
      ]);
    }
    return c.json(result.message);
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
