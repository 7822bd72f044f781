/**
 * SMTP TLS Reporting (RFC 8460), the pure parts of being a report *sender*: the policy record a
 * recipient domain publishes at `_smtp._tls.<domain>` (§3), a tally of our sessions to it that
 * survives JSON (a Durable Object will keep it), the aggregate report of §4.4, its file name
 * (§5.1), and the two ways of delivering it (§5.3 mail, §5.4 HTTPS POST). No DNS, no fetch and no
 * clock in here: the caller looks up, fetches, sends and says what time it is.
 */
import { z } from "zod";
import { toBase64 } from "./bytes.ts";
import { hasControlCharacter, headerValue } from "./mail-header.ts";

// ── §3 the policy record ────────────────────────────────────────────────────────────────────────

/** Where reports go: an `rua` URI we can use. */
export type TlsRptUri = { kind: "mailto"; address: string } | { kind: "https"; url: string };

export type TlsRptRecord = { kind: "none" } | { kind: "invalid"; reason: string } | { kind: "record"; rua: TlsRptUri[] };

/**
 * `tlsrpt-version = %s"v=TLSRPTv1"`, then a `field-delim` (`*WSP ";" *WSP`) or the end. `%s` is
 * case-sensitive (RFC 7405), so `V=tlsrptv1` is not a TLSRPT record at all, and neither is
 * `v=TLSRPTv10`. Strings that do not start so are someone else's TXT (SPF and the like), discarded.
 */
const VERSION = /^v=TLSRPTv1[ \t]*(?:;|$)/;

/** WSP of RFC 5234: space and tab only. */
const WSP = /^[ \t]+|[ \t]+$/g;

/**
 * The reporting policy among the TXT strings of `_smtp._tls.<domain>` (each one record, its
 * character-strings already joined: `joinTxt`). RFC 8460 §3: anything but exactly one
 * `v=TLSRPTv1` record means the domain asks for no reports; several are reported as `invalid`
 * (with why) rather than `none` so a dashboard can tell "not published" from "published wrong".
 */
export function parseTlsRptRecord(txts: readonly string[]): TlsRptRecord {
  const records = txts.filter((txt) => VERSION.test(txt));
  if (records.length === 0) return { kind: "none" };
  if (records.length > 1) return { kind: "invalid", reason: `${records.length} v=TLSRPTv1 records; RFC 8460 §3 allows exactly one` };
  const fields = records[0]!.replace(VERSION, "").split(";");
  const uris: string[] = [];
  let sawRua = false;
  for (const field of fields) {
    const text = field.replace(WSP, "");
    if (text === "") continue; // the optional trailing delimiter (and, leniently, an empty field)
    // Field names are `%s`, case-sensitive: `RUA=` is an unknown extension, ignored like any other.
    if (!text.startsWith("rua=")) continue;
    // Several rua= fields are not in the grammar's spirit but not forbidden either: all their URIs count.
    sawRua = true;
    uris.push(...text.slice(4).split(","));
  }
  if (!sawRua) return { kind: "invalid", reason: "no rua= field" };
  const rua = uris.map((uri) => reportUri(uri.replace(WSP, ""))).filter((uri) => uri !== null);
  if (rua.length === 0) return { kind: "invalid", reason: "no usable rua URI (RFC 8460 defines mailto: and https:)" };
  return { kind: "record", rua };
}

/** An address we can put in To: one `@`, no whitespace, controls, quotes or angle brackets. */
const ADDRESS = /^[^\s@<>"()\\,;\x00-\x1f\x7f]+@[^\s@<>"()\\,;\x00-\x1f\x7f]+$/;

/**
 * One `rua` URI, or null for one we cannot use. Schemes compare case-insensitively (RFC 3986
 * §3.1). A mailto's address is percent-decoded (RFC 8460 §3 has `,` and `;` percent-encoded
 * inside a URI) and its `?hfields` dropped: a report's headers are ours to write.
 */
function reportUri(uri: string): TlsRptUri | null {
  const colon = uri.indexOf(":");
  if (colon < 0) return null;
  const scheme = uri.slice(0, colon).toLowerCase();
  if (scheme === "mailto") {
    let address: string;
    try {
      address = decodeURIComponent(uri.slice(colon + 1).split("?")[0]!);
    } catch {
      return null; // a broken %-escape
    }
    return ADDRESS.test(address) ? { kind: "mailto", address } : null;
  }
  if (scheme === "https") {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return null;
    }
    // As published: the caller's fetch (and its SSRF rules) sees exactly what the domain wrote.
    return url.protocol === "https:" && url.hostname !== "" ? { kind: "https", url: uri } : null;
  }
  return null;
}

// ── §4.3 result types ───────────────────────────────────────────────────────────────────────────

