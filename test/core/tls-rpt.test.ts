/**
 * SMTP TLS Reporting (RFC 8460): the policy record, the tally, the §4.4 report, its file name,
 * the gzip and the two ways of delivering it. The mail is read back with postal-mime and the
 * gzip with node:zlib: libraries that are not the code under test.
 */
import { gunzipSync } from "node:zlib";
import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import {
  buildReport,
  emptyTally,
  gzipJson,
  parseTlsRptRecord,
  recordSession,
  reportEmail,
  reportFileName,
  reportPost,
  TLS_RPT_RESULT_TYPES,
  tlsRptTally,
  type TlsRptPolicy,
  type TlsRptRecord,
  type TlsRptReport,
  type TlsRptSession,
} from "../../src/core/tls-rpt.ts";

const MAILTO = { kind: "mailto", address: "reports@example.com" } as const;
const HTTPS = { kind: "https", url: "https://reporting.example.com/v1/tlsrptv1" } as const;

describe("the _smtp._tls record (RFC 8460 §3)", () => {
  it.each<[string, string[], TlsRptRecord]>([
    ["the RFC's mailto example", ["v=TLSRPTv1;rua=mailto:reports@example.com"], { kind: "record", rua: [MAILTO] }],
    ["the RFC's https example", ["v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrptv1"], { kind: "record", rua: [HTTPS] }],
    [
      "both in one, in their order",
      ["v=TLSRPTv1; rua=mailto:reports@example.com,https://reporting.example.com/v1/tlsrptv1"],
      { kind: "record", rua: [MAILTO, HTTPS] },
    ],
    [
      "spaces and tabs around fields, commas and the trailing delimiter",
      ["v=TLSRPTv1 ;\trua=https://reporting.example.com/v1/tlsrptv1 ,  mailto:reports@example.com \t; "],
      { kind: "record", rua: [HTTPS, MAILTO] },
    ],
    [
      "among other TXT records",
      ["v=spf1 -all", "v=TLSRPTv1;rua=mailto:reports@example.com", "google-site-verification=x"],
      { kind: "record", rua: [MAILTO] },
    ],
    ["unknown fields ignored", ["v=TLSRPTv1; ext=1; rua=mailto:reports@example.com; x-y.z=a"], { kind: "record", rua: [MAILTO] }],
    ["a scheme in capitals", ["v=TLSRPTv1; rua=MAILTO:reports@example.com"], { kind: "record", rua: [MAILTO] }],
    [
      "the address percent-decoded",
      ["v=TLSRPTv1; rua=mailto:tls%2Breports@example.com"],
      { kind: "record", rua: [{ kind: "mailto", address: "tls+reports@example.com" }] },
    ],
    ["a mailto's ?hfields dropped", ["v=TLSRPTv1; rua=mailto:reports@example.com?subject=tls"], { kind: "record", rua: [MAILTO] }],
    [
      "an unknown scheme skipped beside a usable one",
      ["v=TLSRPTv1; rua=ftp://example.com/r,mailto:reports@example.com"],
      { kind: "record", rua: [MAILTO] },
    ],
    [
      "two rua= fields: both lists",
      ["v=TLSRPTv1; rua=mailto:reports@example.com; rua=https://reporting.example.com/v1/tlsrptv1"],
      { kind: "record", rua: [MAILTO, HTTPS] },
    ],
    ["no TXT at all", [], { kind: "none" }],
    ["only other TXT records", ["v=spf1 -all", "v=DMARC1; p=none"], { kind: "none" }],
    ["V= in capitals is not the version tag (%s, case-sensitive)", ["V=TLSRPTv1;rua=mailto:reports@example.com"], { kind: "none" }],
    ["nor is a lower-case version", ["v=tlsrptv1;rua=mailto:reports@example.com"], { kind: "none" }],
    ["nor another version that starts alike", ["v=TLSRPTv10;rua=mailto:reports@example.com"], { kind: "none" }],
    ["nor a version after leading space", [" v=TLSRPTv1;rua=mailto:reports@example.com"], { kind: "none" }],
  ])("%s", (_name, txts, expected) => {
    expect(parseTlsRptRecord(txts)).toEqual(expected);
  });

  it.each<[string, string[], RegExp]>([
    ["several records", ["v=TLSRPTv1;rua=mailto:reports@example.com", "v=TLSRPTv1;rua=mailto:other@example.com"], /2 v=TLSRPTv1 records/],
    ["several, one of them broken", ["v=TLSRPTv1;rua=mailto:reports@example.com", "v=TLSRPTv1"], /2 v=TLSRPTv1 records/],
    ["no rua", ["v=TLSRPTv1;"], /no rua= field/],
    ["the version alone", ["v=TLSRPTv1"], /no rua= field/],
    ["RUA= is another field (%s)", ["v=TLSRPTv1; RUA=mailto:reports@example.com"], /no rua= field/],
    ["an empty rua", ["v=TLSRPTv1; rua="], /no usable rua URI/],
    ["http is not https", ["v=TLSRPTv1; rua=http://reporting.example.com/v1/tlsrptv1"], /no usable rua URI/],
    ["an unknown scheme only", ["v=TLSRPTv1; rua=xmpp:reports@example.com"], /no usable rua URI/],
    ["a broken percent escape", ["v=TLSRPTv1; rua=mailto:reports%zz@example.com"], /no usable rua URI/],
    ["a mailto without an address", ["v=TLSRPTv1; rua=mailto:reports"], /no usable rua URI/],
    ["an address without a scheme", ["v=TLSRPTv1; rua=reports@example.com"], /no usable rua URI/],
    ["a mailto of two addresses", ["v=TLSRPTv1; rua=mailto:a@example.com%2Cb@example.com"], /no usable rua URI/],
    ["an https URI that is not a URL", ["v=TLSRPTv1; rua=https://"], /no usable rua URI/],
  ])("invalid: %s", (_name, txts, reason) => {
    const parsed = parseTlsRptRecord(txts);
    expect(parsed.kind).toBe("invalid");
    expect(parsed.kind === "invalid" && parsed.reason).toMatch(reason);
  });
});

