// Direct (MX) delivery with an injected resolver: MX preference order, the next MX when one
// is down, the A/AAAA fallback when there is no MX, a null MX and NXDOMAIN refused without a
// connection, DNS failures as retry. The "MX hosts" resolve to loopback addresses: the fixture
// listens on 127.0.0.1 only, so 127.0.0.2 (also loopback on Linux) refuses connections and
// plays the MX that is down. SMTP_DIRECT_PORT points port 25 at the fixture.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { batchResults, BRIDGE_SMTP_PATH, type BatchResults } from "../../src/core/bridge.ts";
import { fakeResolver, signedPost, smtpItem, startSmtpFixture, testConfig, type SmtpFixture } from "./smtp-fixture.ts";

const DOWN = "127.0.0.2";
const UP = "127.0.0.1";

const resolver = fakeResolver({
  mx: {
    // Listed out of order on purpose: preference decides, not the order of the answer.
    "both-up.test": [
      { exchange: "mx-b.both-up.test", priority: 20 },
      { exchange: "mx-a.both-up.test", priority: 10 },
    ],
    "first-down.test": [
      { exchange: "mx-backup.first-down.test", priority: 20 },
      { exchange: "mx-primary.first-down.test", priority: 10 },
    ],
    "all-down.test": [{ exchange: "mx.all-down.test", priority: 10 }],
    "no-mx.test": "ENODATA",
    "no-mx-no-a.test": "ENODATA",
    "null-mx.test": [{ exchange: "", priority: 0 }],
    "servfail.test": "ESERVFAIL",
    "timeout.test": "ETIMEOUT",
    "mx-without-address.test": [{ exchange: "nowhere.mx-without-address.test", priority: 10 }],
    // nxdomain.test: absent → ENOTFOUND
  },
  addresses: {
    "mx-a.both-up.test": [UP],
    "mx-b.both-up.test": [UP],
    "mx-primary.first-down.test": [DOWN],
    "mx-backup.first-down.test": [UP],
    "mx.all-down.test": [DOWN],
    "no-mx.test": [UP],
  },
});

let fixture: SmtpFixture;
let bridge: Bridge;

beforeAll(async () => {
  fixture = await startSmtpFixture();
  bridge = await startBridge(testConfig({ directPort: fixture.port }), { smtpResolver: resolver });
});

afterAll(async () => {
  await bridge?.close();
  await fixture?.close();
});

beforeEach(() => {
  fixture.reset();
  resolver.queries.length = 0;
});

async function deliver(rcptTo: string): Promise<BatchResults["results"][number]> {
  const item = smtpItem({ rcptTo, relay: { mode: "direct" } });
  const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
  expect(res.status).toBe(200);
  const { results } = batchResults.parse(await res.json());
  return results[0]!;
}

