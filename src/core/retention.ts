/**
 * How long an account keeps what it sent, and what a recipient's erasure leaves behind.
 * Pure: the `scheduled` handler and the Durable Objects apply these rules.
 */
import { z } from "zod";
import { sha256Hex } from "./bytes.ts";
import type { SendRequest } from "./schema.ts";
import { trackedLinks } from "./tracking.ts";

const DAY_MS = 86_400_000;

/**
 * The account's retention section (`PUT /v1/retention`). Bodies (subject, text, html, push
 * payloads, SMS text, attachments' worth of request) go first; the message itself, its
 * timeline, its index row and the MO inbox go at `timelineDays`. Suppressions are never
 * expired: they stay until lifted.
 */
export const retentionSection = z
  .strictObject({
    timelineDays: z.int().min(1).max(3650).default(30).describe("days a message, its timeline and its search row are kept"),
    bodyDays: z.int().min(1).max(3650).default(7).describe("days a message's content is kept (at most timelineDays)"),
  })
  .refine((r) => r.bodyDays <= r.timelineDays, { message: "bodyDays cannot exceed timelineDays", path: ["bodyDays"] });
export type Retention = z.infer<typeof retentionSection>;

/** An account that never set its retention keeps 30 days of timelines and 7 of bodies. */
export const DEFAULT_RETENTION: Retention = { timelineDays: 30, bodyDays: 7 };

/** The created-at bounds (ISO) before which bodies and whole messages go, at `now`. */
export function retentionCutoffs(policy: Retention, now: number): { bodiesBefore: string; timelinesBefore: string } {
  return {
    bodiesBefore: new Date(now - policy.bodyDays * DAY_MS).toISOString(),
    timelinesBefore: new Date(now - policy.timelineDays * DAY_MS).toISOString(),
  };
}

/**
 * A send request without its content: what the message still needs to be shown, linked and
 * announced until its timeline expires (channel, recipient, sender, tags, metadata, route).
 * A web push subscription keeps its endpoint only: its keys exist to encrypt a body. An html
 * email that went out with click tracking (`clickTracked`) keeps its links' URLs (`links`,
 * core/tracking.ts), so a click still leads where it did until the timeline goes; any other
 * keeps none (a link can carry personal data, and nothing will ever resolve it).
 */
export function withoutBody(request: SendRequest, ownBase = "", clickTracked = false): Record<string, unknown> {
  const kept: Record<string, unknown> = { channel: request.channel };
  const source = request as Record<string, unknown>;
  kept.to = request.channel === "webpush" ? { endpoint: request.to.endpoint } : request.to;
  for (const field of ["from", "tags", "metadata", "route", "template"]) if (source[field] !== undefined) kept[field] = source[field];
  if (clickTracked && request.channel === "email" && request.html !== undefined) {
    const links = trackedLinks(request.html, ownBase);
    if (links.length > 0) kept.links = links;
  }
  kept.bodyExpired = true;
  return kept;
}

/**
 * What an erased recipient's suppression is kept under: a hash, so the person is never sent to
 * again (the suppression is still found by the recipient's Durable Object name) while no store
 * holds the address itself.
 */
export async function erasedRecipient(recipientKey: string): Promise<string> {
  return `sha256:${await sha256Hex(recipientKey)}`;
}
