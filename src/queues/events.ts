import type { ProviderEvent, ProviderEventPack } from "../core/provider-event.ts";
import type { CanonicalEvent } from "../core/schema.ts";
import { retryDelaySeconds } from "../core/retry.ts";
import { accountStub, messageStub, refStub } from "../state/stubs.ts";
import { toTimelineEvent } from "../state/ref.ts";
import type { ApplyResult } from "../state/types.ts";

/** One message of the events queue: a canonical event (bridge, mail feedback, Twilio) or a pack of provider events. */
export type EventsQueueBody = CanonicalEvent | ProviderEventPack;

/**
 * Events of one pack in flight at once. A batch holds up to 100 packs of ~100 events: all at once
 * would be 10,000 Durable Object calls leaving one invocation together, starving everything else
 * the isolate does; a few dozen per pack keep every message's object busy without a stampede.
 */
const EVENTS_IN_FLIGHT = 16;

/** `fn` over `items`, at most `limit` at a time; rejects with the first failure once all settled. */
async function inTurn<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const failures: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((error: unknown) => failures.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures[0];
}

function isPack(body: EventsQueueBody): body is ProviderEventPack {
  return (body as ProviderEventPack).kind === "provider-events";
}

/**
 * The feedback consumer: applies canonical events to their MessageDO (which dedupes them
 * and carries their suppression effects). An event for a message we do not know is
 * counted as `unlinked` rather than dropped in silence. A pack is retried whole when any of
 * its events failed: the ones that were applied are duplicates the second time, nothing more.
 */
export async function consumeEvents(batch: MessageBatch<EventsQueueBody>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = message.body;
      try {
        if (isPack(body)) await inTurn(body.events, EVENTS_IN_FLIGHT, (event) => applyProviderEvent(env, event));
        else await applyCanonical(env, body);
        message.ack();
      } catch (err) {
        const id = isPack(body) ? `pack of ${body.events.length}` : body.id;
        console.error(JSON.stringify({ msg: "applying event failed", eventId: id, error: String(err) }));
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts, Number(env.RETRY_BASE_SECONDS ?? 30)) });
      }
    }),
  );
}

async function applyCanonical(env: Env, event: CanonicalEvent): Promise<void> {
  const result = await messageStub(env, event.account, event.messageId).apply(event);
  if (result.kind === "unknown") {
    console.warn(JSON.stringify({ msg: "event for an unknown message", eventId: event.id, messageId: event.messageId }));
    await accountStub(env, event.account).count("none", "unlinked", event.receivedAt ?? new Date().toISOString());
  }
}

/**
 * A provider's event: to our message when the provider echoed our id and we know it; else
 * through the RefDO of the provider's message id, which knows our message or makes the
 * external one. An id echoed by the provider that is not a message of this account is not
 * trusted further than the provider's own id.
 */
export async function applyProviderEvent(env: Env, event: ProviderEvent): Promise<ApplyResult> {
  if (event.messageId) {
    const result = (await messageStub(env, event.account, event.messageId).apply(toTimelineEvent(event))) as ApplyResult;
    if (result.kind !== "unknown") return result;
  }
  return (await refStub(env, event.account, event.provider, event.providerMessageId).providerEvent(event)) as ApplyResult;
}

/** Events that could not be applied after every retry: kept visible in the stats and the log. */
export async function consumeDeadEvents(batch: MessageBatch<EventsQueueBody>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    const events = isPack(body) ? body.events : [body];
    console.error(JSON.stringify({ msg: "event dead-lettered", events }));
    const first = events[0];
    if (first) await accountStub(env, first.account).count("none", "event_dead_lettered", new Date().toISOString(), events.length);
    message.ack();
  }
}
