import type { CanonicalEvent } from "../core/schema.ts";
import { planQueueBatches } from "../core/queue.ts";

/**
 * Enqueues canonical events in as few sendBatch calls as the queue's limits allow, as JSON
 * (the size planQueueBatches measured). Throws, sending nothing, if one is too large for a
 * queue message: callers that take events from outside check first and answer 413.
 */
export async function enqueueEvents(queue: Queue, events: readonly CanonicalEvent[]): Promise<void> {
  const plan = planQueueBatches(events);
  if (!plan.ok) throw new Error(`event ${plan.tooLarge[0]!.index} is ${plan.tooLarge[0]!.bytes} bytes: over a queue message`);
  for (const batch of plan.batches) await queue.sendBatch(batch.map((body) => ({ body, contentType: "json" as const })));
}