describe("result types", () => {
  it("are the IANA registry's eleven", () => {
    expect(TLS_RPT_RESULT_TYPES).toEqual([
      "starttls-not-supported",
      "certificate-host-mismatch",
      "certificate-expired",
      "certificate-not-trusted",
      "validation-failure",
      "tlsa-invalid",
      "dnssec-invalid",
      "dane-required",
      "sts-policy-fetch-error",
      "sts-policy-invalid",
      "sts-webpki-invalid",
    ]);
  });
});

const STS: TlsRptPolicy = {
  type: "sts",
  domain: "company-y.example",
  string: ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"],
  mxHost: ["*.mail.company-y.example"],
};
const NONE: TlsRptPolicy = { type: "no-policy-found", domain: "company-y.example" };
const OTHER: TlsRptPolicy = { type: "sts", domain: "other.example", string: ["version: STSv1", "mode: enforce", "mx: mx.other.example"] };

const ok = (policy: TlsRptPolicy): TlsRptSession => ({ policy, ok: true });
const SESSIONS: TlsRptSession[] = [
  ok(STS),
  ok(STS),
  {
    policy: STS,
    ok: false,
    failure: { resultType: "certificate-expired", sendingMtaIp: "2001:db8:abcd:12::1", receivingMxHostname: "mx1.mail.company-y.example" },
  },
  ok(NONE),
  // The same failure again, its fields in another order and an empty one: merged.
  {
    policy: { ...STS, domain: "Company-Y.example" },
    ok: false,
    failure: {
      receivingMxHostname: "mx1.mail.company-y.example",
      sendingMtaIp: "2001:db8:abcd:12::1",
      resultType: "certificate-expired",
      receivingIp: "",
    },
  },
  // Same type, another MX: apart.
  {
    policy: STS,
    ok: false,
    failure: { resultType: "certificate-expired", sendingMtaIp: "2001:db8:abcd:12::1", receivingMxHostname: "mx2.mail.company-y.example" },
  },
  {
    policy: STS,
    ok: false,
    failure: {
      resultType: "starttls-not-supported",
      sendingMtaIp: "2001:db8:abcd:13::1",
      receivingMxHostname: "mx2.mail.company-y.example",
      receivingMxHelo: "mx2.company-y.example",
      receivingIp: "203.0.113.56",
      additionalInformation: "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported",
    },
  },
  ok({ ...STS }),
  {
    policy: NONE,
    ok: false,
    failure: {
      resultType: "validation-failure",
      sendingMtaIp: "198.51.100.62",
      failureReasonCode: "X509_V_ERR_PROOF_OF_POSSESSION_MISSING",
    },
  },
  ok(OTHER),
  { policy: OTHER, ok: false, failure: { resultType: "sts-policy-fetch-error", sendingMtaIp: "198.51.100.62" } },
  // Another policy string for the same domain is another policy.
  ok({ ...STS, string: ["version: STSv1", "mode: enforce", "mx: *.mail.company-y.example", "max_age: 86400"] }),
];

