// INBOUND_DOMAINS entries, the pure part: a domain as listed, or `<label>.*` (that label in front
// of any domain of two labels or more), as the inbound SMTP server applies them at RCPT TO.
import { describe, expect, it } from "vitest";
import { inboundDomainMatcher, validInboundEntry } from "../../bridge/src/smtp/inbound-domains.ts";

describe("inboundDomainMatcher", () => {
  const accepts = inboundDomainMatcher(["bounces.lasthop.test", "LH-Bounces.*"]);
  it.each<[string, boolean]>([
    ["bounces.lasthop.test", true],
    ["lh-bounces.example.com", true],
    ["lh-bounces.mail.example.co.uk", true],
    ["lh-bounces.xn--bcher-kva.example", true],
    ["mx.bounces.lasthop.test", false], // a subdomain of a listed domain is not it
    ["lasthop.test", false],
    ["lh-bounces.com", false], // the label before a top-level domain alone
    ["lh-bounces", false],
    ["x.lh-bounces.example.com", false], // the label must come first
    ["lh-bounces-x.example.com", false],
    ["lh-bounces..example.com", false],
    ["lh-bounces.-bad.example", false],
    [`lh-bounces.${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(51)}`, false], // 254 octets
    ["[192.0.2.1]", false],
  ])("%s → %s", (domain, expected) => {
    expect(accepts(domain)).toBe(expected);
  });

  it("without a `.*` entry only the listed names are taken", () => {
    const only = inboundDomainMatcher(["bounces.lasthop.test"]);
    expect(only("bounces.lasthop.test")).toBe(true);
    expect(only("lh-bounces.example.com")).toBe(false);
  });
});

describe("validInboundEntry", () => {
  it.each<[string, boolean]>([
    ["bounces.example.com", true],
    ["lh-bounces.*", true],
    ["x.*", true],
    ["*", false],
    ["*.example.com", false],
    ["lh-bounces.*.com", false],
    ["lh.bounces.*", false],
    ["-x.*", false],
    ["lh_bounces.*", false],
    ["localhost", false],
  ])("%s → %s", (entry, expected) => {
    expect(validInboundEntry(entry)).toBe(expected);
  });
});
