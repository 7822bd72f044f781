/**
 * A customer's webhook endpoint: what `POST /v1/webhook-endpoints` takes and what reads show.
 * The secrets are never shown after the answer that made them (creation, rotation).
 */
import { z } from "zod";
import { channels, type Channel } from "./model.ts";
import { webhookEventTypes } from "./webhook-events.ts";

/** An account's endpoints: each one is an object with its own schedule, so the count is bounded. */
export const MAX_ENDPOINTS_PER_ACCOUNT = 20;
export const MAX_RATE_PER_SECOND = 1000;

const unique = <T>(items: readonly T[]) => new Set(items).size === items.length;

const fields = {
  url: z.string().min(1).max(2048),
  eventTypes: z
    .array(z.enum(webhookEventTypes))
    .min(1)
    .max(webhookEventTypes.length)
    .refine(unique, "event types must not repeat")
    .describe("only these types; absent: every type but message.queued"),
  channels: z.array(z.enum(channels)).min(1).refine(unique, "channels must not repeat").describe("only these channels' events"),
  description: z.string().max(256),
  rateLimitPerSecond: z.number().int().min(1).max(MAX_RATE_PER_SECOND).describe("deliveries per second at most"),
};

export const endpointCreate = z.strictObject({
  url: fields.url,
  eventTypes: fields.eventTypes.optional(),
  channels: fields.channels.optional(),
  description: fields.description.optional(),
  rateLimitPerSecond: fields.rateLimitPerSecond.optional(),
});
export type EndpointCreate = z.infer<typeof endpointCreate>;

/** A PATCH: null clears a filter or the rate limit; `enabled: true` re-enables one that was disabled. */
export const endpointPatch = z.strictObject({
  url: fields.url.optional(),
  eventTypes: fields.eventTypes.nullable().optional(),
  channels: fields.channels.nullable().optional(),
  description: fields.description.nullable().optional(),
  rateLimitPerSecond: fields.rateLimitPerSecond.nullable().optional(),
  enabled: z.boolean().optional(),
});
export type EndpointPatch = z.infer<typeof endpointPatch>;

export type DisabledReason = "gone" | "failing" | "manual";

/** What reads answer. */
export type EndpointInfo = {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  channels: Channel[] | null;
  rateLimitPerSecond: number | null;
  enabled: boolean;
  disabledReason: DisabledReason | null;
  disabledAt: string | null;
  createdAt: string;
  updatedAt: string;
  secretRotatedAt: string | null;
};

/** What the delivering object needs: the endpoint with its secrets opened. */
export type EndpointTarget = EndpointInfo & { secrets: Array<{ secret: string; createdAt: string; expiresAt: string | null }> };

export function newEndpointId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `ep_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export const endpointIdPattern = /^ep_[0-9a-f]{24}$/;
