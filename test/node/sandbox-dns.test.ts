// The sandbox's DNS over HTTPS: records published through its control routes come back in the
// DoH JSON form, read by the Worker's own lookup (src/core/doh.ts), so a sending domain's
// records checked against the sandbox (`npm start`, the end-to-end tests) are checked as the
// Worker checks a real resolver's answers.
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
    ["an unsupported type", { name: "a.example", type: "AAAA", value: "::1" }],
    ["no value", { name: "a.example", type: "TXT" }],
    ["a bad priority", { name: "a.example", type: "MX", value: "mx.a.example", priority: -1 }],
  ])("refuses a record with %s and stores nothing", async (_, body) => {
    expect((await control(sandbox, "POST", "/_sandbox/dns/records", body)).status).toBe(400);
    expect(await (await control(sandbox, "GET", "/_sandbox/dns/records")).json()).toEqual([]);
  });
});