const tallied = () => SESSIONS.reduce(recordSession, emptyTally());
const REPORT_BASE = {
  organizationName: "Company-X",
  contactInfo: "sts-reporting@company-x.example",
  reportId: "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
  start: new Date("2016-04-01T00:00:00Z"),
  end: new Date("2016-04-01T23:59:59Z"),
};

describe("tally and report (RFC 8460 §4.4)", () => {
  it("counts, merges identical failures, keeps policies and domains apart: the exact report", () => {
    const report = buildReport({ ...REPORT_BASE, tally: tallied(), policyDomain: "company-y.example" });
    expect(report).toStrictEqual({
      "organization-name": "Company-X",
      "date-range": { "start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59Z" },
      "contact-info": "sts-reporting@company-x.example",
      "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
      policies: [
        {
          policy: {
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: testing", "mx: *.mail.company-y.example", "max_age: 86400"],
            "policy-domain": "company-y.example",
            "mx-host": ["*.mail.company-y.example"],
          },
          summary: { "total-successful-session-count": 3, "total-failure-session-count": 4 },
          "failure-details": [
            {
              "result-type": "certificate-expired",
              "sending-mta-ip": "2001:db8:abcd:12::1",
              "receiving-mx-hostname": "mx1.mail.company-y.example",
              "failed-session-count": 2,
            },
            {
              "result-type": "certificate-expired",
              "sending-mta-ip": "2001:db8:abcd:12::1",
              "receiving-mx-hostname": "mx2.mail.company-y.example",
              "failed-session-count": 1,
            },
            {
              "result-type": "starttls-not-supported",
              "sending-mta-ip": "2001:db8:abcd:13::1",
              "receiving-mx-hostname": "mx2.mail.company-y.example",
              "receiving-mx-helo": "mx2.company-y.example",
              "receiving-ip": "203.0.113.56",
              "failed-session-count": 1,
              "additional-information": "https://reports.company-x.example/report_info?id=5065427c-23d3#StarttlsNotSupported",
            },
          ],
        },
        {
          policy: { "policy-type": "no-policy-found", "policy-domain": "company-y.example" },
          summary: { "total-successful-session-count": 1, "total-failure-session-count": 1 },
          "failure-details": [
            {
              "result-type": "validation-failure",
              "sending-mta-ip": "198.51.100.62",
              "failed-session-count": 1,
              "failure-reason-code": "X509_V_ERR_PROOF_OF_POSSESSION_MISSING",
            },
          ],
        },
        {
          policy: {
            "policy-type": "sts",
            "policy-string": ["version: STSv1", "mode: enforce", "mx: *.mail.company-y.example", "max_age: 86400"],
            "policy-domain": "company-y.example",
            "mx-host": ["*.mail.company-y.example"],
          },
          summary: { "total-successful-session-count": 1, "total-failure-session-count": 0 },
        },
      ],
    } satisfies TlsRptReport);
    // The RFC's key order, as a reader of the JSON text sees it.
    expect(Object.keys(report)).toEqual(["organization-name", "date-range", "contact-info", "report-id", "policies"]);
    expect(Object.keys(report.policies[0]!.policy)).toEqual(["policy-type", "policy-string", "policy-domain", "mx-host"]);
  });

  it("the other policy domain's report holds only its own policy", () => {
    const report = buildReport({ ...REPORT_BASE, tally: tallied(), policyDomain: "OTHER.example" });
    expect(report.policies).toStrictEqual([
      {
        policy: {
          "policy-type": "sts",
          "policy-string": ["version: STSv1", "mode: enforce", "mx: mx.other.example"],
          "policy-domain": "other.example",
        },
        summary: { "total-successful-session-count": 1, "total-failure-session-count": 1 },
        "failure-details": [{ "result-type": "sts-policy-fetch-error", "sending-mta-ip": "198.51.100.62", "failed-session-count": 1 }],
      },
    ]);
  });

  it("a domain without sessions gets no policies", () => {
    expect(buildReport({ ...REPORT_BASE, tally: tallied(), policyDomain: "nobody.example" }).policies).toEqual([]);
  });

  it("keeps milliseconds when the range has them", () => {
    const report = buildReport({
      ...REPORT_BASE,
      end: new Date("2016-04-01T23:59:59.999Z"),
      tally: emptyTally(),
      policyDomain: "x.example",
    });
    expect(report["date-range"]).toEqual({ "start-datetime": "2016-04-01T00:00:00Z", "end-datetime": "2016-04-01T23:59:59.999Z" });
  });

  it("returns a new tally and leaves the old one as it was", () => {
    const before = recordSession(emptyTally(), ok(STS));
    const snapshot = structuredClone(before);
    const after = recordSession(before, SESSIONS[2]!);
    expect(before).toStrictEqual(snapshot);
    expect(after).not.toBe(before);
    expect(Object.values(after.policies)[0]).toMatchObject({ successes: 1, failures: 1 });
  });

  it("survives JSON (a Durable Object's storage) and reads back through its schema", () => {
    const tally = tallied();
    const stored = tlsRptTally.parse(JSON.parse(JSON.stringify(tally)));
    expect(stored).toStrictEqual(tally);
    const more = recordSession(stored, SESSIONS[2]!);
    const report = buildReport({ ...REPORT_BASE, tally: more, policyDomain: "company-y.example" });
    expect(report.policies[0]!["failure-details"]![0]!["failed-session-count"]).toBe(3);
  });

  it.each([
    ["a negative count", (t: Record<string, any>) => (Object.values(t.policies)[0] as any).successes--],
    [
      "an unknown result type",
      (t: Record<string, any>) => ((Object.values((Object.values(t.policies)[0] as any).details)[0] as any).failure.resultType = "x"),
    ],
    ["an extra key", (t: Record<string, any>) => (t.extra = 1)],
  ])("a stored tally with %s is refused", (_name, spoil) => {
    const tally = JSON.parse(JSON.stringify(recordSession(emptyTally(), SESSIONS[2]!)));
    (Object.values(tally.policies)[0] as any).successes = 0;
    spoil(tally);
    expect(tlsRptTally.safeParse(tally).success).toBe(false);
  });
});

