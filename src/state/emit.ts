/**
 * The door into the event stream: events for an account's webhook endpoints go through the
 * webhooks Queue, whose consumer (src/queues/webhooks.ts) hands each to every endpoint that
 * takes it. A caller awaits the send, so an event it emits is durable once this returns.
 */
import type { WebhookEvent } from "../core/webhook-events.ts";

export type WebhooksQueueBody = { account: string; events: WebhookEvent[] };

export async function emitEvents(env: Pick<Env, "WEBHOOKS">, account: string, events: WebhookEvent[]): Promise<void> {
  if (events.length > 0) await env.WEBHOOKS.send({ account, events } satisfies WebhooksQueueBody);
}
