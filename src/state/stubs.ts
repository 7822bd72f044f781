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

/**
 * Counters are spread over this many shards per account (the AccountDO class, named
 * `account:counters:N`), so an account sending millions of messages is not one hot object:
 * each message always counts in the same shard, and /v1/stats adds the shards up.
 */
export const COUNTER_SHARDS = 16;

export function counterShard(key: string): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % COUNTER_SHARDS;
}

export function counterStub(env: Bindings, account: string, key: string) {
  return env.ACCOUNT.get(env.ACCOUNT.idFromName(`${account}:counters:${counterShard(key)}`));
}

/** Every object that holds counters of an account: the account itself and its shards. */
export function counterStubs(env: Bindings, account: string) {
  return [
    accountStub(env, account),
    ...Array.from({ length: COUNTER_SHARDS }, (_, n) => env.ACCOUNT.get(env.ACCOUNT.idFromName(`${account}:counters:${n}`))),
  ];
}

/** An account's configuration: keys, sections, domains, audit (named by the account alone). */
export function configStub(env: Pick<Env, "CONFIG">, account: string) {
  return env.CONFIG.get(env.CONFIG.idFromName(account));
}

/** The platform directory: the account list and the claims of feedback that names no account. */
export function directoryStub(env: Pick<Env, "DIRECTORY">) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName("accounts"));
}

/** Key hash → account, in 16 shards by the hash's first hex digit. */
export function keyIndexStub(env: Pick<Env, "DIRECTORY">, hash: string) {
  return env.DIRECTORY.get(env.DIRECTORY.idFromName(`keys:${hash[0]}`));
}

/** One API key's rate budget. */
export function limiterStub(env: Pick<Env, "LIMITER">, account: string, keyId: string) {
  return env.LIMITER.get(env.LIMITER.idFromName(`${account}:limit:${keyId}`));
}

/** Signed deliveries seen (a Mailgun token), in REPLAY_SHARDS objects per account and provider. */
export const REPLAY_SHARDS = 16;

export function replayStub(env: Pick<Env, "REPLAYS">, account: string, provider: string, key: string) {
  return env.REPLAYS.get(env.REPLAYS.idFromName(`${account}:${provider}:${counterShard(key) % REPLAY_SHARDS}`));
}

/** One webhook endpoint's deliveries (its configuration is in the account's ConfigDO). */
export function endpointStub(env: Pick<Env, "WEBHOOK_ENDPOINTS">, account: string, endpointId: string) {
  return env.WEBHOOK_ENDPOINTS.get(env.WEBHOOK_ENDPOINTS.idFromName(`${account}:webhook:${endpointId}`));
}

/** One account's route circuits for one channel (email, sms). */
export function circuitStub(env: Pick<Env, "CIRCUITS">, account: string, channel: "email" | "sms") {
  return env.CIRCUITS.get(env.CIRCUITS.idFromName(`${account}:circuits:${channel}`));
}

/** One account's IP pool (`default`: the bridge's own address): warm-up counts, destination throttles, counters. */
export function poolStub(env: Pick<Env, "POOLS">, account: string, pool: string) {
  return env.POOLS.get(env.POOLS.idFromName(`${account}:pool:${pool}`));
}

/**
 * One policy domain's TLS-RPT tally and reports (and, with it, the domain's shared MTA-STS
 * policy): platform-wide, the one exception to names that start with an account. The reporting
 * organisation of RFC 8460 is the MTA operator, and what the object holds is counts, MX hosts and
 * IPs of the platform's sessions, never an account's data.
 */
export function tlsDomainStub(env: Pick<Env, "TLS_DOMAINS">, domain: string) {
  return env.TLS_DOMAINS.get(env.TLS_DOMAINS.idFromName(`platform:tls:${domain.toLowerCase()}`));
}

/** One account's email templates, every version. */
export function templateStub(env: Pick<Env, "TEMPLATES">, account: string) {
  return env.TEMPLATES.get(env.TEMPLATES.idFromName(`${account}:templates`));
}
