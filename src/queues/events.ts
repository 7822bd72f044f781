import type { CanonicalEvent } from "../core/schema.ts";
import { retryDelaySeconds } from "../core/retry.ts";
import { accountStub, messageStub } from "../state/stubs.ts";

/**
 * The feedback consumer: applies canonical events to their MessageDO (which dedupes them
 * and carries their suppression effects). An event for a message we do not know is
 * counted as `unlinked` rather than dropped in silence.
 */
export async function consumeEvents(batch: MessageBatch<CanonicalEvent>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      const event = message.body;
      try {
        const result = await messageStub(env, event.account, event.messageId).apply(event);
        if (result.kind === "unknown") {
          console.warn(JSON.stringify({ msg: "event for an unknown message", eventId: event.id, messageId: event.messageId }));
          await accountStub(env, event.account).count("none", "unlinked", event.receivedAt ?? new Date().toISOString());
        }
        message.ack();
      } catch (err) {
        console.error(JSON.stringify({ msg: "applying event failed", eventId: event.id, error: String(err) }));
        message.retry({ delaySeconds: retryDelaySeconds(message.attempts, Number(env.RETRY_BASE_SECONDS ?? 30)) });
      }
    }),
  );
}

/** Events that could not be applied after every retry: kept visible in the stats and the log. */
export async function consumeDeadEvents(batch: MessageBatch<CanonicalEvent>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    console.error(JSON.stringify({ msg: "event dead-lettered", event: message.body }));
    await accountStub(env, message.body.account).count("none", "event_dead_lettered", new Date().toISOString());
    message.ack();
  }
}
