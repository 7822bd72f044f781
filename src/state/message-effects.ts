/**
 * What a MessageDO's state changes set off elsewhere: enqueueing the send, counting, the
 * recipient's suppression, the RefDOs that lead receipts back, the IP pool's reputation
 * counters, and the event stream out. Each is written to the
 * outbox with the change and performed after it (src/state/outbox.ts).
 */
import type { IndexRow } from "../core/message-search.ts";
import type { Channel } from "../core/model.ts";
import type { WebhookEvent } from "../core/webhook-events.ts";
import { emitEvents } from "./emit.ts";
import { counterStub, poolStub, recipientStub, refStub } from "./stubs.ts";
import type { EffectInput, QueuedSend, RefMapping } from "./types.ts";

/** Stored as JSON in the outbox: a change of shape must still read what an older version wrote. */
export type MessageEffect =
  | { kind: "enqueue"; job: QueuedSend }
  | { kind: "count"; account: string; channel: Channel; outcome: string; at: string; route?: string; row?: IndexRow }
  | { kind: "recipient"; input: EffectInput }
  | { kind: "ref"; provider: string; providerMessageId: string; mapping: RefMapping }
  | { kind: "webhook"; account: string; events: WebhookEvent[] }
  | { kind: "pool"; account: string; pool: string; sourceAddress?: string; feedback: "bounced" | "complained"; eventId: string };

/**
 * One outbox row's effects, in order, folded where one call does for several: the row's counts
 * go to the counter shard in one call (exactly once by the row's `seq`, the same each time the row
 * is retried), and its events to the event stream in one queue message. `message` is the
 * MessageDO's own row, read when the effects run.
 */
export async function performEffects(
  env: Env,
  effects: MessageEffect[],
  message: { id: string; channel: Channel } | undefined,
  seq: number,
): Promise<void> {
  const counts = effects.filter((e) => e.kind === "count");
  const webhooks = effects.filter((e) => e.kind === "webhook");
  for (const effect of effects) {
    switch (effect.kind) {
      case "enqueue":
        // One queue per channel family: email's and SMS's schedules and limits differ from push's.
        await queueFor(env, message?.channel).send(effect.job);
        break;
      case "ref":
        await refStub(env, effect.mapping.account, effect.provider, effect.providerMessageId).map(effect.mapping);
        break;
      case "count":
        // All of the row's counts at the first one's place.
        if (effect === counts[0]) await countAll(env, counts, message, seq);
        break;
      case "recipient":
        await recipientStub(env, effect.input.account, effect.input.channel, effect.input.recipientKey).applyEffect(effect.input);
        break;
      case "pool":
        // Feedback that came back later, counted against the pool and address the message left from.
        await poolStub(env, effect.account, effect.pool).feedback(effect.eventId, effect.sourceAddress, effect.feedback);
        break;
      case "webhook":
        if (effect === webhooks[0])
          await emitEvents(
            env,
            effect.account,
            webhooks.flatMap((w) => w.events),
          );
        break;
    }
  }
}

type CountEffect = Extract<MessageEffect, { kind: "count" }>;

/** A row's counts in one call to the message's counter shard, with the newest index row among them. */
async function countAll(env: Env, counts: CountEffect[], message: { id: string } | undefined, seq: number): Promise<void> {
  const first = counts[0]!;
  const row = counts.findLast((c) => c.row)?.row;
  await counterStub(env, first.account, message?.id ?? first.account).countMany(
    counts.map(({ channel, outcome, at, route }) => ({ channel, outcome, at, ...(route !== undefined ? { route } : {}) })),
    { ...(row ? { row } : {}), ...(message ? { once: { subject: message.id, seq } } : {}) },
  );
}

function queueFor(env: Env, channel: Channel | undefined): Queue {
  if (channel === "email") return env.SEND_EMAIL;
  if (channel === "sms") return env.SEND_SMS;
  return env.SEND_PUSH;
}
