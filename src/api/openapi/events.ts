/**
 * The outbound event stream (src/core/webhook-events.ts) as the document's `webhooks`: one
 * operation per event type, its body the same zod contract that docs/webhook-events.schema.json
 * is generated from, signed with Standard Webhooks headers under the endpoint's secret.
 */
import type { OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { webhookEvent, webhookEventTypes } from "../../core/webhook-events.ts";

const signedHeaders = z.object({
  "webhook-id": z.string().describe("the event id: the same on every retry, so a receiver dedupes by it"),
  "webhook-timestamp": z.string().describe("Unix seconds of this attempt"),
  "webhook-signature": z
    .string()
    .describe(
      "space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, one per live secret of the endpoint (two while a rotation overlaps)",
    ),
});

/** Every event type, `test` too (POST /v1/webhook-endpoints/{id}/test sends it). */
export const eventTypes = [...webhookEventTypes, "test"] as const;

/** The body of one event type: the union's member that takes it, its `type` narrowed to that one. */
export function eventBody(type: (typeof eventTypes)[number]) {
  const member = webhookEvent.options.find((option) => option.shape.type.safeParse(type).success);
  if (!member) throw new Error(`no webhook event body takes ${type}`);
  return member.extend({ type: z.literal(type) });
}

function schemaName(type: string): string {
  return `${type
    .split(/[._]/)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("")}Event`;
}

export function registerEvents(registry: OpenAPIRegistry): void {
  for (const type of eventTypes) {
    registry.registerWebhook({
      method: "post",
      path: type,
      tags: ["Events"],
      summary: `${type}, POSTed to each endpoint that takes it`,
      description:
        "Delivered at least once, retried on a schedule (0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h ±10 %) until a 2xx; 410 disables the endpoint; 429 and 503 are retried after their Retry-After.",
      operationId: `event${schemaName(type)}`,
      request: {
        headers: signedHeaders,
        body: { required: true, content: { "application/json": { schema: eventBody(type).meta({ id: schemaName(type) }) } } },
      },
      responses: {
        200: { description: "any 2xx: taken" },
        410: { description: "gone: the endpoint is disabled" },
        429: { description: "later: retried after Retry-After" },
      },
    });
  }
}