describe("the report's file name (RFC 8460 §5.1)", () => {
  const start = new Date(1013662812 * 1000);
  const end = new Date(1013749130 * 1000);

  it.each([
    [
      { submitter: "mail.sender.example", policyDomain: "example.com", start, end },
      "mail.sender.example!example.com!1013662812!1013749130.json.gz",
    ],
    [
      { submitter: "mail.sender.example", policyDomain: "example.com", start, end, uniqueId: "a1B2" },
      "mail.sender.example!example.com!1013662812!1013749130!a1B2.json.gz",
    ],
    [
      { submitter: "lasthop.example", policyDomain: "company-y.example", start: new Date(1013662812_999), end: new Date(1013749130_500) },
      "lasthop.example!company-y.example!1013662812!1013749130.json.gz",
    ],
  ])("%j → %s", (input, name) => {
    expect(reportFileName(input)).toBe(name);
  });

  it.each([
    { submitter: "a!b.example", policyDomain: "example.com", start, end },
    { submitter: "mail.sender.example", policyDomain: "../example.com/x", start, end },
    { submitter: "mail.sender.example", policyDomain: "example.com", start, end, uniqueId: "a-1" },
    { submitter: "mail.sender.example", policyDomain: "example.com", start, end, uniqueId: "" },
  ])("refuses %j", (input) => {
    expect(() => reportFileName(input)).toThrow(RangeError);
  });
});

