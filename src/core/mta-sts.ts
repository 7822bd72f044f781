/**
 * MTA-STS (RFC 8461): a recipient domain says, over DNS and HTTPS, that its MX hosts take mail
 * only over TLS with a certificate valid for their name, and which hosts those are. Pure: the
 * TXT record, the policy file, MX matching, what a cached policy allows, and what a TLS failure
 * is called in a TLS-RPT report (RFC 8460). The lookups themselves are the bridge's
 * (bridge/src/smtp/mta-sts.ts).
 *
 *   _mta-sts.<domain>  TXT  "v=STSv1; id=20160831085700Z;"
 *   https://mta-sts.<domain>/.well-known/mta-sts.txt
 *     version: STSv1
 *     mode: enforce
 *     mx: mail.example.com
 *     mx: *.example.net
 *     max_age: 604800
 */
import type { TlsRptResultType } from "./tls-rpt.ts";

export type StsMode = "enforce" | "testing" | "none";

export type StsPolicy = {
  mode: StsMode;
  /** Seconds the policy may be cached (and used without asking again), at most a year. */
  maxAge: number;
  /** MX patterns: a host name, or `*.` and a name (matches exactly one more label in front). */
  mx: string[];
};

/** What `_mta-sts.<domain>` says: a policy with this id, no policy, or a record that counts as none. */
export type StsRecord = { kind: "record"; id: string } | { kind: "none" } | { kind: "invalid"; reason: string };

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (a year). */
export const STS_MAX_AGE_LIMIT = 31_557_600;
/** §3.3: a policy file is small; a body past this is refused, not parsed. */
export const STS_POLICY_MAX_BYTES = 64 * 1024;
/** Where the policy of `domain` is published (§3.3): HTTPS only, no redirects followed. */
export const stsPolicyUrl = (domain: string) => `https://mta-sts.${domain}/.well-known/mta-sts.txt`;
/** The TXT name that announces a policy (§3.1). */
export const stsRecordName = (domain: string) => `_mta-sts.${domain}`;

const ID = /^[A-Za-z0-9]{1,32}$/;
const EXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const EXT_VALUE = /^[\x21-\x3a\x3c\x3e-\x7e]+$/;

/**
 * §3.1: of the TXT strings at `_mta-sts.<domain>` (each already joined from its character
 * strings), those beginning `v=STSv1` count; more than one means no policy. Fields are
 * `key=value` separated by `;`, `v` first, `id` 1–32 letters and digits, extensions allowed.
 */
export function parseStsRecord(txts: readonly string[]): StsRecord {
  const records = txts.filter((t) => /^v=STSv1(;|\s|$)/.test(t));
  if (records.length === 0) return { kind: "none" };
  if (records.length > 1) return { kind: "invalid", reason: "more than one v=STSv1 record" };
  let id: string | undefined;
  for (const [i, field] of records[0]!
    .split(";")
    .map((f) => f.trim())
    .filter((f) => f !== "")
    .entries()) {
    const eq = field.indexOf("=");
    if (eq < 1) return { kind: "invalid", reason: `field ${JSON.stringify(field)} is not key=value` };
    const key = field.slice(0, eq).trim();
    const value = field.slice(eq + 1).trim();
    if (i === 0) continue; // v=STSv1, checked above
    if (key === "id") {
      if (!ID.test(value)) return { kind: "invalid", reason: "id must be 1 to 32 letters and digits" };
      id ??= value;
    } else if (!EXT_NAME.test(key) || !EXT_VALUE.test(value)) {
      return { kind: "invalid", reason: `field ${JSON.stringify(field)} is not a valid extension` };
    }
  }
  return id === undefined ? { kind: "invalid", reason: "no id" } : { kind: "record", id };
}

const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

function isHostName(name: string): boolean {
  return name.length <= 253 && name.split(".").length >= 2 && name.split(".").every((l) => HOST_LABEL.test(l));
}

/**
 * §3.2: `key: value` lines (LF or CRLF); `version: STSv1`, `mode`, `max_age` and at least one
 * `mx` (except in mode none) are required. The first of a repeated single field counts; unknown
 * keys are extensions and ignored. Anything else makes the policy invalid, which counts as no
 * policy (and a `sts-policy-invalid` in TLS-RPT).
 */
