// An account's counters as /v1/stats adds them up: every shard, every hour, summed by outcome.
// Tests compare counters as a run's change (after minus before), so runs may share an account.
import { env } from "cloudflare:test";
import { mergeBuckets } from "../../src/state/account.ts";
import { counterStubs } from "../../src/state/stubs.ts";

export type Counts = Record<string, number>;

/** The account's counters, summed over its shards and hours. */
export async function counters(account: string): Promise<Counts> {
  const buckets = mergeBuckets(
    await Promise.all(counterStubs(env, account).map((s) => s.stats("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"))),
  );
  const sum: Counts = {};
  for (const b of buckets) for (const [k, n] of Object.entries(b.counts)) sum[k] = (sum[k] ?? 0) + n;
  return sum;
}

/** What changed between two readings of `counters` (outcomes that did not move are left out). */
export function minus(after: Counts, before: Counts): Counts {
  return Object.fromEntries(Object.entries(after).flatMap(([k, n]) => (n - (before[k] ?? 0) ? [[k, n - (before[k] ?? 0)]] : [])));
}
