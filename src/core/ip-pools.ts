/**
 * The account's `delivery` section: named pools of source addresses for its relay mail, the
 * warm-up schedule of each address, the per-destination throttles, and the reputation
 * thresholds that raise `pool.reputation_alert`. Pure: which pool a message takes and which
 * destination a recipient domain belongs to. The state (throttles, daily counts, counters)
 * lives in the pool's Durable Object (src/state/pool.ts).
 */
import { DEFAULT_STATUS_POLL, statusPollSettings } from "./poll/schedule.ts";
import { z } from "zod";
import type { SmtpBatch } from "./bridge.ts";
import type { SendOutcome } from "./outcome.ts";
import { warmupSchedule } from "./warmup.ts";

/** Mail that names no pool and matches no rule goes out from the bridge's own address. */
export const DEFAULT_POOL = "default";

const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, _ and -");

/** `example.com` is that domain only; `*.example.com` is every name under it (not the domain itself). */
const domainPattern = z
  .string()
  .max(253)
  .transform((d) => d.toLowerCase())
  .pipe(z.string().regex(/^(\*\.)?([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/, "a domain, or *. and a domain"));

export const sourceAddress = z.strictObject({
  /** An address the bridge can bind outbound SMTP to (a loopback 127.0.0.x in tests). */
  ip: z.union([z.ipv4(), z.ipv6()]),
  /** Absent: the address is warm (no daily cap). */
  warmup: z
    .strictObject({
      /** The schedule's day 1 (UTC); each later UTC day takes the next cap. */
      startedOn: z.iso.date(),
      /** Daily caps, day 1 first; the address is warm after the last. Default: `DEFAULT_WARMUP`. */
      schedule: warmupSchedule.optional(),
    })
    .optional(),
});

export const ipPool = z.strictObject({
  name,
  addresses: z.array(sourceAddress).min(1).max(64),
  /** Mail over a warming address's cap goes out from a warm address of the pool instead of waiting. */
  overflow: z.boolean().default(false),
});

export const destination = z
  .strictObject({
    name,
    /** Recipient domains that share the receiver's limits (gmail.com, googlemail.com). */
    domains: z.array(domainPattern).max(200).default([]),
    /**
     * MX hosts that make a domain this receiver's (`*.google.com` takes every Google Workspace
     * domain): asked over DNS (DOH_URL) for a domain no `domains` entry names, cached per isolate.
     */
    mx: z.array(domainPattern).max(50).default([]),
    /** Messages per minute, per pool: receivers throttle by source address. */
    perMinute: z.number().int().min(1).max(1_000_000),
    /** Messages in flight to this destination at once, across every bridge. */
    concurrency: z.number().int().min(1).max(10_000).optional(),
  })
  .refine((d) => d.domains.length + d.mx.length > 0, "a destination names recipient domains, MX hosts, or both");
export type Destination = z.infer<typeof destination>;

export const poolRule = z
  .strictObject({ tag: z.string().min(1).max(128).optional(), domain: domainPattern.optional(), pool: name })
  .refine((rule) => rule.tag !== undefined || rule.domain !== undefined, "a rule names a tag, a recipient domain, or both");

export const reputationThresholds = z.strictObject({
  /** Bounced / sent over a UTC day, per pool, above which `pool.reputation_alert` is raised. */
  bounceRate: z.number().min(0).max(1).default(0.05),
  complaintRate: z.number().min(0).max(1).default(0.001),
  /** Below this many sent in the day, rates say too little to alert on. */
  minSent: z.number().int().min(1).default(500),
});

export const deliverySection = z
  .strictObject({
    pools: z.array(ipPool).max(32).default([]),
    /** The pool of mail no rule places; absent: the bridge's own address. */
    defaultPool: name.optional(),
    /** First match wins: a tag of the message, its recipient's domain, or both. */
    poolRules: z.array(poolRule).max(100).default([]),
    destinations: z.array(destination).max(100).default([]),
    reputation: reputationThresholds.default({ bounceRate: 0.05, complaintRate: 0.001, minSent: 500 }),
    /** Asking providers with a status API about messages still `accepted` (core/poll/schedule.ts). */
    statusPoll: statusPollSettings.default(DEFAULT_STATUS_POLL),
  })
  .superRefine((section, ctx) => {
    const pools = new Set<string>();
    const addresses = new Set<string>();
    section.pools.forEach((pool, i) => {
      if (pool.name === DEFAULT_POOL)
        ctx.addIssue({ code: "custom", path: ["pools", i, "name"], message: `"${DEFAULT_POOL}" is the bridge's own address` });
      if (pools.has(pool.name)) ctx.addIssue({ code: "custom", path: ["pools", i, "name"], message: `pool ${pool.name} is named twice` });
      pools.add(pool.name);
      pool.addresses.forEach((address, j) => {
        // An address's daily count lives in its pool's object: in two pools it would be counted twice.
        if (addresses.has(address.ip))
          ctx.addIssue({ code: "custom", path: ["pools", i, "addresses", j, "ip"], message: `${address.ip} is in more than one pool` });
        addresses.add(address.ip);
      });
    });
    const known = (pool: string) => pool === DEFAULT_POOL || pools.has(pool);
    if (section.defaultPool !== undefined && !known(section.defaultPool))
      ctx.addIssue({ code: "custom", path: ["defaultPool"], message: `no pool ${section.defaultPool}` });
    section.poolRules.forEach((rule, i) => {
      if (!known(rule.pool)) ctx.addIssue({ code: "custom", path: ["poolRules", i, "pool"], message: `no pool ${rule.pool}` });
    });
    const destinations = new Set<string>();
    section.destinations.forEach((d, i) => {
      if (destinations.has(d.name))
        ctx.addIssue({ code: "custom", path: ["destinations", i, "name"], message: `destination ${d.name} is named twice` });
      destinations.add(d.name);
    });
  });
export type DeliverySection = z.infer<typeof deliverySection>;
export type IpPool = z.infer<typeof ipPool>;

/** Whether a (lower-case) domain matches a pattern of `domainPattern`. */
export function domainMatches(pattern: string, domain: string): boolean {
  return pattern.startsWith("*.") ? domain.endsWith(pattern.slice(1)) && domain.length > pattern.length - 1 : domain === pattern;
}

/** The pool a message goes out from: the first rule it matches, else the default pool, else the bridge's own address. */
export function poolFor(section: DeliverySection, message: { tags?: readonly string[]; domain: string }): string {
  for (const rule of section.poolRules) {
    if (rule.tag !== undefined && !(message.tags ?? []).includes(rule.tag)) continue;
    if (rule.domain !== undefined && !domainMatches(rule.domain, message.domain)) continue;
    return rule.pool;
  }
  return section.defaultPool ?? DEFAULT_POOL;
}

/**
 * The throttled destination a recipient domain belongs to, if any: the first that lists the
 * domain, else (given the domain's MX hosts) the first whose MX patterns match one of them.
 */
export function destinationFor(section: DeliverySection, domain: string, mxHosts: readonly string[] = []): Destination | undefined {
  return (
    section.destinations.find((d) => d.domains.some((pattern) => domainMatches(pattern, domain))) ??
    section.destinations.find((d) => d.mx.some((pattern) => mxHosts.some((host) => domainMatches(pattern, host))))
  );
}

/** Whether the domain's MX hosts could decide its destination (no domain entry names it, and some destination has MX patterns). */
export function needsMx(section: DeliverySection, domain: string): boolean {
  return (
    section.destinations.some((d) => d.mx.length > 0) &&
    !section.destinations.some((d) => d.domains.some((pattern) => domainMatches(pattern, domain)))
  );
}

/** The host of an MX record's data as DNS JSON gives it ("10 aspmx.l.google.com."), lower-cased. */
export function mxHost(data: string): string | null {
  const host = data.trim().split(/\s+/)[1]?.replace(/\.$/, "").toLowerCase();
  return host ? host : null;
}

type SmtpItem = SmtpBatch["items"][number];

/** One relay message of a send round, with what its pool is chosen by. */
export type PacedItem = { item: SmtpItem; tags?: readonly string[] | undefined; delivery?: DeliverySection | undefined };

/**
 * What stands between a round's relay messages and the bridge (the send consumer's pool gate,
 * src/state/pool-gate.ts): `send` gets the messages it lets go, bound to their source address;
 * the answer has one outcome per item, in order, the held-back ones deferred.
 */
export type RelayPacing = (items: PacedItem[], send: (items: SmtpItem[]) => Promise<SendOutcome[]>) => Promise<SendOutcome[]>;

/** No pools, no throttles: everything goes as it is. */
export const unpaced: RelayPacing = (items, send) => send(items.map((p) => p.item));

/** Whether the section asks anything of the relay (an account without one never calls a pool object). */
export function paced(section: DeliverySection | undefined): section is DeliverySection {
  return section !== undefined && (section.pools.length > 0 || section.destinations.length > 0);
}