describe("delivery (RFC 8460 §5.3, §5.4)", () => {
  const report = buildReport({ ...REPORT_BASE, tally: tallied(), policyDomain: "company-y.example" });

  it("gzips the report's JSON (round trip through node:zlib)", async () => {
    const gz = await gzipJson(report);
    expect(gz).toBeInstanceOf(Uint8Array);
    expect([gz[0], gz[1]]).toEqual([0x1f, 0x8b]);
    expect(JSON.parse(gunzipSync(gz).toString("utf8"))).toStrictEqual(report);
  });

  it("mails it as multipart/report; report-type=tlsrpt, read back by postal-mime", async () => {
    // Big enough for several base64 lines (and random, so gzip cannot shrink it).
    const gz = new Uint8Array([...(await gzipJson(report)), ...crypto.getRandomValues(new Uint8Array(300))]);
    const fileName = reportFileName({
      submitter: "lasthop.example",
      policyDomain: "company-y.example",
      start: REPORT_BASE.start,
      end: REPORT_BASE.end,
      uniqueId: "r1",
    });
    const raw = reportEmail({
      from: "tlsrpt@lasthop.example",
      to: "sts-reports@company-y.example",
      submitter: "lasthop.example",
      policyDomain: "company-y.example",
      reportId: "5065427c-23d3-47ca-b6e0-946ea0e8c4be@lasthop.example",
      gz,
      fileName,
      date: new Date("2016-04-02T01:02:03Z"),
      messageId: "tlsrpt-5065427c@lasthop.example",
    });

    // CRLF only, every line within 78 octets, the base64 within 76.
    expect(raw.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    expect(raw.endsWith("\r\n")).toBe(true);
    expect(raw.split("\r\n").every((line) => line.length <= 78)).toBe(true);

    const mail = await PostalMime.parse(raw);
    const header = (key: string) => mail.headers.filter((h) => h.key === key).map((h) => h.value);
    expect(mail.subject).toBe(
      "Report Domain: company-y.example Submitter: lasthop.example Report-ID: <5065427c-23d3-47ca-b6e0-946ea0e8c4be@lasthop.example>",
    );
    expect(mail.from?.address).toBe("tlsrpt@lasthop.example");
    expect(mail.to?.map((a) => a.address)).toEqual(["sts-reports@company-y.example"]);
    expect(mail.messageId).toBe("<tlsrpt-5065427c@lasthop.example>");
    expect(new Date(mail.date!).toISOString()).toBe("2016-04-02T01:02:03.000Z");
    expect(header("tls-report-domain")).toEqual(["company-y.example"]);
    expect(header("tls-report-submitter")).toEqual(["lasthop.example"]);
    expect(header("mime-version")).toEqual(["1.0"]);
    expect(header("content-type")[0]!.replace(/\s+/g, " ")).toMatch(/^multipart\/report; report-type="tlsrpt"; boundary="[^"]+"$/);
    expect(mail.text?.trim()).toBe("This is an aggregate TLS report from lasthop.example for company-y.example.");

    expect(mail.attachments).toHaveLength(1);
    const [attachment] = mail.attachments;
    expect(attachment!.mimeType).toBe("application/tlsrpt+gzip");
    expect(attachment!.disposition).toBe("attachment");
    expect(attachment!.filename).toBe("lasthop.example!company-y.example!1459468800!1459555199!r1.json.gz");
    expect(new Uint8Array(attachment!.content as ArrayBuffer)).toEqual(gz);

    const base64 = raw.split("\r\n\r\n").at(-1)!.split("\r\n").slice(0, -2);
    expect(base64.length).toBeGreaterThan(2);
    expect(base64.slice(0, -1).every((line) => line.length === 76)).toBe(true);
  });

  it.each([
    ["a line break in From", { from: "a@x.example\r\nBcc: victim@x.example" }],
    ["a line break in the report id", { reportId: "x\n" }],
    ["a quote in the file name", { fileName: 'a".json.gz' }],
    ["a word too long to fold", { submitter: "a".repeat(1000) }],
  ])("refuses %s", (_name, spoil) => {
    const input = {
      from: "tlsrpt@lasthop.example",
      to: "sts-reports@company-y.example",
      submitter: "lasthop.example",
      policyDomain: "company-y.example",
      reportId: "1@lasthop.example",
      gz: new Uint8Array([1, 2, 3]),
      fileName: "a.json.gz",
      date: new Date(0),
      messageId: "m@lasthop.example",
    };
    expect(() => reportEmail({ ...input, ...spoil })).toThrow(RangeError);
  });

  it("POSTs it to an https rua as application/tlsrpt+gzip, leaving the fetch to the caller", async () => {
    const gz = await gzipJson(report);
    const { url, init } = reportPost("https://reporting.example.com/v1/tlsrptv1", gz);
    expect(url).toBe("https://reporting.example.com/v1/tlsrptv1");
    expect(init.method).toBe("POST");
    expect(new Headers(init.headers).get("content-type")).toBe("application/tlsrpt+gzip");
    const request = new Request(url, init);
    expect(JSON.parse(gunzipSync(new Uint8Array(await request.arrayBuffer())).toString("utf8"))).toStrictEqual(report);
  });

  it("refuses to POST anywhere but https", () => {
    expect(() => reportPost("http://reporting.example.com/v1/tlsrptv1", new Uint8Array(1))).toThrow(RangeError);
  });
});
