// A small authoritative-and-recursive DNS in memory, answered in the JSON form of DNS over HTTPS
// (what cloudflare-dns.com and dns.google answer at /dns-query with `accept: application/dns-json`):
// `{Status, Question, Answer: [{name, type, TTL, data}]}`. Status 3 (NXDOMAIN) for a name that has
// no record of any type, 0 with no Answer for a name that has others. A CNAME is followed as a
// resolver follows it: the chain comes first in Answer, then the records it leads to.
// TXT data is written as resolvers write it: quoted strings of at most 255 octets.

export const DNS_TYPES = { CNAME: 5, MX: 15, TXT: 16 } as const;
export type DnsType = keyof typeof DNS_TYPES;
export type DnsRecord = { name: string; type: DnsType; value: string; priority?: number };

const TTL = 300;
const MAX_CHAIN = 8;

export function isDnsType(value: unknown): value is DnsType {
  return typeof value === "string" && Object.hasOwn(DNS_TYPES, value);
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

  answer(name: string, type: DnsType) {
    const question = [{ name: `${dnsName(name)}.`, type: DNS_TYPES[type] }];
    const answer: Array<{ name: string; type: number; TTL: number; data: string }> = [];
    let at = dnsName(name);
    for (let hop = 0; hop <= MAX_CHAIN; hop++) {
      const here = this.records.filter((r) => r.name === at);
      if (here.length === 0) return hop === 0 ? { Status: 3, Question: question } : { Status: 0, Question: question, Answer: answer };
      const cname = here.find((r) => r.type === "CNAME");
      if (cname && type !== "CNAME") {
        answer.push({ name: `${at}.`, type: DNS_TYPES.CNAME, TTL, data: `${cname.value}.` });
        at = cname.value;
        continue;
      }
      for (const r of here.filter((r) => r.type === type)) answer.push({ name: `${at}.`, type: DNS_TYPES[type], TTL, data: rdata(r) });
      break;
    }
    return { Status: 0, Question: question, ...(answer.length > 0 ? { Answer: answer } : {}) };
  }
}

function rdata(r: DnsRecord): string {
  if (r.type === "MX") return `${r.priority ?? 10} ${r.value}.`;
  if (r.type === "CNAME") return `${r.value}.`;
  const strings = r.value.match(/[\s\S]{1,255}/g) ?? [""];
  return strings.map((s) => `"${s.replace(/["\\]/g, "\\$&")}"`).join(" ");
}