describe("MX resolution", () => {
  it("the lowest preference first", async () => {
    const result = await deliver("alice@both-up.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: "mx-a.both-up.test" } });
    expect(resolver.queries).toEqual(["MX both-up.test", "A mx-a.both-up.test"]);
    expect(fixture.received[0]!.rcptTo).toEqual(["alice@both-up.test"]);
  });

  it("the first MX is down → the second is used", async () => {
    const result = await deliver("bob@first-down.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: "mx-backup.first-down.test" } });
    expect(resolver.queries).toEqual(["MX first-down.test", "A mx-primary.first-down.test", "A mx-backup.first-down.test"]);
    expect(fixture.received).toHaveLength(1);
  });

  it("every MX down → retry (connection)", async () => {
    const result = await deliver("carol@all-down.test");
    expect(result).toMatchObject({ kind: "retry", detail: { reason: "connection", remoteMta: "mx.all-down.test" } });
    expect(String(result.detail.error)).toMatch(/ECONNREFUSED|refused/i);
  });

  it("no MX → the domain's own A/AAAA (implicit MX, RFC 5321 §5.1)", async () => {
    const result = await deliver("dave@no-mx.test");
    expect(result).toMatchObject({ kind: "accepted", detail: { remoteMta: "no-mx.test" } });
    expect(resolver.queries).toEqual(["MX no-mx.test", "A no-mx.test"]);
  });

  it("no MX and no address → bounced hard hostunknown", async () => {
    const result = await deliver("erin@no-mx-no-a.test");
    expect(result).toMatchObject({ kind: "bounced", detail: { class: "hard", reason: "hostunknown" } });
    expect(fixture.stats.opened).toBe(0);
  });

  it("null MX (RFC 7505) → bounced notaccept 556 5.1.10, no connection, no address lookup", async () => {
    const result = await deliver("frank@null-mx.test");
    expect(result.kind).toBe("bounced");
    expect(result.detail).toMatchObject({
      class: "hard",
      reason: "notaccept",
      smtpCode: 556,
      enhancedCode: "5.1.10",
      response: "null MX: the domain accepts no mail",
    });
    expect(resolver.queries).toEqual(["MX null-mx.test"]);
    expect(fixture.stats.opened).toBe(0);
    expect(fixture.rcpts).toHaveLength(0);
  });

  it("NXDOMAIN → bounced hard hostunknown, no connection", async () => {
    const result = await deliver("grace@nxdomain.test");
    expect(result).toMatchObject({ kind: "bounced", detail: { class: "hard", reason: "hostunknown", enhancedCode: "5.1.2" } });
    expect(fixture.stats.opened).toBe(0);
    expect(fixture.rcpts).toHaveLength(0);
  });

  it("SERVFAIL or a DNS timeout → retry (dns), no connection", async () => {
    for (const domain of ["servfail.test", "timeout.test"]) {
      const result = await deliver(`heidi@${domain}`);
      expect(result).toMatchObject({ kind: "retry", detail: { reason: "dns" } });
    }
    expect(fixture.stats.opened).toBe(0);
  });

  it("the only MX host has no address → bounced hard hostunknown", async () => {
    const result = await deliver("ivan@mx-without-address.test");
    expect(result).toMatchObject({ kind: "bounced", detail: { class: "hard", reason: "hostunknown" } });
  });

  it("a resolver that never answers is cut off at SMTP_TIMEOUT_MS → retry (dns)", async () => {
    const hanging = await startBridge(testConfig({ directPort: fixture.port, timeoutMs: 1_000 }), {
      smtpResolver: { resolveMx: () => new Promise(() => {}), resolveAddresses: () => new Promise(() => {}) },
    });
    try {
      const item = smtpItem({ rcptTo: "judy@slow.test", relay: { mode: "direct" } });
      const res = await signedPost(`${hanging.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
      const { results } = batchResults.parse(await res.json());
      expect(results[0]).toMatchObject({ kind: "retry", detail: { reason: "dns" } });
    } finally {
      await hanging.close();
    }
  });
});

describe("the session with an MX", () => {
  it("opportunistic STARTTLS (the MX's self-signed certificate is not a reason to refuse), EHLO with SMTP_HELO_NAME", async () => {
    const result = await deliver("kim@both-up.test");
    expect(result.kind).toBe("accepted");
    expect(fixture.received[0]!.secure).toBe(true);
  });

  it("an MX without STARTTLS gets the message in plaintext", async () => {
    const plain = await startSmtpFixture({ tls: "none" });
    const plainBridge = await startBridge(testConfig({ directPort: plain.port }), { smtpResolver: resolver });
    try {
      const item = smtpItem({ rcptTo: "leo@both-up.test", relay: { mode: "direct" } });
      const res = await signedPost(`${plainBridge.url}${BRIDGE_SMTP_PATH}`, { items: [item] });
      const { results } = batchResults.parse(await res.json());
      expect(results[0]!.kind).toBe("accepted");
      expect(plain.received[0]!.secure).toBe(false);
    } finally {
      await plainBridge.close();
      await plain.close();
    }
  });

  it("RCPT refused by the MX → that reply decides (not the next MX)", async () => {
    const result = await deliver("bounce-mallory@both-up.test");
    expect(result).toMatchObject({ kind: "bounced", detail: { class: "hard", reason: "userunknown", remoteMta: "mx-a.both-up.test" } });
    expect(resolver.queries).toEqual(["MX both-up.test", "A mx-a.both-up.test"]);
  });

  it("messages to one domain reuse the connection to its MX", async () => {
    const items = ["n1@both-up.test", "n2@both-up.test", "n3@both-up.test", "n4@both-up.test"].map((rcptTo) =>
      smtpItem({ rcptTo, relay: { mode: "direct" } }),
    );
    const before = fixture.stats.opened;
    const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items });
    const { results } = batchResults.parse(await res.json());
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.stats.opened - before).toBeLessThan(4);
  });
});
