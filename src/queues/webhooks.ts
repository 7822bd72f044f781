import { retryDelaySeconds } from "../core/retry.ts";
import { endpointWants, type EndpointFilter, type WebhookEvent } from "../core/webhook-events.ts";
import type { WebhooksQueueBody } from "../state/emit.ts";
import { configStub, endpointStub } from "../state/stubs.ts";

/**
 * The event stream's fan-out: each account's events of the batch go to every enabled endpoint
 * that takes them, one EndpointDO call per endpoint per batch. The endpoint only stores them
 * (delivery is its alarm's work), so a slow or dead customer server never holds this consumer.
 * The endpoints are read from the ConfigDO once per account per batch, not from a cache, so an
 * endpoint gets every event emitted after its creation. A failed account is retried whole: an
 * endpoint that stored its events already ignores them the second time (by event id).
 */
export async function consumeWebhooks(batch: MessageBatch<WebhooksQueueBody>, env: Env): Promise<void> {
  const byAccount = new Map<string, Array<Message<WebhooksQueueBody>>>();
  for (const m of batch.messages) byAccount.set(m.body.account, [...(byAccount.get(m.body.account) ?? []), m]);
  await Promise.all(
    [...byAccount].map(async ([account, messages]) => {
      try {
        await fanOut(
          env,
          account,
          messages.flatMap((m) => m.body.events),
        );
        for (const m of messages) m.ack();
      } catch (err) {
        console.error(JSON.stringify({ msg: "webhook fan-out failed", account, error: String(err) }));
        for (const m of messages) m.retry({ delaySeconds: retryDelaySeconds(m.attempts, Number(env.RETRY_BASE_SECONDS ?? 30)) });
      }
    }),
  );
}

/** Hands events to the account's endpoints that take them; answers how many deliveries were stored. */
export async function fanOut(env: Env, account: string, events: WebhookEvent[]): Promise<number> {
  const endpoints = (await configStub(env, account).endpointFilters(account)) as Array<EndpointFilter & { id: string; enabled: boolean }>;
  const stored = await Promise.all(
    endpoints
      .filter((e) => e.enabled)
      .map((endpoint) => {
        const wanted = events.filter((event) => endpointWants(endpoint, event));
        return wanted.length > 0 ? endpointStub(env, account, endpoint.id).enqueue(account, endpoint.id, wanted) : 0;
      }),
  );
  return stored.reduce((a, b) => a + b, 0);
}
