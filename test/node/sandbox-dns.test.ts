// The sandbox's DNS over HTTPS: records published through its control routes come back in the
// DoH JSON form, read by the Worker's own lookup (src/core/doh.ts), so a sending domain's
// records checked against the sandbox (`npm start`, the end-to-end tests) are checked as the
// Worker checks a real resolver's answers. The same records come back from its DNS stub over UDP
// and TCP, read by node:dns (c-ares), the resolver the bridge asks with SMTP_DNS_SERVERS.
import { createSocket } from "node:dgram";
import { promises as dns } from "node:dns";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { checkRecord, expectedRecords } from "../../src/core/domains.ts";
import { lookup } from "../../src/core/doh.ts";
import { generateDomainKeys } from "../../src/core/domain-keys.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

let sandbox: TestSandbox;

beforeAll(async () => {
  sandbox = await startTestSandbox();
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(async () => {
  for (const r of (await (await control(sandbox, "GET", "/_sandbox/dns/records")).json()) as Array<{ name: string }>) {
    await control(sandbox, "DELETE", `/_sandbox/dns/records?name=${r.name}`);
  }
});

async function publish(record: Record<string, unknown>) {
  const res = await control(sandbox, "POST", "/_sandbox/dns/records", record);
  expect(res.status, await res.clone().text()).toBe(201);
}

describe("the sandbox's DNS over HTTPS", () => {
  it("answers TXT (a long value in 255-octet strings, joined again), MX, and NXDOMAIN", async () => {
    const long = `v=DKIM1; k=rsa; p=${"A".repeat(400)}`;
    await publish({ name: "s1._domainkey.Example.com", type: "TXT", value: long });
    await publish({ name: "example.com", type: "MX", value: "mx.example.net.", priority: 5 });
    const raw = (await (await fetch(`${sandbox.dohUrl}?name=s1._domainkey.example.com&type=TXT`)).json()) as any;
    expect(raw.Status).toBe(0);
    expect(raw.Answer[0].data).toMatch(/^"[^"]{255}" "[^"]+"$/);
    expect(await lookup(sandbox.dohUrl, "s1._domainkey.example.com", "TXT")).toEqual({ kind: "answer", values: [long] });
    expect(await lookup(sandbox.dohUrl, "example.com", "MX")).toEqual({ kind: "answer", values: ["5 mx.example.net."] });
    expect(await lookup(sandbox.dohUrl, "example.com", "TXT")).toEqual({ kind: "answer", values: [] });
    expect(await lookup(sandbox.dohUrl, "nothing.example.com", "TXT")).toEqual({ kind: "nxdomain" });
  });

  it("follows a CNAME as a resolver does: the return path may point at the platform's host", async () => {
    await publish({ name: "lh-bounces.example.com", type: "CNAME", value: "bounces.platform.test" });
    await publish({ name: "bounces.platform.test", type: "MX", value: "mx.platform.test" });
    await publish({ name: "bounces.platform.test", type: "TXT", value: "v=spf1 include:_spf.platform.test ~all" });
    const [mx, spf] = expectedRecords("example.com", [], { bounceMxHost: "mx.platform.test", spfInclude: "_spf.platform.test" });
    expect(checkRecord(mx!, await lookup(sandbox.dohUrl, mx!.name, "MX")).status).toBe("verified");
    expect(checkRecord(spf!, await lookup(sandbox.dohUrl, spf!.name, "TXT")).status).toBe("verified");
  });

  it("the records of a new domain, published as answered, all verify", async () => {
    const keys = await generateDomainKeys();
    const records = expectedRecords("shop.example", keys, { bounceMxHost: "mx.platform.test", spfInclude: "_spf.platform.test" });
    for (const r of records) await publish({ name: r.name, type: r.type, value: r.value, priority: r.priority });
    for (const r of records) expect(checkRecord(r, await lookup(sandbox.dohUrl, r.name, r.type)).status).toBe("verified");
  });

  it("DELETE removes by name and type; the list shows what is there", async () => {
    await publish({ name: "a.example.com", type: "TXT", value: "one" });
    await publish({ name: "a.example.com", type: "MX", value: "mx.example.com" });
    expect((await control(sandbox, "DELETE", "/_sandbox/dns/records?name=a.example.com&type=TXT")).status).toBe(204);
    expect(await (await control(sandbox, "GET", "/_sandbox/dns/records")).json()).toEqual([
      { name: "a.example.com", type: "MX", value: "mx.example.com", priority: 10 },
    ]);
    expect((await control(sandbox, "DELETE", "/_sandbox/dns/records?name=a.example.com&type=TXT")).status).toBe(404);
  });

  it.each<[string, unknown]>([
    ["no name", { type: "TXT", value: "x" }],
    ["a bad name", { name: "a b.example", type: "TXT", value: "x" }],
    ["an unsupported type", { name: "a.example", type: "SRV", value: "0 5 5060 sip.a.example" }],
    ["a label over 63 octets", { name: `${"a".repeat(64)}.example`, type: "TXT", value: "x" }],
    ["an MX whose value is no domain name", { name: "a.example", type: "MX", value: "mx a.example" }],
    ["a CNAME whose value is no domain name", { name: "a.example", type: "CNAME", value: "." }],
    ["an A record that is no IPv4 address", { name: "a.example", type: "A", value: "::1" }],
    ["an AAAA record that is no IPv6 address", { name: "a.example", type: "AAAA", value: "127.0.0.1" }],
    ["no value", { name: "a.example", type: "TXT" }],
    ["a bad priority", { name: "a.example", type: "MX", value: "mx.a.example", priority: -1 }],
  ])("refuses a record with %s and stores nothing", async (_, body) => {
    expect((await control(sandbox, "POST", "/_sandbox/dns/records", body)).status).toBe(400);
    expect(await (await control(sandbox, "GET", "/_sandbox/dns/records")).json()).toEqual([]);
  });
});

describe("the sandbox's DNS stub (UDP and TCP), read by node:dns", () => {
  function resolver(): dns.Resolver {
    const r = new dns.Resolver({ timeout: 2_000, tries: 1 });
    r.setServers([`${sandbox.dnsServer.host}:${sandbox.dnsServer.port}`]);
    return r;
  }

  async function code(lookup: Promise<unknown>): Promise<string | undefined> {
    try {
      await lookup;
      return undefined;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code;
    }
  }

  const long = `v=DKIM1; k=rsa; p=${"B".repeat(600)}`;
  const huge = "x".repeat(3_900);

  it.each<[string, Array<Record<string, unknown>>, (r: dns.Resolver) => Promise<unknown>, unknown]>([
    ["A", [{ name: "mx.stub.test", type: "A", value: "127.0.0.2" }], (r) => r.resolve4("MX.stub.test."), ["127.0.0.2"]],
    [
      "two A records",
      [
        { name: "two.stub.test", type: "A", value: "127.0.0.3" },
        { name: "two.stub.test", type: "A", value: "127.0.0.4" },
      ],
      async (r) => (await r.resolve4("two.stub.test")).sort(),
      ["127.0.0.3", "127.0.0.4"],
    ],
    ["AAAA", [{ name: "mx.stub.test", type: "AAAA", value: "::1" }], (r) => r.resolve6("mx.stub.test"), ["::1"]],
    [
      "MX, with preferences",
      [
        { name: "stub.test", type: "MX", value: "mx1.stub.test.", priority: 5 },
        { name: "stub.test", type: "MX", value: "mx2.stub.test", priority: 20 },
      ],
      async (r) => (await r.resolveMx("stub.test")).sort((a, b) => a.priority - b.priority),
      [
        { exchange: "mx1.stub.test", priority: 5 },
        { exchange: "mx2.stub.test", priority: 20 },
      ],
    ],
    [
      "TXT, short",
      [{ name: "_mta-sts.stub.test", type: "TXT", value: "v=STSv1; id=20260101;" }],
      (r) => r.resolveTxt("_mta-sts.stub.test"),
      [["v=STSv1; id=20260101;"]],
    ],
    [
      "TXT, long: in 255-octet strings",
      [{ name: "s1._domainkey.stub.test", type: "TXT", value: long }],
      (r) => r.resolveTxt("s1._domainkey.stub.test"),
      [[long.slice(0, 255), long.slice(255, 510), long.slice(510)]],
    ],
    [
      "TXT, too big for UDP: truncated, asked again over TCP",
      [{ name: "big.stub.test", type: "TXT", value: huge }],
      async (r) => (await r.resolveTxt("big.stub.test")).map((strings) => strings.join("")),
      [huge],
    ],
    [
      "CNAME, asked for itself",
      [{ name: "alias.stub.test", type: "CNAME", value: "mx.stub.test" }],
      (r) => r.resolveCname("alias.stub.test"),
      ["mx.stub.test"],
    ],
    [
      "A through a CNAME (followed)",
      [
        { name: "alias.stub.test", type: "CNAME", value: "target.stub.test" },
        { name: "target.stub.test", type: "A", value: "127.0.0.9" },
      ],
      (r) => r.resolve4("alias.stub.test"),
      ["127.0.0.9"],
    ],
  ])("%s", async (_, records, ask, expected) => {
    for (const r of records) await publish(r);
    expect(await ask(resolver())).toEqual(expected);
  });

  it("NXDOMAIN (ENOTFOUND) for a name with no record; NOERROR and nothing (ENODATA) for a name with other types", async () => {
    await publish({ name: "only-mx.stub.test", type: "MX", value: "mx.stub.test" });
    const r = resolver();
    expect(await code(r.resolve4("nothing.stub.test"))).toBe("ENOTFOUND");
    expect(await code(r.resolveTxt("_mta-sts.nothing.stub.test"))).toBe("ENOTFOUND");
    expect(await code(r.resolveTxt("only-mx.stub.test"))).toBe("ENODATA");
    expect(await code(r.resolve4("only-mx.stub.test"))).toBe("ENODATA");
    // A type the store cannot hold: the name exists, so NOERROR and no answer.
    expect(await code(r.resolveSrv("only-mx.stub.test"))).toBe("ENODATA");
  });

  it("a record published through the control API is in both the DoH and the UDP answers; deleted, gone from both", async () => {
    const r = resolver();
    expect(await code(r.resolveTxt("both.stub.test"))).toBe("ENOTFOUND");
    await publish({ name: "both.stub.test", type: "TXT", value: "v=spf1 -all" });
    expect(await r.resolveTxt("both.stub.test")).toEqual([["v=spf1 -all"]]);
    expect(await lookup(sandbox.dohUrl, "both.stub.test", "TXT")).toEqual({ kind: "answer", values: ["v=spf1 -all"] });
    expect((await control(sandbox, "DELETE", "/_sandbox/dns/records?name=both.stub.test")).status).toBe(204);
    expect(await code(r.resolveTxt("both.stub.test"))).toBe("ENOTFOUND");
    expect(await lookup(sandbox.dohUrl, "both.stub.test", "TXT")).toEqual({ kind: "nxdomain" });
  });

  it("answers a query without EDNS within 512 octets (truncated, TC set) and a garbage datagram with FORMERR", async () => {
    await publish({ name: "big.stub.test", type: "TXT", value: huge });
    const socket = createSocket("udp4");
    try {
      const ask = (message: Buffer) =>
        new Promise<Buffer>((resolve) => {
          socket.once("message", resolve);
          socket.send(message, sandbox.dnsServer.port, sandbox.dnsServer.host);
        });
      const query = dnsPacket.encode({
        id: 7,
        type: "query",
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ type: "TXT", name: "big.stub.test" }],
      });
      const answer = await ask(query);
      expect(answer.length).toBeLessThanOrEqual(512);
      const decoded = dnsPacket.decode(answer);
      expect(decoded).toMatchObject({ id: 7, type: "response", flag_tc: true, rcode: "NOERROR", answers: [] });
      const garbage = dnsPacket.decode(await ask(Buffer.from([0, 9, 1, 2, 3])));
      expect(decoded.id === 7 && garbage).toMatchObject({ id: 9, type: "response", rcode: "FORMERR" });
    } finally {
      socket.close();
    }
  });
});
