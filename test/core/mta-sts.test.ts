// MTA-STS's pure rules (RFC 8461): the TXT record, the policy file, MX patterns, the cache's
// decisions and the TLS-RPT names of handshake failures, table-driven over the RFC's own examples.
import { describe, expect, it } from "vitest";
import {
  cachePolicy,
  mxMatches,
  parseStsPolicy,
  parseStsRecord,
  policyAllowsMx,
  stsStep,
  tlsFailureOf,
  type StsPolicy,
} from "../../src/core/mta-sts.ts";

describe("parseStsRecord (§3.1)", () => {
  it.each([
    [["v=STSv1; id=20160831085700Z;"], { kind: "record", id: "20160831085700Z" }],
    [["v=STSv1;id=abc123"], { kind: "record", id: "abc123" }],
    [["v=STSv1; id=a1; ext_1=value"], { kind: "record", id: "a1" }],
    [["google-site-verification=x", "v=STSv1; id=7"], { kind: "record", id: "7" }],
    [[], { kind: "none" }],
    [["v=spf1 -all"], { kind: "none" }],
    [["v=STSv10; id=1"], { kind: "none" }],
  ])("%j → %j", (txts, expected) => {
    expect(parseStsRecord(txts)).toEqual(expected);
  });

  it.each([
    [["v=STSv1; id=1", "v=STSv1; id=2"], "more than one"],
    [["v=STSv1;"], "no id"],
    [["v=STSv1; id=has-dash"], "id must be"],
    [["v=STSv1; id=012345678901234567890123456789012"], "id must be"],
    [["v=STSv1; id=1; bad field"], "not key=value"],
  ])("%j is invalid (%s), which counts as no policy", (txts, reason) => {
    const record = parseStsRecord(txts);
    expect(record.kind).toBe("invalid");
    expect(record.kind === "invalid" && record.reason).toContain(reason);
  });
});

describe("parseStsPolicy (§3.2)", () => {
  it("the RFC's example, CRLF or LF, mx lines in order, max_age in seconds", () => {
    const text =
      "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";
    const expected: StsPolicy = { mode: "enforce", maxAge: 604_800, mx: ["mail.example.com", "*.example.net", "backupmx.example.com"] };
    expect(parseStsPolicy(text)).toEqual({ ok: true, policy: expected });
    expect(parseStsPolicy(text.replaceAll("\r\n", "\n"))).toEqual({ ok: true, policy: expected });
  });

  it.each([
    ["version: STSv1\nmode: testing\nmx: MX.Example.COM.\nmax_age: 86400", { mode: "testing", maxAge: 86_400, mx: ["mx.example.com"] }],
    ["version: STSv1\nmode: none\nmax_age: 0", { mode: "none", maxAge: 0, mx: [] }],
    [
      "version: STSv1\nmode: enforce\nmode: none\nmx: a.example\nmax_age: 9999999999\nfuture_field: x",
      { mode: "enforce", maxAge: 31_557_600, mx: ["a.example"] },
    ],
  ])("%j", (text, policy) => {
    expect(parseStsPolicy(text)).toEqual({ ok: true, policy });
  });

  it.each([
    ["mode: enforce\nmx: a.example\nmax_age: 1", "version"],
    ["version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1", "version"],
    ["version: STSv1\nmode: report\nmx: a.example\nmax_age: 1", "mode"],
    ["version: STSv1\nmode: enforce\nmx: a.example", "max_age"],
    ["version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1", "max_age"],
    ["version: STSv1\nmode: enforce\nmax_age: 60", "no mx"],
    ["version: STSv1\nmode: enforce\nmx: *\nmax_age: 60", "mx"],
    ["version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 60", "mx"],
    ["<html>not a policy</html>", "not key: value"],
  ])("%j is invalid (%s)", (text, reason) => {
    const parsed = parseStsPolicy(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });
});

describe("mxMatches (§4.1)", () => {
  it.each([
    ["mail.example.com", "mail.example.com", true],
    ["mail.example.com", "MAIL.example.com.", true],
    ["*.example.net", "mx1.example.net", true],
    ["*.example.net", "example.net", false],
    ["*.example.net", "a.b.example.net", false],
    ["*.example.net", "mx1.example.network", false],
    ["mail.example.com", "mail2.example.com", false],
  ])("%s vs %s → %s", (pattern, host, expected) => {
    expect(mxMatches(pattern, host)).toBe(expected);
  });

  it("a policy allows a host when any of its patterns matches", () => {
    const policy: StsPolicy = { mode: "enforce", maxAge: 60, mx: ["mail.example.com", "*.example.net"] };
    expect(policyAllowsMx(policy, "x.example.net")).toBe(true);
    expect(policyAllowsMx(policy, "mail.example.org")).toBe(false);
  });
});

describe("stsStep (§3.3, §5.1)", () => {
  const policy: StsPolicy = { mode: "enforce", maxAge: 100, mx: ["mx.example.com"] };
  const cached = cachePolicy("id1", policy, 1_000);
  it.each([
    ["a record and nothing cached → fetch", { kind: "record", id: "id1" }, undefined, 2_000, { kind: "fetch", id: "id1" }],
    ["the same id, cache alive → use", { kind: "record", id: "id1" }, cached, 2_000, { kind: "use", cached }],
    [
      "a new id → fetch, the cached one as the fallback",
      { kind: "record", id: "id2" },
      cached,
      2_000,
      { kind: "fetch", id: "id2", fallback: cached },
    ],
    ["the same id, cache lapsed → fetch", { kind: "record", id: "id1" }, cached, 101_001, { kind: "fetch", id: "id1" }],
    ["record gone, cache alive → still the policy", { kind: "none" }, cached, 2_000, { kind: "use", cached }],
    ["DNS failure, cache alive → still the policy", { kind: "error" }, cached, 2_000, { kind: "use", cached }],
    ["invalid record, cache alive → still the policy", { kind: "invalid", reason: "x" }, cached, 2_000, { kind: "use", cached }],
    ["record gone, cache lapsed → none", { kind: "none" }, cached, 101_001, { kind: "none" }],
    ["DNS failure, nothing cached → none", { kind: "error" }, undefined, 2_000, { kind: "none" }],
  ] as const)("%s", (_name, record, cache, now, expected) => {
    expect(stsStep(record, cache, now)).toEqual(expected);
  });

  it("a cached policy lapses max_age seconds after its fetch", () => {
    expect(cachePolicy("x", policy, 5_000)).toEqual({ id: "x", policy, fetchedAt: 5_000, expiresAt: 105_000 });
  });
});

describe("tlsFailureOf (RFC 8460 result types)", () => {
  it.each([
    ["CERT_HAS_EXPIRED", "certificate-expired"],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "certificate-host-mismatch"],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "certificate-not-trusted"],
    ["SELF_SIGNED_CERT_IN_CHAIN", "certificate-not-trusted"],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "certificate-not-trusted"],
    ["ERR_SSL_WRONG_VERSION_NUMBER", "validation-failure"],
    [undefined, "validation-failure"],
  ])("%s → %s", (code, expected) => {
    expect(tlsFailureOf(code)).toBe(expected);
  });
});