export function parseStsPolicy(text: string): { ok: true; policy: StsPolicy } | { ok: false; reason: string } {
  const fields = new Map<string, string>();
  const mx: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon < 1) return { ok: false, reason: `line ${JSON.stringify(line.slice(0, 80))} is not key: value` };
    const key = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (key === "mx") mx.push(value.toLowerCase().replace(/\.$/, ""));
    else if (!fields.has(key)) fields.set(key, value);
  }
  if (fields.get("version") !== "STSv1") return { ok: false, reason: "version must be STSv1" };
  const mode = fields.get("mode");
  if (mode !== "enforce" && mode !== "testing" && mode !== "none") return { ok: false, reason: "mode must be enforce, testing or none" };
  const maxAgeText = fields.get("max_age") ?? "";
  if (!/^\d{1,10}$/.test(maxAgeText)) return { ok: false, reason: "max_age must be a number of seconds" };
  // §3.2: "up to 31557600"; a larger value is capped rather than refused, as the ABNF allows 10 digits.
  const maxAge = Math.min(Number(maxAgeText), STS_MAX_AGE_LIMIT);
  for (const pattern of mx) {
    const name = pattern.startsWith("*.") ? pattern.slice(2) : pattern;
    if (!isHostName(name)) return { ok: false, reason: `mx ${JSON.stringify(pattern)} is not a host name pattern` };
  }
  if (mode !== "none" && mx.length === 0) return { ok: false, reason: "no mx" };
  return { ok: true, policy: { mode, maxAge, mx } };
}

/**
 * §4.1: an MX host matches a pattern when equal (case-insensitively, without the root dot), or
 * when the pattern is `*.rest` and the host is one label in front of `rest`.
 */
export function mxMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  const p = pattern.toLowerCase().replace(/\.$/, "");
  if (!p.startsWith("*.")) return h === p;
  const dot = h.indexOf(".");
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** Whether the policy names `host` as one of the domain's MX hosts. */
export const policyAllowsMx = (policy: StsPolicy, host: string) => policy.mx.some((p) => mxMatches(p, host));

/** A policy as a cache holds it: with the record id it was fetched under and when it lapses. */
export type CachedStsPolicy = { id: string; policy: StsPolicy; fetchedAt: number; expiresAt: number };

/** What a delivery does with the domain's record and the cache (§5.1). */
export type StsStep =
  /** Use this policy for the delivery (it may be `none`). */
  | { kind: "use"; cached: CachedStsPolicy }
  /** Fetch the policy file: the record is new, or its id changed. `fallback`: the cached one to use if the fetch fails. */
  | { kind: "fetch"; id: string; fallback?: CachedStsPolicy }
  /** No policy applies: deliver as without MTA-STS. */
  | { kind: "none" };

/**
 * §3.3 and §5.1: a record whose id equals the cached policy's → the cache (while it lasts); a new
 * id → fetch, keeping the cached one as the fallback; no record, an invalid one or a DNS failure
 * → the cached policy while it lasts (a record taken away does not end a policy before its
 * max_age: that is the downgrade MTA-STS exists to stop), else none.
 */
export function stsStep(record: StsRecord | { kind: "error" }, cached: CachedStsPolicy | undefined, now: number): StsStep {
  const live = cached && cached.expiresAt > now ? cached : undefined;
  if (record.kind === "record") {
    if (live && live.id === record.id) return { kind: "use", cached: live };
    return { kind: "fetch", id: record.id, ...(live ? { fallback: live } : {}) };
  }
  return live ? { kind: "use", cached: live } : { kind: "none" };
}

/**
 * The policy as the lines of its file (TLS-RPT's `policy-string`, RFC 8460 §4.4), in the order of
 * RFC 8461 §3.2's example: we keep the parsed policy, not the text, so this is its canonical form.
 */
export function stsPolicyLines(policy: StsPolicy): string[] {
  return ["version: STSv1", `mode: ${policy.mode}`, ...policy.mx.map((mx) => `mx: ${mx}`), `max_age: ${policy.maxAge}`];
}

/** A fetched policy as the cache keeps it (`mode: none` too: it ends an older policy at once). */
export function cachePolicy(id: string, policy: StsPolicy, now: number): CachedStsPolicy {
  return { id, policy, fetchedAt: now, expiresAt: now + policy.maxAge * 1000 };
}

/** The RFC 8460 result types an MTA-STS delivery can report (the DANE ones are not ours). */
export type StsFailure = Extract<
  TlsRptResultType,
  | "starttls-not-supported"
  | "certificate-host-mismatch"
  | "certificate-expired"
  | "certificate-not-trusted"
  | "validation-failure"
  | "sts-policy-fetch-error"
  | "sts-policy-invalid"
  | "sts-webpki-invalid"
>;

/**
 * A TLS handshake error (Node's/OpenSSL's verification codes) as the TLS-RPT result type that
 * names it; anything else that broke the handshake is a `validation-failure`.
 */
export function tlsFailureOf(code: string | undefined): StsFailure {
  switch (code) {
    case "CERT_HAS_EXPIRED":
    case "CERT_NOT_YET_VALID":
      return "certificate-expired";
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "certificate-host-mismatch";
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "CERT_UNTRUSTED":
    case "CERT_REVOKED":
      return "certificate-not-trusted";
    default:
      return "validation-failure";
  }
}
