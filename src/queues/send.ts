import { sendAll } from "../channels/index.ts";
import type { SendOutcome } from "../core/outcome.ts";
import { emailRetryDelaySeconds, outlivesMaxAge, retryDelaySeconds } from "../core/retry.ts";
import type { AccountRuntime } from "../core/config/runtime.ts";
import { routesOf } from "../core/email-routes.ts";
import { CircuitGate } from "../state/circuit-gate.ts";
import { poolPacing } from "../state/pool-gate.ts";
import { accountRuntime } from "../state/config-read.ts";
import { messageStub } from "../state/stubs.ts";
import type { AttemptStart, QueuedSend } from "../state/types.ts";

function retryBase(env: Env): number {
  return Number(env.RETRY_BASE_SECONDS ?? 30);
}

type Started = { message: Message<QueuedSend>; start: Extract<AttemptStart, { action: "send" }> };

/**
 * The send consumer, in three steps over the whole batch: begin each attempt in its
 * MessageDO (skipping what is done or suppressed), send everything (APNs jobs grouped into
 * one bridge request), then record each outcome. Transient outcomes go back to the queue
 * with backoff (or the next hop's Retry-After); after the last attempt the queue moves the
 * job to the dead-letter queue, whose consumer marks the message `failed`.
 */
export async function consumeSends(batch: MessageBatch<QueuedSend>, env: Env): Promise<void> {
  const started = (await Promise.all(batch.messages.map((message) => begin(message, env)))).filter((s): s is Started => s !== null);
  if (started.length === 0) return;
  let outcomes: SendOutcome[];
  try {
    // Each account's configuration once per batch (and cached per isolate across batches).
    const configs = new Map<string, Promise<AccountRuntime>>();
    for (const { message } of started) {
      if (!configs.has(message.body.account)) configs.set(message.body.account, accountRuntime(env, message.body.account));
    }
    const jobs = await Promise.all(
      started.map(async ({ message, start }) => ({
        id: message.body.messageId,
        account: message.body.account,
        createdAt: start.createdAt,
        request: start.request,
        ...(start.route ? { route: start.route } : {}),
        config: await configs.get(message.body.account)!,
      })),
    );
    const [email, sms] = await Promise.all([
      CircuitGate.open(env, "email", routeNames(jobs, "email")),
      CircuitGate.open(env, "sms", routeNames(jobs, "sms")),
    ]);
    outcomes = await sendAll(jobs, env, { email, sms, pacing: poolPacing(env) });
    await Promise.all([email.report(), sms.report()]);
  } catch (err) {
    outcomes = started.map(() => ({ kind: "retry", detail: { reason: "send_crashed", error: String(err) } }));
  }
  await Promise.all(started.map((s, i) => settle(s, outcomes[i], env)));
}

/**
 * Per account with jobs of this channel in the batch, its route names, when it has more than
 * one: with a single route there is nowhere to fail over to, and no circuit is read or kept.
 */
function routeNames(
  jobs: ReadonlyArray<{ account: string; request: { channel: string }; config: AccountRuntime }>,
  channel: "email" | "sms",
) {
  const names = new Map<string, string[]>();
  for (const job of jobs) {
    if (job.request.channel !== channel || names.has(job.account)) continue;
    const { email, sms } = job.config.sections;
    const routes = channel === "email" ? (email ? routesOf(email) : []) : (sms?.routes ?? []);
    if (routes.length > 1)
      names.set(
        job.account,
        routes.map((r) => r.name),
      );
  }
  return names;
}

async function begin(message: Message<QueuedSend>, env: Env): Promise<Started | null> {
  try {
    // RPC typing turns `unknown` fields (metadata, payloads) into never: the shape is ours.
    const start = (await messageStub(env, message.body.account, message.body.messageId).beginAttempt()) as unknown as AttemptStart;
    if (start.action === "skip") {
      message.ack();
      return null;
    }
    return { message, start };
  } catch (err) {
    console.error(JSON.stringify({ msg: "beginning a send attempt failed", messageId: message.body.messageId, error: String(err) }));
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts, retryBase(env)) });
    return null;
  }
}

async function settle({ message, start }: Started, outcome: SendOutcome, env: Env): Promise<void> {
  const { messageId, account } = message.body;
  const stub = messageStub(env, account, messageId);
  const occurredAt = new Date().toISOString();
  try {
    if (outcome.kind === "retry") {
      const delaySeconds = nextDelay(start, message.attempts, outcome.retryAfter, env);
      if (delaySeconds === null) {
        // Email that would outlive its maximum age ends `expired`, with the last reply.
        await stub.apply({
          id: `${messageId}:expired`,
          type: "expired",
          occurredAt,
          provider: start.request.channel,
          detail: { reason: "max_age_exceeded", attempts: start.attempt, lastError: outcome.detail },
        });
        return message.ack();
      }
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
    console.error(JSON.stringify({ msg: "recording a send outcome failed", messageId, error: String(err) }));
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts, retryBase(env)) });
  }
}

/**
 * When to try again: email on Postal's schedule until EMAIL_MAX_AGE_SECONDS (null: give up
 * as expired), push with backoff until the queue's max_retries moves it to the DLQ.
 */
function nextDelay(start: Started["start"], attempts: number, retryAfter: number | undefined, env: Env): number | null {
  if (start.request.channel !== "email") return retryDelaySeconds(attempts, retryBase(env), retryAfter);
  const delay = retryAfter ?? emailRetryDelaySeconds(attempts, Number(env.EMAIL_RETRY_BASE_SECONDS ?? 300));
  return outlivesMaxAge(start.createdAt, delay, Number(env.EMAIL_MAX_AGE_SECONDS ?? 172_800)) ? null : delay;
}

/** Jobs that used every attempt: the message ends `failed` with the last error. */
export async function consumeDeadSends(batch: MessageBatch<QueuedSend>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      await messageStub(env, message.body.account, message.body.messageId).deadLetter();
      message.ack();
    }),
  );
}
