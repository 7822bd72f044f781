// MTA-STS in direct delivery (RFC 8461), through the bridge's real interface (signed
// POST /v1/smtp/send): MX hosts on 127.0.0.2–5 sharing one port (as MX hosts share port 25),
// each with its own certificate from a test CA (valid, expired, for another name, or no STARTTLS),
// a local HTTPS policy server for mta-sts.<domain> (names resolved by the injected resolver, the
// port by SMTP_MTA_STS_PORT), and `_mta-sts` TXT records in the resolver. The cache's rules are
// checked on StsPolicies itself with a clock of the test's.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import type { SmtpResolver } from "../../bridge/src/smtp/dns.ts";
import { StsPolicies } from "../../bridge/src/smtp/mta-sts.ts";
import {
  batchResults,
  BRIDGE_SMTP_PATH,
  EDGE_MTA_STS_PATH,
  EDGE_TLS_INBOUND_PATH,
  tlsSessionBatch,
  type BatchResults,
} from "../../src/core/bridge.ts";
import { issueCertificate, makeCa, type TestCa } from "./fixtures/tls.ts";
import { startPolicyServer, stsPolicy as policy, type PolicyServer } from "./fixtures/mta-sts.ts";
import { startFakeEdge } from "./fixtures/fake-edge.ts";
import { waitFor } from "../wait.ts";
import { dnsError, signedPost, smtpItem, startSmtpFixture, testConfig, type SmtpFixture } from "./smtp-fixture.ts";

const MX = {
  good: { host: "mx-good.sts.test", ip: "127.0.0.2" },
  expired: { host: "mx-expired.sts.test", ip: "127.0.0.3" },
  mismatch: { host: "mx-mismatch.sts.test", ip: "127.0.0.4" },
  plain: { host: "mx-plain.sts.test", ip: "127.0.0.5" },
} as const;
const POLICY_IP = "127.0.0.6";
const DAY = 86_400_000;

const txt = new Map<string, string[]>();
const mx = new Map<string, Array<{ exchange: string; priority: number }>>();
const addresses = new Map<string, string[]>([
  ...Object.values(MX).map((m) => [m.host, [m.ip]] as [string, string[]]),
  ["mta-sts.badcert.test", [POLICY_IP]],
]);

const resolver: SmtpResolver & { txtQueries: string[] } = {
  txtQueries: [],
  async resolveMx(domain) {
    const records = mx.get(domain);
    if (!records) throw dnsError("ENOTFOUND");
    return records;
  },
  async resolveAddresses(host) {
    const found = addresses.get(host) ?? (host.startsWith("mta-sts.") ? [POLICY_IP] : undefined);
    if (!found) throw dnsError("ENOTFOUND");
    return found;
  },
  async resolveTxt(name) {
    this.txtQueries.push(name);
    const records = txt.get(name);
    if (!records) throw dnsError("ENOTFOUND");
    return records;
  },
};

/** A domain with MX hosts and (optionally) a policy. */
function publish(domain: string, hosts: string[], sts?: { id: string; body: string }): void {
  mx.set(
    domain,
    hosts.map((exchange, i) => ({ exchange, priority: 10 * (i + 1) })),
  );
  if (sts) {
    txt.set(`_mta-sts.${domain}`, [`v=STSv1; id=${sts.id};`]);
    policyServer.policies.set(domain, { body: sts.body });
  }
}

let ca: TestCa;
let fixtures: Record<keyof typeof MX, SmtpFixture>;
let policyServer: PolicyServer;
let bridge: Bridge;

async function startMxFixtures(): Promise<Record<keyof typeof MX, SmtpFixture>> {
  const certs = {
    good: issueCertificate(ca, [MX.good.host]),
    expired: issueCertificate(ca, [MX.expired.host], { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) }),
    mismatch: issueCertificate(ca, ["mail.somewhere-else.test"]),
    plain: issueCertificate(ca, [MX.plain.host]),
  };
  // One port for all (direct mode has one SMTP_DIRECT_PORT): the first fixture picks it.
  const good = await startSmtpFixture({ host: MX.good.ip, certificate: certs.good });
  const port = good.port;
  return {
    good,
    expired: await startSmtpFixture({ host: MX.expired.ip, port, certificate: certs.expired }),
    mismatch: await startSmtpFixture({ host: MX.mismatch.ip, port, certificate: certs.mismatch }),
    plain: await startSmtpFixture({ host: MX.plain.ip, port, certificate: certs.plain, tls: "none" }),
  };
}

