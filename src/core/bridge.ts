/**
 * The edge ⇄ bridge contract: what a batch request carries and what comes back, one
 * schema for both sides (Standard Webhooks signatures wrap both directions).
 */
import { z } from "zod";

export const apnsItem = z.strictObject({
  id: z.uuid(),
  token: z.string().regex(/^(?:[0-9a-fA-F]{2}){32,100}$/),
  topic: z.string().min(1),
  pushType: z.string().min(1),
  priority: z.union([z.literal(10), z.literal(5), z.literal(1)]).optional(),
  expiration: z.number().int().min(0).optional(),
  collapseId: z.string().optional(),
  payload: z.record(z.string(), z.unknown()),
  sandbox: z.boolean().optional(),
});

export const apnsBatch = z.strictObject({ items: z.array(apnsItem).min(1).max(1000) });
export type ApnsBatch = z.infer<typeof apnsBatch>;

/** One item's outcome: the shape of `SendOutcome` plus the item id. */
export const itemResult = z.strictObject({
  id: z.string(),
  kind: z.enum(["accepted", "bounced", "failed", "retry"]),
  retryAfter: z.number().optional(),
  detail: z.record(z.string(), z.unknown()),
});
export const batchResults = z.strictObject({ results: z.array(itemResult) });
export type BatchResults = z.infer<typeof batchResults>;

export const BRIDGE_APNS_PATH = "/v1/apns/send";
