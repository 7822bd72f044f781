import { describe, expect, it } from "vitest";
import { deliverySection, destinationFor, domainMatches, mxHost, needsMx, paced, poolFor } from "../../src/core/ip-pools.ts";
import { reputationAlert } from "../../src/core/pool-reputation.ts";

const section = deliverySection.parse({
  pools: [
    { name: "transactional", addresses: [{ ip: "127.0.0.2" }] },
    { name: "marketing", addresses: [{ ip: "127.0.0.3", warmup: { startedOn: "2026-12-01" } }, { ip: "127.0.0.4" }], overflow: true },
  ],
  defaultPool: "transactional",
  poolRules: [
    { tag: "newsletter", pool: "marketing" },
    { tag: "reactivation", domain: "*.example.org", pool: "default" },
    { domain: "partner.example", pool: "marketing" },
  ],
  destinations: [
    { name: "google", domains: ["gmail.com", "googlemail.com"], perMinute: 600, concurrency: 20 },
    { name: "yahoo", domains: ["yahoo.com", "*.yahoo.com"], perMinute: 300 },
  ],
});

describe("poolFor: the first rule a message matches, else the default pool", () => {
  it.each([
    [["newsletter"], "gmail.com", "marketing"],
    [["reactivation"], "mail.example.org", "default"],
    [["reactivation"], "example.org", "transactional"],
    [[], "partner.example", "marketing"],
    [undefined, "gmail.com", "transactional"],
  ])("tags %j to %s → %s", (tags, domain, pool) => {
    expect(poolFor(section, { tags, domain })).toBe(pool);
  });

  it("without a default pool, the bridge's own address", () => {
    expect(poolFor(deliverySection.parse({}), { domain: "x.example" })).toBe("default");
  });
});

describe("destinationFor and patterns", () => {
  it.each([
    ["gmail.com", "google"],
    ["googlemail.com", "google"],
    ["mail.yahoo.com", "yahoo"],
    ["yahoo.com", "yahoo"],
    ["notyahoo.com", undefined],
    ["example.com", undefined],
  ])("%s → %s", (domain, name) => {
    expect(destinationFor(section, domain)?.name).toBe(name);
  });

  it("`*.` is every name under the domain, never the domain itself or a look-alike", () => {
    expect(domainMatches("*.yahoo.com", "a.b.yahoo.com")).toBe(true);
    expect(domainMatches("*.yahoo.com", "yahoo.com")).toBe(false);
    expect(domainMatches("*.yahoo.com", "evilyahoo.com")).toBe(false);
  });

  it("patterns are lower-cased on the way in", () => {
    const s = deliverySection.parse({ destinations: [{ name: "m", domains: ["Outlook.COM"], perMinute: 1 }] });
    expect(destinationFor(s, "outlook.com")?.name).toBe("m");
  });
});

describe("destinations by MX host", () => {
  const byMx = deliverySection.parse({
    destinations: [
      { name: "listed", domains: ["example.com"], perMinute: 10 },
      { name: "google", domains: ["gmail.com"], mx: ["*.google.com"], perMinute: 600 },
      { name: "microsoft", mx: ["*.mail.protection.outlook.com"], perMinute: 300 },
    ],
  });

  it.each([
    ["acme.example", ["aspmx.l.google.com", "alt1.aspmx.l.google.com"], "google"],
    ["contoso.example", ["contoso-example.mail.protection.outlook.com"], "microsoft"],
    ["other.example", ["mx.other.example"], undefined],
    // A domain entry wins over what its MX says.
    ["example.com", ["aspmx.l.google.com"], "listed"],
    ["gmail.com", [], "google"],
  ])("%s with MX %j → %s", (domain, hosts, name) => {
    expect(destinationFor(byMx, domain, hosts)?.name).toBe(name);
  });

  it("asks for MX only where it could decide", () => {
    expect(needsMx(byMx, "acme.example")).toBe(true);
    expect(needsMx(byMx, "gmail.com")).toBe(false);
    expect(needsMx(section, "acme.example")).toBe(false);
  });

  it.each([
    ["10 aspmx.l.google.com.", "aspmx.l.google.com"],
    ["5 MX.Example.NET", "mx.example.net"],
    ["0 .", null],
    ["garbage", null],
  ])("MX data %j → %j", (data, host) => {
    expect(mxHost(data)).toBe(host);
  });
});

describe("the section refuses what cannot work, with the path", () => {
  it.each([
    [{ pools: [{ name: "default", addresses: [{ ip: "127.0.0.2" }] }] }, ["pools", 0, "name"]],
    [
      {
        pools: [
          { name: "a", addresses: [{ ip: "127.0.0.2" }] },
          { name: "a", addresses: [{ ip: "127.0.0.3" }] },
        ],
      },
      ["pools", 1, "name"],
    ],
    [
      {
        pools: [
          { name: "a", addresses: [{ ip: "127.0.0.2" }] },
          { name: "b", addresses: [{ ip: "127.0.0.2" }] },
        ],
      },
      ["pools", 1, "addresses", 0, "ip"],
    ],
    [{ defaultPool: "nowhere" }, ["defaultPool"]],
    [{ poolRules: [{ tag: "x", pool: "nowhere" }] }, ["poolRules", 0, "pool"]],
    [{ poolRules: [{ pool: "default" }] }, ["poolRules", 0]],
    [{ pools: [{ name: "a", addresses: [{ ip: "not-an-ip" }] }] }, ["pools", 0, "addresses", 0, "ip"]],
    [
      { pools: [{ name: "a", addresses: [{ ip: "127.0.0.2", warmup: { startedOn: "06/12/2026" } }] }] },
      ["pools", 0, "addresses", 0, "warmup", "startedOn"],
    ],
    [{ destinations: [{ name: "g", domains: ["gmail"], perMinute: 10 }] }, ["destinations", 0, "domains", 0]],
    [{ destinations: [{ name: "g", domains: ["gmail.com"], perMinute: 0 }] }, ["destinations", 0, "perMinute"]],
    [{ destinations: [{ name: "g", perMinute: 5 }] }, ["destinations", 0]],
  ])("%j", (input, path) => {
    const result = deliverySection.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error!.issues.map((i) => i.path)).toContainEqual(path);
  });

  it("an empty section is valid and asks nothing of the relay", () => {
    expect(paced(deliverySection.parse({}))).toBe(false);
    expect(paced(undefined)).toBe(false);
    expect(paced(section)).toBe(true);
  });
});

describe("reputationAlert", () => {
  const thresholds = { bounceRate: 0.05, complaintRate: 0.001, minSent: 500 };
  it.each([
    [{ sent: 499, bounced: 400, complaints: 400 }, null],
    [{ sent: 1_000, bounced: 50, complaints: 1 }, null],
    [
      { sent: 1_000, bounced: 51, complaints: 0 },
      { kind: "bounce_rate", rate: 0.051, threshold: 0.05 },
    ],
    [
      { sent: 1_000, bounced: 0, complaints: 2 },
      { kind: "complaint_rate", rate: 0.002, threshold: 0.001 },
    ],
    // Both over: complaints first, the signal receivers weigh most.
    [
      { sent: 1_000, bounced: 100, complaints: 5 },
      { kind: "complaint_rate", rate: 0.005, threshold: 0.001 },
    ],
  ])("%j → %j", (counts, alert) => {
    expect(reputationAlert(counts, thresholds)).toEqual(alert);
  });
});
