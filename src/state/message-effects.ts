/**
 * What a MessageDO's state changes set off elsewhere: enqueueing the send, counting, the
 * recipient's suppression, the RefDOs that lead receipts back, and the event stream out. Each is written to the
 * outbox with the change and performed after it (src/state/outbox.ts).
 */
import type { IndexRow } from "../core/message-search.ts";
import type { Channel } from "../core/model.ts";
import type { WebhookEvent } from "../core/webhook-events.ts";
import { emitEvents } from "./emit.ts";
import { counterStub, recipientStub, refStub } from "./stubs.ts";
import type { EffectInput, QueuedSend, RefMapping } from "./types.ts";

/** Stored as JSON in the outbox: a change of shape must still read what an older version wrote. */
export type MessageEffect =
  | { kind: "enqueue"; job: QueuedSend }
  | { kind: "count"; account: string; channel: Channel; outcome: string; at: string; route?: string; row?: IndexRow }
  | { kind: "recipient"; input: EffectInput }
  | { kind: "ref"; provider: string; providerMessageId: string; mapping: RefMapping }
  | { kind: "webhook"; account: string; events: WebhookEvent[] };

/**
 * `message`: the MessageDO's own row, read when the effect runs; `seq`: the effect's place in its
 * outbox, the same each time it is retried (a count is made once per message and seq).
 */
export async function performEffect(
  env: Env,
  effect: MessageEffect,
  message: { id: string; channel: Channel } | undefined,
  seq: number,
): Promise<void> {
  switch (effect.kind) {
    case "enqueue":
      // One queue per channel family: email's and SMS's schedules and limits differ from push's.
      await queueFor(env, message?.channel).send(effect.job);
      return;
    case "ref":
      await refStub(env, effect.mapping.account, effect.provider, effect.providerMessageId).map(effect.mapping);
      return;
    case "count":
      await counterStub(env, effect.account, message?.id ?? effect.account).count(effect.channel, effect.outcome, effect.at, {
        route: effect.route,
        row: effect.row,
        ...(message ? { once: { subject: message.id, seq } } : {}),
      });
      return;
    case "recipient":
      await recipientStub(env, effect.input.account, effect.input.channel, effect.input.recipientKey).applyEffect(effect.input);
      return;
    case "webhook":
      await emitEvents(env, effect.account, effect.events);
      return;
  }
}

function queueFor(env: Env, channel: Channel | undefined): Queue {
  if (channel === "email") return env.SEND_EMAIL;
  if (channel === "sms") return env.SEND_SMS;
  return env.SEND_PUSH;
}
