import { isEspType, routesOf } from "../core/email-routes.ts";
import { accountRuntime } from "../state/config-read.ts";
import type { ProviderEvent, ProviderEventPack } from "../core/provider-event.ts";
import type { CanonicalEvent } from "../core/schema.ts";
import { retryDelaySeconds } from "../core/retry.ts";
import { accountStub, messageStub, refStub } from "../state/stubs.ts";
import { toTimelineEvent } from "../state/ref.ts";
import type { ApplyResult } from "../state/types.ts";

/** One message of the events queue: a canonical event (bridge, mail feedback, Twilio) or a pack of provider events. */
export type EventsQueueBody = CanonicalEvent | ProviderEventPack;

/**
 * Provider events in flight at once per batch. A batch holds up to 100 packs of ~100 events: all
 * at once would be 10,000 Durable Object calls leaving one invocation together and starving
 * everything else its isolate does (the local runtime stopped answering HTTP); a few dozen keep
 * every object busy without a stampede.
 */
const EVENTS_IN_FLIGHT = 128;

/** At most `limit` calls of the returned function's work running at once, the rest waiting in order. */
function limiter(limit: number) {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await work();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
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
  const slot = limiter(EVENTS_IN_FLIGHT);
  await Promise.all(
    batch.messages.map(async (message) => {
      const body = message.body;
      try {
        if (isPack(body)) await Promise.all(body.events.map((event) => slot(() => applyProviderEvent(env, event))));
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

export async function applyCanonical(env: Env, event: CanonicalEvent): Promise<void> {
  const result = await messageStub(env, event.account, event.messageId).apply(event);
  if (result.kind === "unknown") {
    console.warn(JSON.stringify({ msg: "event for an unknown message", eventId: event.id, messageId: event.messageId }));
    // Once per event: the queue redelivers an event whose ack was lost.
    await accountStub(env, event.account).count("none", "unlinked", event.receivedAt ?? new Date().toISOString(), {
      once: { subject: `unlinked:${event.messageId}:${event.id}`, seq: 0 },
    });
  }
}

/**
 * A provider's event: to our message when the provider echoed our id and we know it; else
 * through the RefDO of the provider's message id, which knows our message or makes the
 * external one. An id echoed by the provider that is not a message of this account is not
 * trusted further than the provider's own id.
 */
export async function applyProviderEvent(env: Env, event: ProviderEvent): Promise<ApplyResult | { kind: "held" }> {
  if (event.messageId) {
    const result = (await messageStub(env, event.account, event.messageId).apply(toTimelineEvent(event))) as ApplyResult;
    if (result.kind !== "unknown") return result;
  }
  const holdMs = (await sendsThrough(env, event)) ? Number(env.PROVIDER_EVENT_HOLD_SECONDS ?? 300) * 1000 : 0;
  const ref = refStub(env, event.account, event.provider, event.providerMessageId);
  return (await ref.providerEvent(event, { holdMs })) as ApplyResult | { kind: "held" };
}

/**
 * Whether the account sends email through this provider (one of its routes): then an event
 * without our id may be one of ours whose send result is still on its way (an SES identity
 * notification carries no tags), and is held for its mapping before it is taken as external.
 */
async function sendsThrough(env: Env, event: ProviderEvent): Promise<boolean> {
  if (event.channel !== "email" || !isEspType(event.provider)) return false;
  const { sections } = await accountRuntime(env, event.account);
  return sections.email !== undefined && routesOf(sections.email).some((route) => route.type === event.provider);
}

/** Events that could not be applied after every retry: kept visible in the stats and the log. */
export async function consumeDeadEvents(batch: MessageBatch<EventsQueueBody>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    const body = message.body;
    const events = isPack(body) ? body.events : [body];
    console.error(JSON.stringify({ msg: "event dead-lettered", events }));
    const first = events[0];
    if (first) await accountStub(env, first.account).count("none", "event_dead_lettered", new Date().toISOString(), { n: events.length });
    message.ack();
  }
}