/** The IANA "STARTTLS Validation Result Types" registry (RFC 8460 §4.3). */
export const TLS_RPT_RESULT_TYPES = [
  // TLS negotiation
  "starttls-not-supported",
  "certificate-host-mismatch",
  "certificate-expired",
  "certificate-not-trusted",
  "validation-failure",
  // DANE policy
  "tlsa-invalid",
  "dnssec-invalid",
  "dane-required",
  // MTA-STS policy
  "sts-policy-fetch-error",
  "sts-policy-invalid",
  "sts-webpki-invalid",
] as const;
export type TlsRptResultType = (typeof TLS_RPT_RESULT_TYPES)[number];

// ── the tally ───────────────────────────────────────────────────────────────────────────────────

/**
 * The policy a session was held to (§4.4 `policy`). `string` is the policy as lines (for MTA-STS,
 * one array element per line of the policy file, several `mx:` lines apart); `mxHost` the MX
 * patterns it names. No TLSA here: we do not validate DANE (yet).
 */
export type TlsRptPolicy = { type: "sts" | "no-policy-found"; domain: string; string?: string[]; mxHost?: string[] };

/** One failed session's details (§4.4 `failure-details`, without the count). */
export type TlsRptFailure = {
  resultType: TlsRptResultType;
  sendingMtaIp?: string;
  receivingMxHostname?: string;
  receivingMxHelo?: string;
  receivingIp?: string;
  additionalInformation?: string;
  failureReasonCode?: string;
};

/** One SMTP session to a policy domain's MX, as the sender saw it. */
export type TlsRptSession = { policy: TlsRptPolicy; ok: true } | { policy: TlsRptPolicy; ok: false; failure: TlsRptFailure };

const FAILURE_FIELDS = [
  "sendingMtaIp",
  "receivingMxHostname",
  "receivingMxHelo",
  "receivingIp",
  "additionalInformation",
  "failureReasonCode",
] as const;

const policySchema = z.strictObject({
  type: z.enum(["sts", "no-policy-found"]),
  domain: z.string().min(1),
  string: z.array(z.string()).optional(),
  mxHost: z.array(z.string()).optional(),
});
const failureSchema = z.strictObject({
  resultType: z.enum(TLS_RPT_RESULT_TYPES),
  sendingMtaIp: z.string().optional(),
  receivingMxHostname: z.string().optional(),
  receivingMxHelo: z.string().optional(),
  receivingIp: z.string().optional(),
  additionalInformation: z.string().optional(),
  failureReasonCode: z.string().optional(),
});
const count = z.number().int().nonnegative();

/**
 * The tally as stored: plain JSON. Policies and failure details are keyed by the JSON of what
 * tells them apart (keys always start with `[`, so none is `__proto__`), in first-seen order.
 * Read a stored one back with `tlsRptTally.parse`.
 */
export const tlsRptTally = z.strictObject({
  policies: z.record(
    z.string(),
    z.strictObject({
      policy: policySchema,
      successes: count,
      failures: count,
      details: z.record(z.string(), z.strictObject({ failure: failureSchema, count })),
    }),
  ),
});
export type TlsRptTally = z.infer<typeof tlsRptTally>;

export function emptyTally(): TlsRptTally {
  return { policies: {} };
}

/**
 * The tally with one more session. Does not mutate `tally`: it returns a new one that shares
 * every untouched policy and failure detail with the old (so a caller may keep the old one, and
 * a retried write cannot count a session twice in memory).
 *
 * Policies are told apart by type, domain (case-insensitive: a DNS name) and policy string, as
 * a report lists them (§4.4: one entry per policy applied); a policy's `mxHost` is the one first
 * seen (an MTA-STS policy's MX patterns are in its string anyway). Failures are merged when every
 * detail is equal, counted in `failed-session-count`.
 */
export function recordSession(tally: TlsRptTally, session: TlsRptSession): TlsRptTally {
  const policy = normalPolicy(session.policy);
  const key = JSON.stringify([policy.type, policy.domain, policy.string ?? []]);
  const entry = tally.policies[key] ?? { policy, successes: 0, failures: 0, details: {} };
  if (session.ok) return { policies: { ...tally.policies, [key]: { ...entry, successes: entry.successes + 1 } } };
  const failure = normalFailure(session.failure);
  const detailKey = JSON.stringify([failure.resultType, ...FAILURE_FIELDS.map((field) => failure[field] ?? null)]);
  const detail = entry.details[detailKey] ?? { failure, count: 0 };
  return {
    policies: {
      ...tally.policies,
      [key]: { ...entry, failures: entry.failures + 1, details: { ...entry.details, [detailKey]: { ...detail, count: detail.count + 1 } } },
    },
  };
}

