// A small authoritative-and-recursive DNS in memory, with two front doors on the one store: the
// JSON form of DNS over HTTPS (what cloudflare-dns.com and dns.google answer at /dns-query with
// `accept: application/dns-json`): `{Status, Question, Answer: [{name, type, TTL, data}]}`, and the
// wire format over UDP and TCP (dns-server.ts), both rendered from `resolve`. Status 3 (NXDOMAIN)
// for a name that has no record of any type, 0 with no Answer for a name that has others. A CNAME
// is followed as a resolver follows it: the chain comes first in Answer, then the records it leads to.
// TXT data is written as resolvers write it: quoted strings of at most 255 octets.
import { isIPv4, isIPv6 } from "node:net";

export const DNS_TYPES = { A: 1, CNAME: 5, MX: 15, TXT: 16, AAAA: 28 } as const;
export type DnsType = keyof typeof DNS_TYPES;
export type DnsRecord = { name: string; type: DnsType; value: string; priority?: number };
/** One record of an answer: a CNAME of the chain, or a record of the type asked. */
export type DnsAnswer = { rcode: 0 | 3; records: DnsRecord[] };

export const DNS_TTL = 300;
const TTL = DNS_TTL;
const MAX_CHAIN = 8;

export function isDnsType(value: unknown): value is DnsType {
  return typeof value === "string" && Object.hasOwn(DNS_TYPES, value);
}

const LABELS = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/;

/** A domain name the wire format can carry: letters, digits, `_`, `-`; labels of 1–63 octets, 253 in all. */
export function isDnsName(name: string): boolean {
  return LABELS.test(name) && name.replace(/\.$/, "").length <= 253 && name.split(".").every((label) => label.length <= 63);
}

/** Why a value cannot be stored under a type (an A record must hold an IPv4 address…), or null. */
export function dnsValueProblem(type: DnsType, value: string): string | null {
  if (type === "A" && !isIPv4(value)) return "an A record's value must be an IPv4 address";
  if (type === "AAAA" && !isIPv6(value)) return "an AAAA record's value must be an IPv6 address";
  // "." is the null MX (RFC 7505).
  if ((type === "MX" && value !== "." && !isDnsName(value)) || (type === "CNAME" && !isDnsName(value))) {
    return `a ${type} record's value must be a domain name`;
  }
  return null;
}

/** Names compare without case and without the root's trailing dot. */
export function dnsName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

export class DnsStore {
  private readonly records: DnsRecord[] = [];

  add(record: DnsRecord): DnsRecord {
    const stored = { ...record, name: dnsName(record.name), ...(record.type === "TXT" ? {} : { value: dnsName(record.value) }) };
    this.records.push(stored);
    return stored;
  }

  /** Removes the records at a name (of one type, or all); answers how many went. */
  remove(name: string, type?: DnsType): number {
    const before = this.records.length;
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i]!;
      if (r.name === dnsName(name) && (type === undefined || r.type === type)) this.records.splice(i, 1);
    }
    return before - this.records.length;
  }

  list(): DnsRecord[] {
    return this.records.map((r) => ({ ...r }));
  }

  /** The records of a type at a name, without following CNAMEs (for tests that verify DKIM with it). */
  lookup(name: string, type: DnsType): DnsRecord[] {
    return this.records.filter((r) => r.name === dnsName(name) && r.type === type);
  }

  /**
   * What a resolver answers for `name` and `type` (`undefined`: a type the store cannot hold, so
   * NOERROR and nothing for a name that exists): the CNAME chain, then the records of the type.
   */
  resolve(name: string, type: DnsType | undefined): DnsAnswer {
    const records: DnsRecord[] = [];
    let at = dnsName(name);
    for (let hop = 0; hop <= MAX_CHAIN; hop++) {
      const here = this.records.filter((r) => r.name === at);
      if (here.length === 0) return { rcode: hop === 0 ? 3 : 0, records };
      const cname = here.find((r) => r.type === "CNAME");
      if (cname && type !== "CNAME") {
        records.push(cname);
        at = cname.value;
        continue;
      }
      records.push(...here.filter((r) => r.type === type));
      break;
    }
    return { rcode: 0, records };
  }

  /** The DoH JSON answer. */
  answer(name: string, type: DnsType) {
    const question = [{ name: `${dnsName(name)}.`, type: DNS_TYPES[type] }];
    const { rcode, records } = this.resolve(name, type);
    if (rcode === 3) return { Status: 3, Question: question };
    const answer = records.map((r) => ({ name: `${r.name}.`, type: DNS_TYPES[r.type], TTL, data: rdata(r) }));
    return { Status: 0, Question: question, ...(answer.length > 0 ? { Answer: answer } : {}) };
  }
}

function rdata(r: DnsRecord): string {
  if (r.type === "MX") return `${r.priority ?? 10} ${r.value}.`;
  if (r.type === "CNAME") return `${r.value}.`;
  if (r.type === "A" || r.type === "AAAA") return r.value;
  const strings = r.value.match(/[\s\S]{1,255}/g) ?? [""];
  return strings.map((s) => `"${s.replace(/["\\]/g, "\\$&")}"`).join(" ");
}
