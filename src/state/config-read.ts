/**
 * The isolate's view of the configuration store: every lookup is cached for CONFIG_CACHE_MS
 * (so a change, a revoked key or a disabled account is honoured within that, well under 10 s).
 * This is what keeps configuration off the hot path: a busy isolate asks each object about
 * once per key per window. Values are cached, never in-flight promises: workerd ties a
 * promise to the request that made it, and another request awaiting it can hang.
 */
import type { KeyGrant } from "../core/config/keys.ts";
import { CONFIG_CACHE_MS, type AccountRuntime } from "../core/config/runtime.ts";
import { seededKeyAccount } from "../core/config/seed.ts";
import type { ClaimKind } from "./directory.ts";
import { configStub, directoryStub, keyIndexStub } from "./stubs.ts";

type Entry<T> = { value: T; until: number };

function cache<T>() {
  const entries = new Map<string, Entry<T>>();
  // A drop while a load is in flight: that load's answer may predate the change, so it is not kept.
  let generation = 0;
  return {
    async get(key: string, load: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit && hit.until > Date.now()) return hit.value;
      const started = generation;
      const value = await load();
      if (started === generation) {
        entries.delete(key);
        entries.set(key, { value, until: Date.now() + CONFIG_CACHE_MS });
        if (entries.size > 10_000) entries.delete(entries.keys().next().value!);
      }
      return value;
    },
    drop(prefix: string) {
      generation += 1;
      for (const key of entries.keys()) if (key.startsWith(prefix)) entries.delete(key);
    },
  };
}

const runtimes = cache<AccountRuntime>();
const grants = cache<KeyGrant | "disabled" | null>();
const claims = cache<string[]>();

type Bindings = Pick<Env, "CONFIG" | "DIRECTORY" | "API_KEYS" | "EMAIL_CONFIG" | "SMS_CONFIG">;

/** The account's configuration, secrets opened (never leaves the Worker). */
export function accountRuntime(env: Bindings, account: string): Promise<AccountRuntime> {
  return runtimes.get(account, () => configStub(env, account).runtime(account) as Promise<AccountRuntime>);
}

/** What a key (by its SHA-256) may do: its grant, `disabled` when its account is, or null. */
export function keyGrant(env: Bindings, hash: string): Promise<KeyGrant | "disabled" | null> {
  return grants.get(hash, async () => {
    const account = (await keyIndexStub(env, hash).keyAccount(hash)) ?? seededKeyAccount(env, hash);
    if (!account) return null;
    const grant = await configStub(env, account).grant(account, hash);
    if (grant === null) return null;
    if ("disabled" in grant) return "disabled";
    return { account, ...grant };
  });
}

/** The accounts claiming a bounce domain, an SMS sender or an SMPP bridge route. */
export function claimants(env: Bindings, kind: ClaimKind, value: string): Promise<string[]> {
  return claims.get(`${kind}\n${value}`, () => directoryStub(env).claimants(kind, value));
}

/** After a write in this isolate, its own next read sees the change at once. */
export function forgetAccount(account: string): void {
  runtimes.drop(account);
}

export function forgetKey(hash: string): void {
  grants.drop(hash);
}

export function forgetGrants(): void {
  grants.drop("");
}

export function forgetClaims(): void {
  claims.drop("");
}
