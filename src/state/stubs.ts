/**
 * Durable Object names. Every name starts with the account, so one account can never
 * address another's messages or suppressions.
 */
import type { Channel } from "../core/model.ts";

type Bindings = Pick<Env, "MESSAGE" | "RECIPIENT" | "ACCOUNT">;

export function messageStub(env: Bindings, account: string, messageId: string) {
  return env.MESSAGE.get(env.MESSAGE.idFromName(`${account}:${messageId}`));
}

export function recipientStub(env: Bindings, account: string, channel: Channel, key: string) {
  return env.RECIPIENT.get(env.RECIPIENT.idFromName(`${account}:${channel}:${key}`));
}

export function accountStub(env: Bindings, account: string) {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName(account));
}

/** A provider's message id (an SMSC's, per bridge route) → ours; events that come first wait here. */
export function refStub(env: Pick<Env, "REFS">, account: string, provider: string, providerMessageId: string) {
  return env.REFS.get(env.REFS.idFromName(`${account}:${provider}:${providerMessageId}`));
}