beforeAll(async () => {
  ca = makeCa();
  fixtures = await startMxFixtures();
  // The policy server's certificate covers mta-sts.<domain> of every domain here but badcert.test.
  const domains = [
    "good",
    "expired",
    "onlybad",
    "notlisted",
    "plain",
    "testing",
    "cache",
    "invalid",
    "html",
    "redirect",
    "brokenpolicy",
  ].map((d) => `${d}.test`);
  policyServer = await startPolicyServer(ca, domains, POLICY_IP);
  const policyPort = policyServer.port;
  bridge = await startBridge(testConfig({ directPort: fixtures.good.port, ca: ca.cert, mtaStsPort: policyPort }), {
    smtpResolver: resolver,
  });

  publish("good.test", [MX.good.host], { id: "g1", body: policy("enforce", [MX.good.host]) });
  publish("expired.test", [MX.expired.host, MX.good.host], { id: "e1", body: policy("enforce", ["*.sts.test"]) });
  publish("onlybad.test", [MX.mismatch.host, MX.expired.host], { id: "o1", body: policy("enforce", ["*.sts.test"]) });
  publish("notlisted.test", [MX.good.host], { id: "n1", body: policy("enforce", ["mail.notlisted.test"]) });
  publish("plain.test", [MX.plain.host], { id: "p1", body: policy("enforce", [MX.plain.host]) });
  publish("testing.test", [MX.expired.host], { id: "t1", body: policy("testing", [MX.expired.host]) });
  publish("nopolicy.test", [MX.mismatch.host]);
  publish("brokenpolicy.test", [MX.mismatch.host], { id: "b1", body: "version: STSv1\nmode: enforce\nmax_age: 60" });
});

afterAll(async () => {
  await bridge?.close();
  await policyServer?.close();
  for (const fixture of Object.values(fixtures ?? {})) await fixture.close();
});

beforeEach(() => {
  for (const fixture of Object.values(fixtures)) fixture.reset();
});

async function deliver(rcptTo: string): Promise<BatchResults["results"][number]> {
  const item = smtpItem({ rcptTo, relay: { mode: "direct" } });
  const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
  expect(res.status).toBe(200);
  return batchResults.parse(await res.json()).results[0]!;
}

/** The bridge's TLS-RPT counter: sessions by mode and result. */
async function sessions(): Promise<Record<string, number>> {
  const values = (await bridge.metrics.tlsSessions.get()).values;
  return Object.fromEntries(values.map((v) => [`${v.labels.mode}/${v.labels.result}`, v.value]));
}

const receivedAt = (name: keyof typeof MX) => fixtures[name].received.map((r) => r.rcptTo).flat();

describe("enforce", () => {
  it("a host the policy names, with a valid certificate: delivered over verified TLS", async () => {
    const before = await sessions();
    const result = await deliver("alice@good.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.good.host } });
    expect(receivedAt("good")).toEqual(["alice@good.test"]);
    expect((await sessions())["enforce/success"]).toBe((before["enforce/success"] ?? 0) + 1);
  });

  it("an expired certificate: that MX is skipped (certificate-expired) and the next one takes it", async () => {
    const before = await sessions();
    const result = await deliver("bob@expired.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.good.host } });
    expect(receivedAt("expired")).toEqual([]);
    expect(receivedAt("good")).toEqual(["bob@expired.test"]);
    const after = await sessions();
    expect(after["enforce/certificate-expired"]).toBe((before["enforce/certificate-expired"] ?? 0) + 1);
  });

  it("no MX passes (a certificate for another name, an expired one): deferred, never bounced, nothing sent", async () => {
    const before = await sessions();
    const result = await deliver("carol@onlybad.test");
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "mta_sts" } });
    expect(receivedAt("mismatch")).toEqual([]);
    expect(receivedAt("expired")).toEqual([]);
    expect(fixtures.mismatch.rcpts).toEqual([]);
    const after = await sessions();
    expect(after["enforce/certificate-host-mismatch"]).toBe((before["enforce/certificate-host-mismatch"] ?? 0) + 1);
  });

  it("a TLS-RPT report mail is delivered despite the policy (RFC 8460 §3), its session not counted", async () => {
    const before = await sessions();
    const item = { ...smtpItem({ rcptTo: "tlsrpt@onlybad.test", relay: { mode: "direct" } }), tlsReport: true };
    const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
    const [result] = batchResults.parse(await res.json()).results;
    expect(result).toMatchObject({ kind: "accepted" });
    expect([...receivedAt("mismatch"), ...receivedAt("expired")]).toEqual(["tlsrpt@onlybad.test"]);
    expect(await sessions()).toEqual(before);
  });

  it("an MX the policy does not name: not connected to at all, deferred", async () => {
    const opened = fixtures.good.stats.opened;
    const result = await deliver("dave@notlisted.test");
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "mta_sts", remoteMta: MX.good.host } });
    expect(fixtures.good.stats.opened).toBe(opened);
    expect(receivedAt("good")).toEqual([]);
  });

  it("an MX without STARTTLS: deferred (starttls-not-supported), the message never sent in plaintext", async () => {
    const before = await sessions();
    const result = await deliver("erin@plain.test");
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "mta_sts" } });
    expect(fixtures.plain.rcpts).toEqual([]);
    expect((await sessions())["enforce/starttls-not-supported"]).toBe((before["enforce/starttls-not-supported"] ?? 0) + 1);
  });
});

