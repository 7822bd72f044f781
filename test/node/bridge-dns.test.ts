// The bridge PROCESS asks the DNS servers of SMTP_DNS_SERVERS (issue 18): the real entry point
// (`node bridge/src/main.ts`) with SMTP_DNS_SERVERS at the sandbox's DNS stub, every record
// published through the sandbox's control API. Direct delivery finds its MX host and that host's
// address there, and MTA-STS its `_mta-sts` TXT record and the policy host's address; none of these
// names exists anywhere else, so each decision below can only have come from the stub. MX hosts
// on 127.0.0.2–3 share one port (as MX hosts share port 25), each with a certificate from a test
// CA (for its own name, or for another), and the policy is served over HTTPS on 127.0.0.6.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { batchResults, BRIDGE_SMTP_PATH, type BatchResults } from "../../src/core/bridge.ts";
import { tempFile } from "./apns-fixture.ts";
import { killBridges, listening, spawnBridge } from "./fixtures/bridge-process.ts";
import { startPolicyServer, stsPolicy, type PolicyServer } from "./fixtures/mta-sts.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";
import { issueCertificate, makeCa } from "./fixtures/tls.ts";
import { SECRET, signedPost, smtpItem, startSmtpFixture, type SmtpFixture } from "./smtp-fixture.ts";

const MX = {
  good: { host: "mx-good.dns.test", ip: "127.0.0.2" },
  mismatch: { host: "mx-mismatch.dns.test", ip: "127.0.0.3" },
} as const;
const POLICY_IP = "127.0.0.6";

let sandbox: TestSandbox;
let fixtures: Record<keyof typeof MX, SmtpFixture>;
let policyServer: PolicyServer;
let caFile: { path: string; remove(): void };
let bridgeUrl: string;

async function publish(record: Record<string, unknown>): Promise<void> {
  const res = await control(sandbox, "POST", "/_sandbox/dns/records", record);
  expect(res.status, await res.clone().text()).toBe(201);
}

beforeAll(async () => {
  sandbox = await startTestSandbox();
  const ca = makeCa();
  caFile = tempFile("ca.pem", ca.cert);
  const good = await startSmtpFixture({ host: MX.good.ip, certificate: issueCertificate(ca, [MX.good.host]) });
  fixtures = {
    good,
    mismatch: await startSmtpFixture({
      host: MX.mismatch.ip,
      port: good.port,
      certificate: issueCertificate(ca, ["mail.somewhere-else.test"]),
    }),
  };
  policyServer = await startPolicyServer(ca, ["enforce.dns.test"], POLICY_IP);
  policyServer.policies.set("enforce.dns.test", { body: stsPolicy("enforce", [MX.mismatch.host]) });

  for (const mx of Object.values(MX)) await publish({ name: mx.host, type: "A", value: mx.ip });
  await publish({ name: "direct.dns.test", type: "MX", value: MX.good.host, priority: 10 });
  for (const domain of ["enforce.dns.test", "nopolicy.dns.test"]) await publish({ name: domain, type: "MX", value: MX.mismatch.host });
  await publish({ name: "_mta-sts.enforce.dns.test", type: "TXT", value: "v=STSv1; id=20261206;" });
  await publish({ name: "mta-sts.enforce.dns.test", type: "A", value: POLICY_IP });

  const bridge = spawnBridge({
    BRIDGE_SECRET: SECRET,
    BRIDGE_PORT: "0",
    SMTP_DNS_SERVERS: `${sandbox.dnsServer.host}:${sandbox.dnsServer.port}`,
    SMTP_DIRECT_PORT: String(good.port),
    SMTP_MTA_STS_PORT: String(policyServer.port),
    SMTP_CA_FILE: caFile.path,
    SMTP_HELO_NAME: "bridge.dns.test",
    SMTP_DKIM_THREADS: "0",
    SMTP_TIMEOUT_MS: "10000",
  });
  bridgeUrl = (await listening(bridge)).url;
});

afterAll(async () => {
  killBridges();
  await policyServer?.close();
  for (const fixture of Object.values(fixtures ?? {})) await fixture.close();
  await sandbox?.close();
  caFile?.remove();
});

beforeEach(() => {
  for (const fixture of Object.values(fixtures)) fixture.reset();
});

async function deliver(rcptTo: string): Promise<BatchResults["results"][number]> {
  const res = await signedPost(`${bridgeUrl}${BRIDGE_SMTP_PATH}`, { items: [smtpItem({ rcptTo, relay: { mode: "direct" } })] });
  expect(res.status).toBe(200);
  return batchResults.parse(await res.json()).results[0]!;
}

const receivedAt = (name: keyof typeof MX) => fixtures[name].received.map((r) => r.rcptTo).flat();

describe("the bridge process with SMTP_DNS_SERVERS at the sandbox's DNS stub", () => {
  it("direct mode: the MX and its address come from the stub, and the message is delivered there", async () => {
    const result = await deliver("alice@direct.dns.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.good.host } });
    expect(receivedAt("good")).toEqual(["alice@direct.dns.test"]);
  });

  it("MTA-STS: the stub's _mta-sts record and policy host make an enforce policy refuse a certificate for another name", async () => {
    const result = await deliver("bob@enforce.dns.test");
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "mta_sts" } });
    expect(fixtures.mismatch.rcpts).toEqual([]);
    expect(policyServer.requests).toContain("enforce.dns.test/.well-known/mta-sts.txt");
  });

  it("the same MX without a _mta-sts record in the stub: no policy, delivered over opportunistic TLS", async () => {
    const result = await deliver("carol@nopolicy.dns.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: MX.mismatch.host } });
    expect(receivedAt("mismatch")).toEqual(["carol@nopolicy.dns.test"]);
  });

  it("a domain the stub does not know (NXDOMAIN) bounces: no host is tried", async () => {
    const result = await deliver("dave@nowhere.dns.test");
    expect(result).toMatchObject({ kind: "bounced" });
    expect([...fixtures.good.rcpts, ...fixtures.mismatch.rcpts]).toEqual([]);
  });
});
