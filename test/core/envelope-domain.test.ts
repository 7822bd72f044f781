import { describe, expect, it } from "vitest";
import { RETURN_PATH_LABEL, expectedRecords, returnPathHost } from "../../src/core/domains.ts";
import { envelopeDomain, messageIdFromVerp, verpAddress } from "../../src/core/email.ts";

const ID = "0b3f6c1e-8a1d-4c2e-9f3a-5d6e7f8a9b0c";

describe("envelopeDomain: the VERP domain of a message", () => {
  it.each<[string, string, string[], string]>([
    ["From a verified domain: its return-path host", "news@example.com", ["example.com"], "lh-bounces.example.com"],
    ["From in upper case", "News@EXAMPLE.com", ["example.com"], "lh-bounces.example.com"],
    ["a verified name stored in another case", "news@example.com", ["Example.COM"], "lh-bounces.example.com"],
    ["an envelope address with its closing >", "<news@example.com>", ["example.com"], "lh-bounces.example.com"],
    ["one of several verified domains", "a@mail.example.org", ["example.com", "mail.example.org"], "lh-bounces.mail.example.org"],
    ["no verified domain: the bounce domain", "news@example.com", [], "bounces.platform.test"],
    ["a subdomain of a verified domain is not it", "news@sub.example.com", ["example.com"], "bounces.platform.test"],
    ["a parent of a verified domain is not it", "news@example.com", ["mail.example.com"], "bounces.platform.test"],
    ["a domain merely ending alike", "news@badexample.com", ["example.com"], "bounces.platform.test"],
  ])("%s", (_, from, verified, expected) => {
    expect(envelopeDomain(from, verified, "bounces.platform.test")).toBe(expected);
  });

  it("the VERP address on it names the message, and the return-path record is the same host", () => {
    const domain = envelopeDomain("news@example.com", ["example.com"], "bounces.platform.test");
    expect(verpAddress(ID, domain)).toBe(`bounce+${ID}@${RETURN_PATH_LABEL}.example.com`);
    expect(messageIdFromVerp(verpAddress(ID, domain))).toBe(ID);
    const records = expectedRecords("example.com", [], { bounceMxHost: "mx.platform.test", spfInclude: "spf.platform.test" });
    expect(records.filter((r) => r.purpose === "return_path" || r.purpose === "spf").map((r) => r.name)).toEqual([
      returnPathHost("example.com"),
      returnPathHost("EXAMPLE.com"),
    ]);
  });
});
