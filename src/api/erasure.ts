/**
 * A recipient's erasure (`DELETE /v1/recipients/{channel}/{recipient}`): their messages go
 * whole (row, timeline, body, index row, tags), with the event-stream deliveries that named
 * them, what the provider-id objects kept of them, and an SMS number's MO messages. The
 * suppression stays, under the hash alone, so the person is never sent to again, and the
 * erasure is audited by that hash.
 *
 * Order makes it safe to repeat: messages are purged before their index rows go, so a crash
 * (or a recipient with more messages than one request erases) is finished by calling again.
 */
import type { ErasureResult } from "../core/api-responses.ts";
import type { Channel } from "../core/model.ts";
import { erasedRecipient } from "../core/retention.ts";
import { accountStub, configStub, counterStubs, endpointStub, messageStub, recipientStub, refStub } from "../state/stubs.ts";

/** Messages one request erases; past it the answer says `done: false` and a repeat goes on. */
export const ERASE_LIMIT = 500;
const PAGE = 100;

export async function eraseRecipient(
  env: Env,
  account: string,
  actor: string,
  channel: Channel,
  key: string,
  recipient: string,
): Promise<ErasureResult> {
  const index = accountStub(env, account);
  // An SMS number's opt-outs are kept per pair (`+number:sender`): each pair is the number's too.
  const keys = channel === "sms" && !key.includes(":") ? [key, ...(await index.suppressionKeysLike("sms", `${key}:`))] : [key];
  const needles = [...new Set([recipient, key].map((v) => JSON.stringify(v).slice(1, -1)))];
  const endpoints = (await configStub(env, account).listEndpoints(account)).map((e) => endpointStub(env, account, e.id));

  let messages = 0;
  let done = true;
  for (const shard of counterStubs(env, account)) {
    for (;;) {
      if (messages >= ERASE_LIMIT) {
        done = false;
        break;
      }
      const page = await shard.messagesOf(keys, Math.min(PAGE, ERASE_LIMIT - messages));
      if (page.length === 0) break;
      const ids = page.map((m) => m.id);
      await Promise.all(page.map((m) => messageStub(env, account, m.id).purge()));
      await Promise.all([
        ...endpoints.map((endpoint) => endpoint.erase(ids, needles)),
        ...page
          .filter((m) => m.provider && m.providerMessageId)
          .map((m) => refStub(env, account, m.provider!, m.providerMessageId!).erase([m.id], keys, needles)),
      ]);
      await shard.unindex(ids);
      messages += page.length;
    }
    if (!done) break;
  }
  // Deliveries of events that named no message (recipient.suppressed, sms.inbound).
  await Promise.all(endpoints.map((endpoint) => endpoint.erase([], needles)));

  const inbound = channel === "sms" ? await index.eraseInbound(key) : 0;
  const hashes: Record<string, string> = {};
  for (const k of keys) hashes[k] = await erasedRecipient(k);
  const kept = await Promise.all(keys.map((k) => recipientStub(env, account, channel, k).erase(hashes[k]!)));
  await index.anonymizeSuppressions(channel, hashes);
  await configStub(env, account).auditErasure(account, actor, hashes[key]!, { channel, messages, inbound, done });
  return { done, messages, inbound, suppressions: kept.filter(Boolean).length };
}
