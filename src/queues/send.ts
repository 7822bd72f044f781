import { send } from "../channels/index.ts";
import { retryDelaySeconds } from "../core/retry.ts";
import { messageStub } from "../state/stubs.ts";
import type { AttemptStart, SendJob } from "../state/types.ts";

function retryBase(env: Env): number {
  return Number(env.RETRY_BASE_SECONDS ?? 30);
}

/**
 * The send consumer: one attempt per job. Transient outcomes go back to the queue with
 * backoff (or the next hop's Retry-After); after the last attempt the queue moves the job
 * to the dead-letter queue, whose consumer marks the message `failed`.
 */
export async function consumeSends(batch: MessageBatch<SendJob>, env: Env): Promise<void> {
  await Promise.all(batch.messages.map((message) => attempt(message, env)));
}

async function attempt(message: Message<SendJob>, env: Env): Promise<void> {
  const { account, messageId } = message.body;
  const stub = messageStub(env, account, messageId);
  try {
    // RPC typing turns `unknown` fields (metadata, payloads) into never: the shape is ours.
    const start = (await stub.beginAttempt()) as unknown as AttemptStart;
    if (start.action === "skip") return message.ack();
    const outcome = await send(start.request, env);
    const occurredAt = new Date().toISOString();
    if (outcome.kind === "retry") {
      const delaySeconds = retryDelaySeconds(message.attempts, retryBase(env), outcome.retryAfter);
      await stub.apply({
        id: `${messageId}:deferred:${start.attempt}`,
        type: "deferred",
        occurredAt,
        provider: start.request.channel,
        detail: { ...outcome.detail, attempt: start.attempt, retryInSeconds: delaySeconds },
      });
      return message.retry({ delaySeconds });
    }
    await stub.apply({
      id: `${messageId}:${outcome.kind}`,
      type: outcome.kind,
      occurredAt,
      provider: start.request.channel,
      detail: { ...outcome.detail, attempt: start.attempt },
    });
    message.ack();
  } catch (err) {
    console.error(JSON.stringify({ msg: "send attempt crashed", messageId, error: String(err) }));
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts, retryBase(env)) });
  }
}

/** Jobs that used every attempt: the message ends `failed` with the last error. */
export async function consumeDeadSends(batch: MessageBatch<SendJob>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      await messageStub(env, message.body.account, message.body.messageId).deadLetter();
      message.ack();
    }),
  );
}
