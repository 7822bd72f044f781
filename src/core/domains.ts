/**
 * Sending domains (`/v1/domains`), the pure parts: the name, the DKIM selectors, the DNS records
 * an account publishes to prove it holds the domain, and the comparison of what DNS answers
 * with those records. Keys are made elsewhere (`domain-keys.ts`); lookups are `doh.ts`.
 *
 * The records, for a domain `d`:
 *   - two DKIM keys, each under its own selector: RSA-2048 (`k=rsa`, p= the SPKI) and Ed25519
 *     (RFC 8463, `k=ed25519`, p= the raw 32-byte key). Mail is signed with both: RSA for the
 *     verifiers that do not know Ed25519 yet (RFC 8463 §1);
 *   - the return-path subdomain `lh-bounces.d`: MX to the platform's MX host, and an SPF record
 *     including the platform's. A CNAME of `lh-bounces.d` to a platform host that has that MX and
 *     that SPF does as well: resolvers follow it, so the MX and TXT answers are the platform's;
 *   - `_dmarc.d` `v=DMARC1; p=none;`, a suggestion only (any DMARC record counts; none blocks nothing).
 */
import { z } from "zod";

/** The label of the return-path subdomain: bounces to `<label>.<domain>` reach the platform's MX. */
export const RETURN_PATH_LABEL = "lh-bounces";

/** The return-path host of a domain: the VERP domain of mail From it once verified, and its bounces' address. */
export function returnPathHost(domain: string): string {
  return `${RETURN_PATH_LABEL}.${domain.toLowerCase()}`;
}

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A domain name as sent: letters, digits and hyphens (RFC 1123), at least two labels of at most
 * 63 octets, at most 253 in all, a top-level label not all digits (no IPv4 literals). DNS names
 * are case-insensitive (RFC 4343): the name is stored lower-cased. No trailing dot, no
 * underscore, no IDN in Unicode form (send its xn-- A-label).
 */
export const domainName = z
  .string()
  .min(1)
  .max(253, "at most 253 characters")
  .transform((name) => name.toLowerCase())
  .refine((name) => {
    const labels = name.split(".");
    return labels.length >= 2 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels[labels.length - 1]!);
  }, "a domain name: letters, digits and hyphens, at least two labels, like mail.example.com");

export const createDomainRequest = z.strictObject({ domain: domainName });

/** Sending domains per account: every verified one's keys are in the account's runtime, read on each cache miss. */
export const MAX_DOMAINS_PER_ACCOUNT = 100;

export const dkimAlgorithms = ["rsa-sha256", "ed25519-sha256"] as const;
export type DkimAlgorithm = (typeof dkimAlgorithms)[number];

/** A DKIM public key as published: its selector, its algorithm, and the p= value (base64). */
export type DomainPublicKey = { selector: string; algorithm: DkimAlgorithm; publicKey: string };

/** What the platform's own DNS offers the account's records to point at (env vars). */
export type PlatformDns = { bounceMxHost: string; spfInclude: string };

export const recordTypes = ["TXT", "MX", "CNAME"] as const;
export type RecordType = (typeof recordTypes)[number];
export type RecordPurpose = "dkim" | "return_path" | "spf" | "dmarc";
export type RecordStatus = "pending" | "verified" | "missing" | "mismatch";

export type DomainRecord = {
  type: RecordType;
  name: string;
  value: string;
  priority?: number;
  purpose: RecordPurpose;
  /** Whether the domain is verified only with this record in place. */
  required: boolean;
  status: RecordStatus;
  /** What DNS answered at the last check (TXT strings joined), when it answered something. */
  found?: string[];
};

export type DomainStatus = "pending" | "verified";

/**
 * Two selectors for a new domain, from 5 random bytes: `lh<hex>r` and `lh<hex>e`. Random
 * rather than dated: two accounts may add the same domain and each proves it with its own keys.
 */
export function selectorsFor(random: Uint8Array): { rsa: string; ed25519: string } {
  if (random.length < 5) throw new Error("selectorsFor needs 5 random bytes");
  const hex = Array.from(random.slice(0, 5), (b) => b.toString(16).padStart(2, "0")).join("");
  return { rsa: `lh${hex}r`, ed25519: `lh${hex}e` };
}

/** The DKIM TXT value of a key (RFC 6376 §3.6.1; RFC 8463 §4 for Ed25519). */
export function dkimRecordValue(key: Pick<DomainPublicKey, "algorithm" | "publicKey">): string {
  return `v=DKIM1; k=${key.algorithm === "ed25519-sha256" ? "ed25519" : "rsa"}; p=${key.publicKey}`;
}

/** The records to publish for a domain, every one `pending` until a check says otherwise. */
export function expectedRecords(domain: string, keys: readonly DomainPublicKey[], platform: PlatformDns): DomainRecord[] {
  const returnPath = returnPathHost(domain);
  return [
    ...keys.map(
      (key): DomainRecord => ({
        type: "TXT",
        name: `${key.selector}._domainkey.${domain}`,
        value: dkimRecordValue(key),
        purpose: "dkim",
        required: true,
        status: "pending",
      }),
    ),
    {
      type: "MX",
      name: returnPath,
      value: hostName(platform.bounceMxHost),
      priority: 10,
      purpose: "return_path",
      required: true,
      status: "pending",
    },
    {
      type: "TXT",
      name: returnPath,
      value: `v=spf1 include:${platform.spfInclude} ~all`,
      purpose: "spf",
      required: true,
      status: "pending",
    },
    { type: "TXT", name: `_dmarc.${domain}`, value: "v=DMARC1; p=none;", purpose: "dmarc", required: false, status: "pending" },
  ];
}