describe("testing and no policy", () => {
  it("testing: delivered to the MX with the expired certificate, and the failure is reported", async () => {
    const before = await sessions();
    const result = await deliver("frank@testing.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.expired.host } });
    expect(receivedAt("expired")).toEqual(["frank@testing.test"]);
    expect((await sessions())["testing/certificate-expired"]).toBe((before["testing/certificate-expired"] ?? 0) + 1);
  });

  it("a policy announced but not valid: delivered as without one, and counted (sts-policy-invalid)", async () => {
    const before = await sessions();
    const result = await deliver("heidi@brokenpolicy.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.mismatch.host } });
    expect((await sessions())["none/sts-policy-invalid"]).toBe((before["none/sts-policy-invalid"] ?? 0) + 1);
  });

  it("no policy: opportunistic TLS as before, a certificate for another name is no obstacle", async () => {
    const result = await deliver("grace@nopolicy.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.mismatch.host } });
    expect(receivedAt("mismatch")).toEqual(["grace@nopolicy.test"]);
  });
});

describe("StsPolicies: the cache (RFC 8461 §3.3, §5.1)", () => {
  let clock = Date.now();
  const sts = () =>
    new StsPolicies({
      resolver,
      port: policyServer.port,
      ca: ca.cert,
      timeoutMs: 5_000,
      recheckMs: 60_000,
      now: () => clock,
    });

  it("fetched once; the TXT id asked again only after recheckMs; a new id fetches again; a withdrawn record keeps the policy until max_age", async () => {
    const cache = sts();
    txt.set("_mta-sts.cache.test", ["v=STSv1; id=c1"]);
    policyServer.policies.set("cache.test", { body: policy("enforce", ["mx.cache.test"], 600) });
    const fetches = () => policyServer.requests.filter((r) => r.startsWith("cache.test")).length;
    const queries = () => resolver.txtQueries.filter((q) => q === "_mta-sts.cache.test").length;
    const [f0, q0] = [fetches(), queries()];

    expect(await cache.lookup("cache.test")).toMatchObject({ id: "c1", policy: { mode: "enforce", mx: ["mx.cache.test"] } });
    expect([fetches() - f0, queries() - q0]).toEqual([1, 1]);

    clock += 30_000; // within recheckMs: neither DNS nor HTTPS
    await cache.lookup("cache.test");
    expect([fetches() - f0, queries() - q0]).toEqual([1, 1]);

    clock += 60_000; // the same id: DNS only
    await cache.lookup("cache.test");
    expect([fetches() - f0, queries() - q0]).toEqual([1, 2]);

    txt.set("_mta-sts.cache.test", ["v=STSv1; id=c2"]);
    policyServer.policies.set("cache.test", { body: policy("testing", ["mx.cache.test"], 600) });
    clock += 61_000; // a new id: fetched again
    expect(await cache.lookup("cache.test")).toMatchObject({ id: "c2", policy: { mode: "testing" } });
    expect(fetches() - f0).toBe(2);

    txt.delete("_mta-sts.cache.test"); // withdrawn: the cached policy stands until its max_age
    clock += 61_000;
    expect(await cache.lookup("cache.test")).toMatchObject({ id: "c2", policy: { mode: "testing" } });
    clock += 600_000;
    expect(await cache.lookup("cache.test")).toEqual({});
  });

  it("a failed refetch keeps the cached policy and reports the failure", async () => {
    const cache = sts();
    txt.set("_mta-sts.cache.test", ["v=STSv1; id=d1"]);
    policyServer.policies.set("cache.test", { body: policy("enforce", ["mx.cache.test"], 3_600) });
    expect(await cache.lookup("cache.test")).toMatchObject({ id: "d1", policy: { mode: "enforce" } });
    txt.set("_mta-sts.cache.test", ["v=STSv1; id=d2"]);
    policyServer.policies.set("cache.test", { status: 500, body: "oops" });
    clock += 61_000;
    expect(await cache.lookup("cache.test")).toMatchObject({
      id: "d1",
      policy: { mode: "enforce" },
      failure: { resultType: "sts-policy-fetch-error" },
    });
  });

  it.each([
    ["invalid", "sts-policy-invalid", { body: "version: STSv1\nmode: enforce\nmax_age: 60" }],
    ["html", "sts-policy-fetch-error", { type: "text/html", body: policy("enforce", ["mx.html.test"]) }],
    ["redirect", "sts-policy-fetch-error", { status: 302, location: "https://elsewhere.test/", body: "" }],
    ["badcert", "sts-webpki-invalid", { body: policy("enforce", ["mx.badcert.test"]) }],
  ] as const)("%s: no policy applies, and the failure is %s", async (name, resultType, served) => {
    const cache = sts();
    txt.set(`_mta-sts.${name}.test`, ["v=STSv1; id=x1"]);
    policyServer.policies.set(`${name}.test`, served);
    const lookup = await cache.lookup(`${name}.test`);
    expect(lookup.policy).toBeUndefined();
    expect(lookup.failure?.resultType).toBe(resultType);
  });

  it("several TXT records: no policy, and no fetch", async () => {
    const cache = sts();
    txt.set("_mta-sts.twice.test", ["v=STSv1; id=1", "v=STSv1; id=2"]);
    const before = policyServer.requests.length;
    expect(await cache.lookup("twice.test")).toEqual({});
    expect(policyServer.requests.length).toBe(before);
  });
});

describe("with an edge (EDGE_URL)", () => {
  it("posts each session to the edge for TLS-RPT, with the policy's lines, and offers the fetched policy", async () => {
    const edge = await startFakeEdge();
    edge.mode = (request) => (request.path === EDGE_MTA_STS_PATH ? { status: 200, body: { policy: null } } : "accept");
    const config = testConfig({ directPort: fixtures.good.port, ca: ca.cert, mtaStsPort: policyServer.port });
    const withEdge = await startBridge(
      {
        ...config,
        inbound: {
          host: "127.0.0.1",
          port: 0,
          domains: ["bounces.example.com"],
          edgeUrl: edge.url,
          maxBytes: 1_000_000,
          edgeTimeoutMs: 2_000,
        },
      },
      { smtpResolver: resolver },
    );
    try {
      const item = smtpItem({ rcptTo: "gina@expired.test", relay: { mode: "direct" } });
      const res = await signedPost(`${withEdge.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
      expect(batchResults.parse(await res.json()).results[0]).toMatchObject({ kind: "accepted" });
      const batch = await waitFor(() => edge.requests.find((r) => r.path === EDGE_TLS_INBOUND_PATH), "a session batch at the edge");
      expect(batch.verified).toBe(true);
      const { sessions } = tlsSessionBatch.parse(batch.json);
      const lines = ["version: STSv1", "mode: enforce", "mx: *.sts.test", "max_age: 86400"];
      expect(sessions).toEqual([
        {
          policy: { type: "sts", domain: "expired.test", string: lines, mxHost: ["*.sts.test"] },
          result: "certificate-expired",
          receivingMxHostname: MX.expired.host,
          receivingIp: MX.expired.ip,
          failureReasonCode: expect.any(String),
        },
        {
          policy: { type: "sts", domain: "expired.test", string: lines, mxHost: ["*.sts.test"] },
          result: "success",
          receivingMxHostname: MX.good.host,
          receivingIp: MX.good.ip,
        },
      ]);
      // The policy this bridge fetched was offered to the edge for the other instances.
      const offered = edge.requests.find((r) => r.path === EDGE_MTA_STS_PATH && "policy" in r.json);
      expect(offered?.json).toMatchObject({ domain: "expired.test", policy: { id: "e1", policy: { mode: "enforce" } } });
    } finally {
      await withEdge.close();
      await edge.close();
    }
  });
});