/** Lower-cased domain; empty lists are no value (so `[]` and absent count as one policy). */
function normalPolicy(policy: TlsRptPolicy): TlsRptPolicy {
  const out: TlsRptPolicy = { type: policy.type, domain: policy.domain.toLowerCase() };
  if (policy.string?.length) out.string = [...policy.string];
  if (policy.mxHost?.length) out.mxHost = [...policy.mxHost];
  return out;
}

/** Only the fields with a value, in one order: `""` and `undefined` are the same absence. */
function normalFailure(failure: TlsRptFailure): TlsRptFailure {
  const out: TlsRptFailure = { resultType: failure.resultType };
  for (const field of FAILURE_FIELDS) if (failure[field]) out[field] = failure[field];
  return out;
}

// ── §4.4 the report ─────────────────────────────────────────────────────────────────────────────

export type TlsRptFailureDetail = {
  "result-type": TlsRptResultType;
  "sending-mta-ip"?: string;
  "receiving-mx-hostname"?: string;
  "receiving-mx-helo"?: string;
  "receiving-ip"?: string;
  "failed-session-count": number;
  "additional-information"?: string;
  "failure-reason-code"?: string;
};

export type TlsRptReport = {
  "organization-name": string;
  "date-range": { "start-datetime": string; "end-datetime": string };
  "contact-info": string;
  "report-id": string;
  policies: Array<{
    policy: { "policy-type": TlsRptPolicy["type"]; "policy-string"?: string[]; "policy-domain": string; "mx-host"?: string[] };
    summary: { "total-successful-session-count": number; "total-failure-session-count": number };
    "failure-details"?: TlsRptFailureDetail[];
  }>;
};

/**
 * The §4.4 report for one policy domain: a report goes to the domain whose `_smtp._tls` record
 * asked for it, so it holds only that domain's policies. Keys with no value are left out, the
 * `failure-details` list when there were no failures among them (§4.4 marks it optional).
 */
export function buildReport(input: {
  organizationName: string;
  contactInfo: string;
  reportId: string;
  start: Date;
  end: Date;
  tally: TlsRptTally;
  policyDomain: string;
}): TlsRptReport {
  const domain = input.policyDomain.toLowerCase();
  return {
    "organization-name": input.organizationName,
    "date-range": { "start-datetime": rfc3339(input.start), "end-datetime": rfc3339(input.end) },
    "contact-info": input.contactInfo,
    "report-id": input.reportId,
    policies: Object.values(input.tally.policies)
      .filter((entry) => entry.policy.domain === domain)
      .map(({ policy, successes, failures, details }) => {
        const failureDetails = Object.values(details).map(({ failure, count }) => failureDetail(failure, count));
        return {
          policy: {
            "policy-type": policy.type,
            ...(policy.string ? { "policy-string": policy.string } : {}),
            "policy-domain": policy.domain,
            ...(policy.mxHost ? { "mx-host": policy.mxHost } : {}),
          },
          summary: { "total-successful-session-count": successes, "total-failure-session-count": failures },
          ...(failureDetails.length ? { "failure-details": failureDetails } : {}),
        };
      }),
  };
}

function failureDetail(failure: TlsRptFailure, count: number): TlsRptFailureDetail {
  const optional = (key: keyof TlsRptFailureDetail, value: string | undefined) => (value ? { [key]: value } : {});
  return {
    "result-type": failure.resultType,
    ...optional("sending-mta-ip", failure.sendingMtaIp),
    ...optional("receiving-mx-hostname", failure.receivingMxHostname),
    ...optional("receiving-mx-helo", failure.receivingMxHelo),
    ...optional("receiving-ip", failure.receivingIp),
    "failed-session-count": count,
    ...optional("additional-information", failure.additionalInformation),
    ...optional("failure-reason-code", failure.failureReasonCode),
  };
}

/** RFC 3339 in UTC with `Z`; whole seconds as the RFC's examples write them, milliseconds kept when there are any. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, "Z");
}

// ── §5.1 the file name ──────────────────────────────────────────────────────────────────────────

const DOMAIN_PART = /^[A-Za-z0-9._-]+$/;

/**
 * `sender "!" policy-domain "!" begin-timestamp "!" end-timestamp ["!" unique-id] "." extension`,
 * the timestamps in seconds since the epoch, the extension `json.gz` (we always gzip). Throws
 * on a part that would break the name: a `!` or a path separator in a domain, a unique-id that is
 * not `1*(ALPHA / DIGIT)`.
 */
