import type { SmtpBatch } from "../core/bridge.ts";
import { domainOf } from "../core/email.ts";
import { lookup } from "../core/doh.ts";
import { destinationFor, mxHost, needsMx, paced, poolFor, type DeliverySection, type RelayPacing } from "../core/ip-pools.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { PoolConfig, Settled } from "./pool.ts";
import { poolStub } from "./stubs.ts";

type SmtpItem = SmtpBatch["items"][number];

const MX_CACHE_MS = 600_000;
const MX_FAILURE_CACHE_MS = 30_000;
const MX_CACHE_MAX = 10_000;
const mxCache = new Map<string, { hosts: string[]; until: number }>();

/**
 * A domain's MX hosts for destinations matched by MX (`*.google.com`), over DNS-over-HTTPS,
 * cached per isolate (10 min; a failed lookup 30 s, and it counts as no MX: the mail goes
 * unthrottled rather than held on a resolver's outage).
 */
async function mxHostsOf(resolver: string | undefined, domain: string, now = Date.now()): Promise<string[]> {
  const hit = mxCache.get(domain);
  if (hit && hit.until > now) return hit.hosts;
  if (!resolver) return [];
  const answer = await lookup(resolver, domain, "MX", 2_000);
  const hosts = answer.kind === "answer" ? answer.values.map(mxHost).filter((h): h is string => h !== null) : [];
  if (mxCache.size >= MX_CACHE_MAX) mxCache.delete(mxCache.keys().next().value!);
  mxCache.set(domain, { hosts, until: now + (answer.kind === "error" ? MX_FAILURE_CACHE_MS : MX_CACHE_MS) });
  return hosts;
}

/** What the pool object needs of the section, for one pool. */
export function poolConfig(account: string, section: DeliverySection, pool: string): PoolConfig {
  const defined = section.pools.find((p) => p.name === pool);
  return {
    account,
    pool,
    addresses: defined?.addresses ?? [],
    overflow: defined?.overflow ?? false,
    destinations: Object.fromEntries(section.destinations.map((d) => [d.name, { perMinute: d.perMinute, concurrency: d.concurrency }])),
    reputation: section.reputation,
  };
}

/**
 * The send consumer's pacing of relay mail (`RelayPacing`): per account and pool, one
 * `PoolDO.admit` before the bridge call and one `report` after it. The admitted go out bound to
 * the address the pool chose; the rest are deferred (`retry` with the pool's `retryAfter`,
 * nothing submitted), never failed. Accounts without a `delivery` section pass straight
 * through with no request. A pool object that cannot be reached defers its mail: sending over a
 * warm-up cap or a receiver's limit costs reputation that a short wait does not.
 */
export function poolPacing(env: Pick<Env, "POOLS" | "DOH_URL">): RelayPacing {
  return async (items, send) => {
    const outcomes: SendOutcome[] = new Array(items.length);
    const mx = new Map<string, string[]>();
    const wanted = new Set<string>();
    for (const { item, delivery } of items) {
      const domain = domainOf(item.rcptTo);
      if (paced(delivery) && needsMx(delivery, domain)) wanted.add(domain);
    }
    await Promise.all([...wanted].map(async (domain) => mx.set(domain, await mxHostsOf(env.DOH_URL, domain))));
    const groups = new Map<string, { config: PoolConfig; indexes: number[]; destinations: Array<string | undefined> }>();
    const toSend: Array<{ index: number; item: SmtpItem; group?: string; destination?: string | undefined }> = [];
    items.forEach(({ item, tags, delivery }, index) => {
      if (!paced(delivery)) {
        toSend.push({ index, item });
        return;
      }
      const domain = domainOf(item.rcptTo);
      const pool = poolFor(delivery, { tags, domain });
      const key = `${item.account}\u0000${pool}`;
      const group = groups.get(key) ?? { config: poolConfig(item.account, delivery, pool), indexes: [], destinations: [] };
      groups.set(key, group);
      group.indexes.push(index);
      group.destinations.push(destinationFor(delivery, domain, mx.get(domain))?.name);
    });
    const leases = new Map<string, string>();
    await Promise.all(
      [...groups].map(async ([key, group]) => {
        const { config, indexes, destinations } = group;
        try {
          const { lease, admissions } = await poolStub(env, config.account, config.pool).admit(
            config,
            destinations.map((destination) => ({ destination })),
          );
          leases.set(key, lease);
          admissions.forEach((admission, k) => {
            const index = indexes[k]!;
            const destination = destinations[k];
            if (admission.go) {
              const item = {
                ...items[index]!.item,
                ...(admission.sourceAddress ? { sourceAddress: admission.sourceAddress } : {}),
                ...(admission.holdMs ? { holdMs: admission.holdMs } : {}),
              };
              toSend.push({ index, item, group: key, destination });
            } else
              outcomes[index] = {
                kind: "retry",
                retryAfter: admission.retryAfter,
                detail: {
                  reason: admission.reason,
                  submitted: "no",
                  limit: admission.limit,
                  pool: config.pool,
                  ...(destination ? { destination } : {}),
                },
              };
          });
        } catch (err) {
          console.error(
            JSON.stringify({
              msg: "the pool object could not be reached; deferring its mail",
              account: config.account,
              pool: config.pool,
              error: String(err),
            }),
          );
          for (const index of indexes)
            outcomes[index] = {
              kind: "retry",
              detail: { reason: "pool_unavailable", submitted: "no", pool: config.pool, error: String(err) },
            };
        }
      }),
    );
    if (toSend.length > 0) {
      const sent = await send(toSend.map((s) => s.item));
      toSend.forEach((s, k) => {
        const outcome = sent[k]!;
        const group = s.group ? groups.get(s.group) : undefined;
        // The pool travels with the outcome: the message's feedback is counted against it later.
        outcomes[s.index] = group ? ({ ...outcome, detail: { ...outcome.detail, pool: group.config.pool } } as SendOutcome) : outcome;
      });
    }
    await Promise.all(
      [...groups].map(async ([key, group]) => {
        const lease = leases.get(key);
        if (!lease) return;
        const settled: Settled[] = [];
        for (const s of toSend) {
          if (s.group !== key) continue;
          const outcome = outcomes[s.index]!;
          settled.push({
            destination: s.destination,
            sourceAddress: s.item.sourceAddress,
            kind: outcome.kind,
            ...(outcome.detail.throttled === true ? { throttled: true } : {}),
          });
        }
        try {
          await poolStub(env, group.config.account, group.config.pool).report(group.config, lease, settled);
        } catch (err) {
          // The lease lapses by itself (LEASE_MS); the counters miss this batch.
          console.error(JSON.stringify({ msg: "reporting to the pool object failed", account: group.config.account, error: String(err) }));
        }
      }),
    );
    return outcomes;
  };
}
