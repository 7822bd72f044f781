// The MTA-STS policy cache every bridge instance sees: two StsPolicies (two bridge processes'
// caches) share a fake edge that keeps each domain's offered policy as the Worker's door does. The
// second instance uses the first one's policy without fetching (the policy server counts its
// requests); a new TXT id, or an expired shared policy, is fetched again; an edge that is down or
// hangs never keeps a lookup from fetching the policy itself.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SmtpResolver } from "../../bridge/src/smtp/dns.ts";
import { StsPolicies } from "../../bridge/src/smtp/mta-sts.ts";
import { edgeStsCache } from "../../bridge/src/smtp/sts-edge.ts";
import { EDGE_MTA_STS_PATH, stsPolicyExchange } from "../../src/core/bridge.ts";
import type { CachedStsPolicy } from "../../src/core/mta-sts.ts";
import { startFakeEdge, type FakeEdge } from "./fixtures/fake-edge.ts";
import { SECRET } from "./fixtures/signed.ts";
import { issueCertificate, makeCa, type TestCa } from "./fixtures/tls.ts";
import { dnsError } from "./smtp-fixture.ts";
import { waitFor } from "../wait.ts";

const POLICY_IP = "127.0.0.7";
const DOMAINS = ["shared.test", "rotated.test", "expiring.test", "down.test", "hang.test"];
const txt = new Map<string, string[]>();
const policyRequests: string[] = [];

const resolver: SmtpResolver = {
  async resolveMx() {
    throw dnsError("ENOTFOUND");
  },
  async resolveAddresses(host) {
    if (host.startsWith("mta-sts.")) return [POLICY_IP];
    throw dnsError("ENOTFOUND");
  },
  async resolveTxt(name) {
    const records = txt.get(name);
    if (!records) throw dnsError("ENOTFOUND");
    return records;
  },
};

let ca: TestCa;
let policyServer: Server;
let policyPort: number;
let edge: FakeEdge;
/** What the fake edge keeps, per domain: the latest offered policy (the door's rule: the later fetch wins). */
const shared = new Map<string, CachedStsPolicy>();

beforeAll(async () => {
  ca = makeCa();
  const cert = issueCertificate(
    ca,
    DOMAINS.map((d) => `mta-sts.${d}`),
  );
  policyServer = createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const domain = (req.headers.host ?? "").replace(/^mta-sts\./, "").replace(/:\d+$/, "");
    policyRequests.push(domain);
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(["version: STSv1", "mode: enforce", `mx: mx.${domain}`, "max_age: 86400"].join("\r\n"));
  });
  await new Promise<void>((resolve) => policyServer.listen(0, POLICY_IP, resolve));
  policyPort = (policyServer.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => policyServer?.close(resolve));
});

beforeEach(async () => {
  shared.clear();
  policyRequests.length = 0;
  edge = await startFakeEdge();
  edge.mode = (request) => {
    const { domain, policy } = stsPolicyExchange.parse(request.json);
    const kept = shared.get(domain);
    if (policy && (!kept || policy.fetchedAt > kept.fetchedAt)) shared.set(domain, policy);
    const live = shared.get(domain);
    return { status: 200, body: { policy: live && live.expiresAt > Date.now() ? live : null } };
  };
});
afterEach(async () => {
  await edge.close();
});

function instance(edgeUrl = edge.url, timeoutMs = 2_000, now?: () => number): StsPolicies {
  return new StsPolicies({
    resolver,
    port: policyPort,
    ca: ca.cert,
    timeoutMs: 5_000,
    shared: edgeStsCache({ edgeUrl, secret: SECRET, timeoutMs }),
    ...(now ? { now } : {}),
  });
}

const fetchesOf = (domain: string) => policyRequests.filter((d) => d === domain).length;

describe("the shared MTA-STS policy cache", () => {
  it("lets a second bridge use the policy the first fetched, without fetching", async () => {
    txt.set("_mta-sts.shared.test", ["v=STSv1; id=s1;"]);
    const [first, second] = [instance(), instance()];
    const one = await first.lookup("shared.test");
    expect(one.policy).toEqual({ mode: "enforce", maxAge: 86_400, mx: ["mx.shared.test"] });
    expect(fetchesOf("shared.test")).toBe(1);
    // The first offered it to the edge (in the background), signed at the edge's door.
    await waitFor(() => shared.has("shared.test"), "the policy offered to the edge");
    expect(edge.requests.every((r) => r.verified && r.path === EDGE_MTA_STS_PATH)).toBe(true);

    const two = await second.lookup("shared.test");
    expect(two).toEqual(one);
    expect(fetchesOf("shared.test")).toBe(1);
    expect(second.cached("shared.test")).toEqual(first.cached("shared.test"));
  });

  it("fetches again when the TXT id changed, and shares the new policy", async () => {
    txt.set("_mta-sts.rotated.test", ["v=STSv1; id=r1;"]);
    await instance().lookup("rotated.test");
    await waitFor(() => shared.get("rotated.test")?.id === "r1", "r1 at the edge");
    txt.set("_mta-sts.rotated.test", ["v=STSv1; id=r2;"]);
    const second = instance();
    expect((await second.lookup("rotated.test")).id).toBe("r2");
    expect(fetchesOf("rotated.test")).toBe(2);
    await waitFor(() => shared.get("rotated.test")?.id === "r2", "r2 at the edge");
    // A third instance now takes r2 from the edge.
    expect((await instance().lookup("rotated.test")).id).toBe("r2");
    expect(fetchesOf("rotated.test")).toBe(2);
  });

  it("fetches a policy whose shared copy has expired (by the bridge's own clock)", async () => {
    txt.set("_mta-sts.expiring.test", ["v=STSv1; id=x1;"]);
    await instance().lookup("expiring.test");
    await waitFor(() => shared.has("expiring.test"), "the policy offered");
    // A bridge two days on: the edge's copy (max_age one day) is past its expiry for it.
    const later = instance(edge.url, 2_000, () => Date.now() + 2 * 86_400_000);
    expect((await later.lookup("expiring.test")).policy?.mode).toBe("enforce");
    expect(fetchesOf("expiring.test")).toBe(2);
  });

  it("fetches locally when the edge is down", async () => {
    txt.set("_mta-sts.down.test", ["v=STSv1; id=d1;"]);
    const gone = await startFakeEdge();
    const url = gone.url;
    await gone.close();
    const lookup = await instance(url).lookup("down.test");
    expect(lookup.policy?.mx).toEqual(["mx.down.test"]);
    expect(lookup.failure).toBeUndefined();
    expect(fetchesOf("down.test")).toBe(1);
  });

  it("does not wait for an edge that hangs past its bound", async () => {
    txt.set("_mta-sts.hang.test", ["v=STSv1; id=h1;"]);
    edge.mode = "hang";
    const started = performance.now();
    const lookup = await instance(edge.url, 300).lookup("hang.test");
    expect(lookup.policy?.mode).toBe("enforce");
    expect(fetchesOf("hang.test")).toBe(1);
    // Bounded by the edge's timeout (300 ms), not by the edge.
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