/**
 * The text of one TXT answer: its character-strings concatenated with nothing between them
 * (RFC 7208 §3.3, RFC 6376 §3.6.2.2), `\"`, `\\` and `\DDD` unescaped (RFC 1035 §5.1).
 * An answer that is not in quoted form is taken as it stands.
 */
export function joinTxt(data: string): string {
  const text = data.trim();
  if (!text.startsWith('"')) return text;
  let out = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      quoted = !quoted;
      continue;
    }
    if (!quoted) continue; // the space between strings
    if (ch === "\\" && i + 1 < text.length) {
      const digits = /^\d{3}/.exec(text.slice(i + 1));
      if (digits) {
        out += String.fromCharCode(Number(digits[0]));
        i += 3;
      } else {
        out += text[++i];
      }
      continue;
    }
    out += ch;
  }
  return out;
}

/** A host name compared as DNS compares it: lower-cased, without the root's trailing dot. */
export function hostName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** A DKIM tag list (RFC 6376 §3.2): tag → value, whitespace around and inside values dropped. */
export function tagList(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    if (name && !tags.has(name)) tags.set(name, part.slice(eq + 1).replace(/\s+/g, ""));
  }
  return tags;
}

/** What one lookup gave: its answers of the asked type (TXT joined, MX `prio host`), nothing there, or no answer. */
export type Lookup = { kind: "answer"; values: string[] } | { kind: "nxdomain" } | { kind: "error"; message: string };

/** Whether a DKIM TXT answer publishes the expected key: same p=, a k= that agrees, v= DKIM1 when given. */
function dkimMatches(found: string, expected: string): boolean {
  const got = tagList(found);
  const want = tagList(expected);
  if (got.has("v") && got.get("v") !== "DKIM1") return false;
  if ((got.get("k") ?? "rsa").toLowerCase() !== want.get("k")) return false;
  return got.get("p") === want.get("p");
}

/** Whether an SPF record (RFC 7208 §4.6.1 terms) has the platform's include, with a pass qualifier. */
function spfIncludes(record: string, include: string): boolean {
  return record
    .split(/\s+/)
    .slice(1)
    .some((term) => term.toLowerCase().replace(/^\+/, "") === `include:${hostName(include)}`);
}

/** One record compared with what DNS answered for its name and type. */
export function checkRecord(record: DomainRecord, lookup: Lookup): DomainRecord {
  const { found: _old, ...base } = record;
  if (lookup.kind === "error") return { ...base, status: "pending" };
  if (lookup.kind === "nxdomain" || lookup.values.length === 0) return { ...base, status: "missing" };
  const found = lookup.values;
  const status = (ok: boolean): DomainRecord => ({ ...base, status: ok ? "verified" : "mismatch", found });
  switch (record.purpose) {
    case "dkim": {
      const keys = found.filter((v) => /^\s*v\s*=\s*DKIM1\s*(;|$)/.test(v) || tagList(v).has("p"));
      if (keys.length === 0) return { ...base, status: "missing", found };
      return status(keys.some((v) => dkimMatches(v, record.value)));
    }
    case "spf": {
      // More than one SPF record is a permerror (RFC 7208 §4.5): a mismatch, however good one is.
      const spf = found.filter((v) => /^v=spf1(\s|$)/i.test(v.trim()));
      if (spf.length === 0) return { ...base, status: "missing", found };
      const include = /include:(\S+)/.exec(record.value)![1]!;
      return status(spf.length === 1 && spfIncludes(spf[0]!.trim(), include));
    }
    case "return_path":
      return status(found.some((v) => hostName(v.split(/\s+/).pop() ?? "") === hostName(record.value)));
    case "dmarc": {
      const dmarc = found.filter((v) => /^v\s*=\s*DMARC1\s*(;|$)/.test(v.trim()));
      if (dmarc.length === 0) return { ...base, status: "missing", found };
      return status(dmarc.length === 1);
    }
  }
}

/**
 * The domain's status after a check: verified when every required record is, pending when one
 * is missing or does not match. A lookup that failed (resolver down) decides nothing: the
 * status stays what it was, so a resolver's bad minute does not stop a domain's mail.
 */
export function domainStatus(records: readonly DomainRecord[], previous: DomainStatus): DomainStatus {
  const required = records.filter((r) => r.required);
  if (required.some((r) => r.status === "pending")) return previous;
  return required.every((r) => r.status === "verified") ? "verified" : "pending";
}

/** The (name, type) pairs a check looks up: each once, however many records share them. */
export function lookupsFor(records: readonly DomainRecord[]): Array<{ name: string; type: RecordType }> {
  const seen = new Map<string, { name: string; type: RecordType }>();
  for (const r of records) seen.set(`${r.name}\n${r.type}`, { name: r.name, type: r.type });
  return [...seen.values()];
}

/** A domain as the API answers it. */
export type DomainView = {
  domain: string;
  status: DomainStatus;
  records: DomainRecord[];
  createdAt: string;
  verifiedAt: string | null;
  /** When DNS was last looked at (`POST /v1/domains/:domain/verify`), null before the first check. */
  checkedAt: string | null;
};

/** What the store keeps of a domain besides its sealed private keys: the view, and the public keys it was made with. */
export type DomainInfo = DomainView & { keys: DomainPublicKey[] };