export function reportFileName(input: { submitter: string; policyDomain: string; start: Date; end: Date; uniqueId?: string }): string {
  for (const name of [input.submitter, input.policyDomain]) {
    if (!DOMAIN_PART.test(name)) throw new RangeError(`not a domain name for a report file name: ${JSON.stringify(name)}`);
  }
  if (input.uniqueId !== undefined && !/^[A-Za-z0-9]+$/.test(input.uniqueId)) {
    throw new RangeError(`a report's unique-id is letters and digits only: ${JSON.stringify(input.uniqueId)}`);
  }
  const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
  const unique = input.uniqueId === undefined ? "" : `!${input.uniqueId}`;
  return `${input.submitter}!${input.policyDomain}!${seconds(input.start)}!${seconds(input.end)}${unique}.json.gz`;
}

// ── §5.3, §5.4 delivery ─────────────────────────────────────────────────────────────────────────

/** The report as `application/tlsrpt+gzip` bytes (§5.2: gzip, for mail and HTTPS alike). */
export async function gzipJson(report: TlsRptReport): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([JSON.stringify(report)]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * The boundary: `=_` cannot occur in base64 (`_` is not in its alphabet) and our text part is one
 * line starting with "This", so a fixed boundary never collides and the message stays a pure
 * function of its inputs.
 */
const BOUNDARY = "----=_lasthop_tlsrpt_part";

/**
 * The report mail of §5.3, raw RFC 5322 with CRLF: the §5.3 Subject, `TLS-Report-Domain` and
 * `TLS-Report-Submitter`, a `multipart/report; report-type="tlsrpt"` of a short text and the
 * gzip as an `application/tlsrpt+gzip` attachment. The reporter MUST DKIM-sign it (§5.3), as
 * the submitter: that is the sending path's work (the bridge signs), not this function's. `from` and `to` are bare
 * addresses; `messageId` with or without its angle brackets. Throws on a value that would
 * break a header (a control character, a line that cannot fold within 998 octets).
 */
export function reportEmail(input: {
  from: string;
  to: string;
  submitter: string;
  policyDomain: string;
  reportId: string;
  gz: Uint8Array;
  fileName: string;
  date: Date;
  messageId: string;
}): string {
  for (const [name, value] of Object.entries(input)) {
    if (typeof value === "string" && hasControlCharacter(value)) throw new RangeError(`a control character in ${name}`);
  }
  if (/["\\]/.test(input.fileName)) throw new RangeError("a quote or backslash in the file name");
  const messageId = input.messageId.startsWith("<") ? input.messageId : `<${input.messageId}>`;
  const field = (name: string, value: string) => {
    const folded = headerValue(name, value);
    if (folded === null) throw new RangeError(`${name} cannot be folded within 998 octets`);
    return `${name}: ${folded}`;
  };
  const lines = [
    field("From", input.from),
    field("To", input.to),
    field("Date", input.date.toUTCString().replace("GMT", "+0000")),
    field("Message-ID", messageId),
    // §5.3's tls-report-subject: the Report-ID in angle brackets, as a msg-id.
    field("Subject", `Report Domain: ${input.policyDomain} Submitter: ${input.submitter} Report-ID: <${input.reportId}>`),
    field("TLS-Report-Domain", input.policyDomain),
    field("TLS-Report-Submitter", input.submitter),
    "MIME-Version: 1.0",
    field("Content-Type", `multipart/report; report-type="tlsrpt"; boundary="${BOUNDARY}"`),
    "",
    "This is a multipart message in MIME format.",
    "",
    `--${BOUNDARY}`,
    'Content-Type: text/plain; charset="us-ascii"',
    "Content-Transfer-Encoding: 7bit",
    "",
    `This is an aggregate TLS report from ${input.submitter} for ${input.policyDomain}.`,
    "",
    `--${BOUNDARY}`,
    "Content-Type: application/tlsrpt+gzip",
    "Content-Transfer-Encoding: base64",
    field("Content-Disposition", `attachment; filename="${input.fileName}"`),
    "",
    // RFC 2045 §6.8: lines of at most 76 characters.
    toBase64(input.gz).replace(/.{76}(?=.)/g, "$&\r\n"),
    `--${BOUNDARY}--`,
    "",
  ];
  return lines.join("\r\n");
}

/**
 * The §5.4 HTTPS submission for an `https:` rua, for the caller to `fetch(url, init)`: a POST of
 * the gzip as `application/tlsrpt+gzip`. The URL came from DNS, so the caller applies its own
 * outbound URL rules before fetching. Throws on a URL that is not https.
 */
export function reportPost(url: string, gz: Uint8Array<ArrayBuffer>): { url: string; init: RequestInit } {
  if (new URL(url).protocol !== "https:") throw new RangeError(`a TLS report is POSTed over https only: ${url}`);
  return { url, init: { method: "POST", headers: { "Content-Type": "application/tlsrpt+gzip" }, body: gz } };
}
