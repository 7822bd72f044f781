import { app } from "./api/app.ts";
import { ingestFeedbackEmail } from "./api/feedback-email.ts";
import { consumeDeadEvents, consumeEvents, type EventsQueueBody } from "./queues/events.ts";
import { POLL_CRON } from "./core/poll/schedule.ts";
import { pollAll } from "./queues/poll.ts";
import { consumeDeadSends, consumeSends } from "./queues/send.ts";
import { consumeWebhooks } from "./queues/webhooks.ts";
import type { WebhooksQueueBody } from "./state/emit.ts";
import { meterBatch, meterOn, metered, tally } from "./state/meter.ts";
import { retainAll } from "./state/retention-run.ts";
import type { QueuedSend } from "./state/types.ts";

export { BridgeContainer } from "./containers/bridge.ts";
export { AccountDO } from "./state/account.ts";
export { ConfigDO } from "./state/config.ts";
export { DirectoryDO } from "./state/directory.ts";
export { EndpointDO } from "./state/endpoint.ts";
export { CircuitDO } from "./state/circuit.ts";
export { PoolDO } from "./state/pool.ts";
export { LimiterDO } from "./state/limiter.ts";
export { ReplayDO } from "./state/replay.ts";
export { MessageDO } from "./state/message.ts";
export { RecipientDO } from "./state/recipient.ts";
export { RefDO } from "./state/ref.ts";
export { TokenDO } from "./state/token.ts";
export { TlsDomainDO } from "./state/tls-domain.ts";
export { TemplateDO } from "./state/template.ts";

export default {
  fetch(request, env, ctx) {
    if (meterOn(env)) tally("worker.fetch");
    return app.fetch(request, metered(env), ctx);
  },

  /**
   * Cloudflare Email Routing delivers the bounce domain's mail here. Mail for an address
   * that is not at a bounce domain is rejected; everything else is parsed and applied.
   */
  async email(message, rawEnv) {
    if (meterOn(rawEnv)) tally("worker.email");
    const env = metered(rawEnv);
    const raw = new Uint8Array(await new Response(message.raw).arrayBuffer());
    const result = await ingestFeedbackEmail(env, raw, message.to);
    if (result.outcome === "not_ours") message.setReject("550 5.1.1 not a bounce address of this deployment");
  },

  /**
   * Every 5 minutes: the status poll (queues/poll.ts, providers asked about messages stuck in
   * `accepted`). Hourly: retention (each account's index shards expire old messages and bodies
   * in bounded batches). The cron says which.
   */
  async scheduled(controller, env) {
    if (meterOn(env)) tally("worker.scheduled");
    if (controller.cron === POLL_CRON) {
      const summary = await pollAll(metered(env), controller.scheduledTime);
      if (summary.polled) console.log(JSON.stringify({ msg: "status poll", ...summary }));
      return;
    }
    await retainAll(metered(env));
  },

  /** One Worker consumes every queue; the queue's name says which job it is. */
  async queue(batch, rawEnv) {
    meterBatch(rawEnv, batch);
    const env = metered(rawEnv);
    const name = batch.queue;
    if (/send-(push|email|sms)-dlq$/.test(name)) return consumeDeadSends(batch as MessageBatch<QueuedSend>, env);
    if (/send-(push|email|sms)$/.test(name)) return consumeSends(batch as MessageBatch<QueuedSend>, env);
    if (name.endsWith("events-dlq")) return consumeDeadEvents(batch as MessageBatch<EventsQueueBody>, env);
    if (name.endsWith("events")) return consumeEvents(batch as MessageBatch<EventsQueueBody>, env);
    if (name.endsWith("webhooks")) return consumeWebhooks(batch as MessageBatch<WebhooksQueueBody>, env);
    console.error(JSON.stringify({ msg: "no consumer for queue", queue: name }));
    batch.retryAll();
  },
} satisfies ExportedHandler<Env>;
