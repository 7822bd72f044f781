/**
 * Where direct (MX) mode delivers a recipient domain (RFC 5321 §5.1):
 *
 * - the MX hosts, lowest preference first (equal preferences in random order, so load spreads);
 * - no MX record (the name exists, NODATA): the domain itself, through its A/AAAA records
 *   (the "implicit MX");
 * - a null MX (`0 .`, RFC 7505): the domain accepts no mail → a permanent failure, no connection;
 * - NXDOMAIN → the domain does not exist → a permanent failure (`hostunknown`);
 * - anything else (SERVFAIL, timeout, refused) → `retry` with reason `dns`.
 *
 * The resolver is a small interface so tests (and a deployment with its own resolver) can
 * inject one; the default is node:dns/promises with a bounded timeout. Failures are thrown as
 * errors whose `code` is one of node:dns's codes (ENOTFOUND = NXDOMAIN, ENODATA = no record of
 * that type, ESERVFAIL, ETIMEOUT, …).
 */
import { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { domainToASCII } from "node:url";
import type { SendOutcome } from "../../../src/core/outcome.ts";
import { smtpOutcome } from "../../../src/core/smtp.ts";

export type MxRecord = { exchange: string; priority: number };

export type SmtpResolver = {
  /** MX records of a domain; throws with a node:dns `code` when there are none or DNS fails. */
  resolveMx(domain: string): Promise<MxRecord[]>;
  /** IPv4 and IPv6 addresses of a host (IPv4 first); throws with a node:dns `code` when there are none or DNS fails. */
  resolveAddresses(host: string): Promise<string[]>;
  /** TXT records of a name, each joined from its character strings (MTA-STS); without it, no MTA-STS. */
  resolveTxt?(name: string): Promise<string[]>;
};

/** Codes that say "this name has no such record" (as opposed to "DNS did not answer"). */
const PERMANENT = new Set(["ENOTFOUND", "ENODATA"]);

export function dnsCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** True when the error says the name or record does not exist (a final answer from DNS). */
export function isPermanentDnsError(error: unknown): boolean {
  const code = dnsCode(error);
  return code !== undefined && PERMANENT.has(code);
}

/**
 * node:dns/promises, bounded: each query times out after `timeoutMs` and is tried twice. `servers`
 * (SMTP_DNS_SERVERS) replaces the system's DNS servers for this resolver only; made once per bridge.
 */
export function systemResolver(timeoutMs: number, servers?: readonly string[]): SmtpResolver {
  const resolver = new Resolver({ timeout: Math.max(1, Math.floor(timeoutMs / 2)), tries: 2 });
  if (servers && servers.length > 0) resolver.setServers([...servers]);
  return {
    resolveMx: (domain) => resolver.resolveMx(domain),
    resolveTxt: async (name) => (await resolver.resolveTxt(name)).map((strings) => strings.join("")),
    async resolveAddresses(host) {
      const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
      const addresses = [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
      if (addresses.length > 0) return addresses;
      // Neither family: report the temporary failure if there was one, else the permanent one.
      const errors = [v4, v6].flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
      throw (
        errors.find((e) => !isPermanentDnsError(e)) ?? errors[0] ?? Object.assign(new Error(`no address for ${host}`), { code: "ENODATA" })
      );
    },
  };
}

export type Route =
  /** Hosts to try in order. `implicit`: no MX, the domain itself (its A/AAAA) is the one host. */
  | { kind: "hosts"; hosts: string[]; implicit: boolean }
  /** No delivery attempt: the outcome is already known (null MX, NXDOMAIN, DNS failure, bad address). */
  | { kind: "outcome"; outcome: SendOutcome };

/** More MX hosts than this are not tried for one message (each costs a connection attempt). */
export const MAX_MX_HOSTS = 5;

/** The domain of an address (after the last "@"), lower-cased A-label, without a trailing dot. */
export function recipientDomain(address: string): string | undefined {
  const at = address.lastIndexOf("@");
  if (at < 1 || at === address.length - 1) return undefined;
  const domain = address
    .slice(at + 1)
    .trim()
    .replace(/\.$/, "");
  if (/^\[[^\]]+\]$/.test(domain)) return domain; // address literal, user@[192.0.2.1]
  const ascii = domainToASCII(domain).toLowerCase();
  return ascii === "" ? undefined : ascii;
}

function shuffled<T>(items: T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Rejects with a timeout error (code ETIMEOUT) if `promise` has not settled within `ms`. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer within ${ms} ms`), { code: "ETIMEOUT" })), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** The synthetic reply for "the recipient's domain has no mail host" (RFC 3463 X.1.2). */
export function noHostOutcome(domain: string, why: string): SendOutcome {
  return smtpOutcome({ code: 550, enhancedCode: "5.1.2", text: `${domain}: ${why}` });
}

export function dnsRetry(domain: string, error: unknown): SendOutcome {
  const message = error instanceof Error ? error.message : String(error);
  return {
    kind: "retry",
    detail: { reason: "dns", error: `${domain}: ${message}`.slice(0, 512), ...(dnsCode(error) ? { dnsCode: dnsCode(error) } : {}) },
  };
}

/** MX resolution for one recipient domain. */
export async function routeDomain(domain: string, resolver: SmtpResolver, timeoutMs: number): Promise<Route> {
  const literal = /^\[(?:IPv6:)?([^\]]+)\]$/i.exec(domain)?.[1];
  if (literal !== undefined) {
    return isIP(literal)
      ? { kind: "hosts", hosts: [literal], implicit: true }
      : { kind: "outcome", outcome: smtpOutcome({ code: 553, enhancedCode: "5.1.3", text: `invalid address literal [${literal}]` }) };
  }
  let records: MxRecord[];
  try {
    records = await withDeadline(resolver.resolveMx(domain), timeoutMs, `MX lookup for ${domain}`);
  } catch (error) {
    const code = dnsCode(error);
    if (code === "ENOTFOUND") return { kind: "outcome", outcome: noHostOutcome(domain, "the domain does not exist (NXDOMAIN)") };
    if (code === "ENODATA") records = [];
    else return { kind: "outcome", outcome: dnsRetry(domain, error) };
  }
  // No MX: the domain itself is the mail host (RFC 5321 §5.1), through its A/AAAA records.
  if (records.length === 0) return { kind: "hosts", hosts: [domain], implicit: true };
  const isNull = (r: MxRecord) => r.exchange === "" || r.exchange === ".";
  const real = records.filter((r) => !isNull(r));
  if (real.length === 0) {
    // RFC 7505 §4.1: a null MX means the domain accepts no mail; fail at once with 556 5.1.10.
    return { kind: "outcome", outcome: smtpOutcome({ code: 556, enhancedCode: "5.1.10", text: "null MX: the domain accepts no mail" }) };
  }
  // A null MX next to real ones is a misconfiguration (RFC 7505 §3): use the real ones.
  const byPriority = new Map<number, string[]>();
  for (const r of real) {
    const host = r.exchange.replace(/\.$/, "").toLowerCase();
    byPriority.set(r.priority, [...(byPriority.get(r.priority) ?? []), host]);
  }
  const hosts: string[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    for (const host of shuffled(byPriority.get(priority)!)) if (!hosts.includes(host)) hosts.push(host);
  }
  return { kind: "hosts", hosts: hosts.slice(0, MAX_MX_HOSTS), implicit: false };
}
