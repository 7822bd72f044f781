/**
 * Sending domains, the pure parts: names, selectors, the records to publish, TXT joining, and
 * DoH answers (in the shape cloudflare-dns.com and dns.google answer) compared with the records.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateDomainKeys } from "../../src/core/domain-keys.ts";
import {
  checkRecord,
  domainName,
  domainStatus,
  expectedRecords,
  joinTxt,
  lookupsFor,
  selectorsFor,
  tagList,
  type DomainRecord,
  type Lookup,
} from "../../src/core/domains.ts";
import { lookup, parseDohAnswer } from "../../src/core/doh.ts";

const PLATFORM = { bounceMxHost: "mx.lasthop.example", spfInclude: "_spf.lasthop.example" };
// A real-length RSA SPKI and Ed25519 key, made at run time.
const rsaSpki = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ format: "der", type: "spki" }).toString("base64");
const edRaw = generateKeyPairSync("ed25519").publicKey.export({ format: "der", type: "spki" }).subarray(-32).toString("base64");
const KEYS = [
  { selector: "lh0102030405r", algorithm: "rsa-sha256" as const, publicKey: rsaSpki },
  { selector: "lh0102030405e", algorithm: "ed25519-sha256" as const, publicKey: edRaw },
];
const RECORDS = expectedRecords("example.com", KEYS, PLATFORM);
const byPurpose = (purpose: string, k = 0) => RECORDS.filter((r) => r.purpose === purpose)[k]!;

describe("domain names", () => {
  it.each([
    ["example.com", "example.com"],
    ["Mail.Example.COM", "mail.example.com"],
    ["xn--bcher-kva.example", "xn--bcher-kva.example"],
    ["a-b.c1.io", "a-b.c1.io"],
    [`${"a".repeat(63)}.com`, `${"a".repeat(63)}.com`],
    [`${"a.".repeat(125)}io`, `${"a.".repeat(125)}io`],
  ])("%s is a domain (as %s)", (input, stored) => {
    expect(domainName.parse(input)).toBe(stored);
  });

  it.each([
    ["", "empty"],
    ["localhost", "one label"],
    ["example.com.", "trailing dot"],
    [".example.com", "empty label"],
    ["exa mple.com", "space"],
    ["_dmarc.example.com", "underscore"],
    ["-a.example.com", "leading hyphen"],
    ["a-.example.com", "trailing hyphen"],
    ["bücher.example", "Unicode (send the A-label)"],
    ["192.168.0.1", "an IPv4 literal"],
    ["[::1]", "an IPv6 literal"],
    ["user@example.com", "an address"],
    [`${"a".repeat(64)}.com`, "a label of 64"],
    [`${"a.".repeat(126)}io`, "254 characters"],
  ])("%j is refused (%s)", (input) => {
    expect(domainName.safeParse(input).success).toBe(false);
  });
});

describe("selectors", () => {
  it("two per domain from 5 random bytes, one per key, valid DNS labels", () => {
    expect(selectorsFor(new Uint8Array([1, 2, 3, 4, 255]))).toEqual({ rsa: "lh01020304ffr", ed25519: "lh01020304ffe" });
    expect(() => selectorsFor(new Uint8Array(4))).toThrow();
  });
});

describe("the records to publish", () => {
  it("DKIM for each key under its selector, the return path's MX and SPF, and an advisory DMARC", () => {
    expect(RECORDS).toEqual([
      {
        type: "TXT",
        name: "lh0102030405r._domainkey.example.com",
        value: `v=DKIM1; k=rsa; p=${rsaSpki}`,
        purpose: "dkim",
        required: true,
        status: "pending",
      },
      {
        type: "TXT",
        name: "lh0102030405e._domainkey.example.com",
        value: `v=DKIM1; k=ed25519; p=${edRaw}`,
        purpose: "dkim",
        required: true,
        status: "pending",
      },
      {
        type: "MX",
        name: "lh-bounces.example.com",
        value: "mx.lasthop.example",
        priority: 10,
        purpose: "return_path",
        required: true,
        status: "pending",
      },
      {
        type: "TXT",
        name: "lh-bounces.example.com",
        value: "v=spf1 include:_spf.lasthop.example ~all",
        purpose: "spf",
        required: true,
        status: "pending",
      },
      { type: "TXT", name: "_dmarc.example.com", value: "v=DMARC1; p=none;", purpose: "dmarc", required: false, status: "pending" },
    ]);
    expect(lookupsFor(RECORDS)).toEqual([
      { name: "lh0102030405r._domainkey.example.com", type: "TXT" },
      { name: "lh0102030405e._domainkey.example.com", type: "TXT" },
      { name: "lh-bounces.example.com", type: "MX" },
      { name: "lh-bounces.example.com", type: "TXT" },
      { name: "_dmarc.example.com", type: "TXT" },
    ]);
  });

  it("generated keys: an RSA SPKI and a raw 32-byte Ed25519 key that WebCrypto imports, private halves PEM", async () => {
    const [rsa, ed] = await generateDomainKeys();
    expect(rsa!.selector).toMatch(/^lh[0-9a-f]{10}r$/);
    expect(ed!.selector).toBe(`${rsa!.selector.slice(0, -1)}e`);
    const b = (s: string) => Buffer.from(s, "base64");
    await crypto.subtle.importKey("spki", b(rsa!.publicKey), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["verify"]);
    expect(b(ed!.publicKey)).toHaveLength(32);
    await crypto.subtle.importKey("raw", b(ed!.publicKey), { name: "Ed25519" }, false, ["verify"]);
    for (const key of [rsa!, ed!])
      expect(key.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/);
  });
});

describe("TXT answers are joined (RFC 1035 §5.1, RFC 7208 §3.3)", () => {
  it.each([
    ['"v=spf1 include:_spf.google.com ~all"', "v=spf1 include:_spf.google.com ~all"],
    [
      '"v=DKIM1; k=rsa; p=MIIBIjANBgkqh" "kiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"',
      "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    ],
    ['"a" "" "b"', "ab"],
    ['"say \\"hi\\"" "\\\\"', 'say "hi"\\'],
    ['"caf\\195\\169"', "caf\u00c3\u00a9"],
    ["v=spf1 -all", "v=spf1 -all"],
    ['  "spaced"  ', "spaced"],
  ])("%s → %s", (data, text) => {
    expect(joinTxt(data)).toBe(text);
  });
});

describe("DoH JSON answers", () => {
  it.each<[string, unknown, "TXT" | "MX", Lookup]>([
    [
      "TXT, one record in two strings (as cloudflare-dns.com answers a long DKIM key)",
      {
        Status: 0,
        TC: false,
        RD: true,
        RA: true,
        AD: false,
        CD: false,
        Question: [{ name: "s1._domainkey.example.com", type: 16 }],
        Answer: [{ name: "s1._domainkey.example.com", type: 16, TTL: 300, data: '"v=DKIM1; k=rsa; " "p=AAAA"' }],
      },
      "TXT",
      { kind: "answer", values: ["v=DKIM1; k=rsa; p=AAAA"] },
    ],
    [
      "MX through a CNAME: only the MX counts",
      {
        Status: 0,
        Answer: [
          { name: "lh-bounces.example.com", type: 5, TTL: 300, data: "bounces.lasthop.example." },
          { name: "bounces.lasthop.example", type: 15, TTL: 300, data: "10 mx.lasthop.example." },
        ],
      },
      "MX",
      { kind: "answer", values: ["10 mx.lasthop.example."] },
    ],
    [
      "NXDOMAIN (with the zone's SOA in Authority)",
      {
        Status: 3,
        Question: [{ name: "nope.example.com", type: 16 }],
        Authority: [
          { name: "example.com", type: 6, TTL: 1800, data: "ns.icann.org. noc.dns.icann.org. 2024081457 7200 3600 1209600 3600" },
        ],
      },
      "TXT",
      { kind: "nxdomain" },
    ],
    ["NOERROR, no data", { Status: 0, Question: [{ name: "example.com", type: 15 }] }, "MX", { kind: "answer", values: [] }],
    ["SERVFAIL", { Status: 2 }, "TXT", { kind: "error", message: "the resolver answered RCODE 2" }],
    ["not DNS JSON", { error: "bad request" }, "TXT", { kind: "error", message: "the resolver's answer is not DNS JSON" }],
  ])("%s", (_, body, type, expected) => {
    expect(parseDohAnswer(body, type)).toEqual(expected);
  });

  it("a resolver URL that is not a URL is a failed lookup, not a throw", async () => {
    expect(await lookup("not a url", "example.com", "TXT")).toMatchObject({ kind: "error" });
  });
});

const answer = (...values: string[]): Lookup => ({ kind: "answer", values });

describe("each record compared with DNS", () => {
  it.each<[string, DomainRecord, Lookup, DomainRecord["status"]]>([
    ["DKIM as published", byPurpose("dkim"), answer(byPurpose("dkim").value), "verified"],
    [
      "DKIM with other spacing, tag order and p= folded",
      byPurpose("dkim"),
      answer(`p=${rsaSpki.slice(0, 100)} ${rsaSpki.slice(100)} ;k=rsa;  v=DKIM1`),
      "verified",
    ],
    ["DKIM without k= (rsa is the default)", byPurpose("dkim"), answer(`v=DKIM1; p=${rsaSpki}`), "verified"],
    ["DKIM Ed25519", byPurpose("dkim", 1), answer(`v=DKIM1;k=ed25519;p=${edRaw}`), "verified"],
    ["DKIM Ed25519 key published as k=rsa", byPurpose("dkim", 1), answer(`v=DKIM1; k=rsa; p=${edRaw}`), "mismatch"],
    ["DKIM with another key", byPurpose("dkim"), answer(`v=DKIM1; k=rsa; p=${edRaw}`), "mismatch"],
    ["DKIM revoked (empty p=)", byPurpose("dkim"), answer("v=DKIM1; k=rsa; p="), "mismatch"],
    ["DKIM beside another TXT", byPurpose("dkim"), answer("google-site-verification=abc", byPurpose("dkim").value), "verified"],
    ["DKIM name holds only other TXT", byPurpose("dkim"), answer("google-site-verification=abc"), "missing"],
    ["DKIM NXDOMAIN", byPurpose("dkim"), { kind: "nxdomain" }, "missing"],
    ["DKIM lookup failed", byPurpose("dkim"), { kind: "error", message: "down" }, "pending"],
    ["SPF as published", byPurpose("spf"), answer("v=spf1 include:_spf.lasthop.example ~all"), "verified"],
    ["SPF with more, and +include", byPurpose("spf"), answer("v=spf1 ip4:192.0.2.1 +include:_SPF.lasthop.example -all"), "verified"],
    ["SPF without the include", byPurpose("spf"), answer("v=spf1 include:_spf.google.com ~all"), "mismatch"],
    ["SPF with the include soft-failed", byPurpose("spf"), answer("v=spf1 ~include:_spf.lasthop.example -all"), "mismatch"],
    ["two SPF records (permerror)", byPurpose("spf"), answer("v=spf1 include:_spf.lasthop.example ~all", "v=spf1 -all"), "mismatch"],
    ["no SPF record among TXT", byPurpose("spf"), answer("hello"), "missing"],
    ["MX to the platform", byPurpose("return_path"), answer("10 mx.lasthop.example."), "verified"],
    ["MX in capitals, other priority", byPurpose("return_path"), answer("20 MX.Lasthop.Example"), "verified"],
    ["MX elsewhere", byPurpose("return_path"), answer("10 mx.google.com."), "mismatch"],
    ["MX NOERROR without data", byPurpose("return_path"), answer(), "missing"],
    ["DMARC any policy", byPurpose("dmarc"), answer("v=DMARC1; p=reject; rua=mailto:d@example.com"), "verified"],
    ["DMARC missing", byPurpose("dmarc"), { kind: "nxdomain" }, "missing"],
  ])("%s → %s", (_, record, lookup, status) => {
    const checked = checkRecord(record, lookup);
    expect(checked.status).toBe(status);
    expect({ ...checked, status: record.status, found: undefined }).toEqual({ ...record, found: undefined });
    if (lookup.kind === "answer" && lookup.values.length > 0) expect(checked.found).toEqual(lookup.values);
    else expect(checked.found).toBeUndefined();
  });

  it("a tag list: whitespace inside values dropped, names lower-cased, the first of a repeated tag kept", () => {
    expect(Object.fromEntries(tagList(" V=DKIM1 ; p = ab\r\n cd ; p=zz; junk"))).toEqual({ v: "DKIM1", p: "abcd" });
  });
});

describe("the domain's status", () => {
  const with_ = (statuses: DomainRecord["status"][]) => RECORDS.map((r, i) => ({ ...r, status: statuses[i]! }));
  it.each<[string, DomainRecord["status"][], "pending" | "verified", "pending" | "verified"]>([
    ["every required record verified, DMARC missing", ["verified", "verified", "verified", "verified", "missing"], "pending", "verified"],
    ["one DKIM key missing", ["verified", "missing", "verified", "verified", "verified"], "pending", "pending"],
    ["a mismatch unverifies a verified domain", ["verified", "verified", "mismatch", "verified", "verified"], "verified", "pending"],
    ["a failed lookup keeps verified", ["verified", "pending", "verified", "verified", "verified"], "verified", "verified"],
    ["a failed lookup keeps pending", ["verified", "verified", "verified", "pending", "verified"], "pending", "pending"],
  ])("%s", (_, statuses, previous, next) => {
    expect(domainStatus(with_(statuses), previous)).toBe(next);
  });
});
