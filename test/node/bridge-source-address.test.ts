// The bridge's source address (an item's `sourceAddress`, the IP pool's address) end to end in
// smarthost mode against an smtp-server fixture on 127.0.0.1: each message reaches the receiving
// MTA from the address it asked for, and the outcome says which; a pooled connection bound to one
// address never carries another's mail; an address the host does not have is a retry and the
// message leaves from no other address. And the throttling flag: a 4xx that asks the sender to
// slow down (421, 4.7.x such as Microsoft's 4.7.500) is a retry with `throttled: true`, a full
// mailbox is a retry without it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { batchResults, BRIDGE_SMTP_PATH, type BatchResults } from "../../src/core/bridge.ts";
import { signedPost, smarthost, smtpItem, startSmtpFixture, testConfig, type SmtpFixture } from "./smtp-fixture.ts";

/** On every Linux host: the whole of 127.0.0.0/8 is on the loopback interface. */
const SOURCES = ["127.0.0.2", "127.0.0.3"] as const;
/** TEST-NET-1 (RFC 5737): no host has it, so binding to it fails before any packet leaves. */
const NOT_OURS = "192.0.2.10";

const ANSWERS = [
  { match: "rcpt421", at: "rcpt", code: 421, text: "4.7.0 Try again later, closing connection" },
  { match: "data421", at: "data", code: 421, text: "4.7.0 Try again later, closing connection" },
  { match: "mailboxfull", at: "rcpt", code: 450, text: "4.2.2 Mailbox full" },
  { match: "serverbusy", at: "data", code: 451, text: "4.7.500 Server busy. Please try again later from [127.0.0.2]. (S77719)" },
] as const;

let fixture: SmtpFixture;
let bridge: Bridge;

beforeAll(async () => {
  fixture = await startSmtpFixture({ answers: [...ANSWERS] });
  // One delivery at a time to the fixture: every message after the first finds idle pooled
  // connections, so any sharing of a connection across source addresses would show.
  bridge = await startBridge(testConfig({ ca: fixture.caPem, maxPerDomain: 1 }));
});

afterAll(async () => {
  await bridge?.close();
  await fixture?.close();
});

beforeEach(() => fixture.reset());

async function send(items: Array<Record<string, unknown>>): Promise<BatchResults["results"]> {
  const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items });
  expect(res.status).toBe(200);
  const { results } = batchResults.parse(await res.json());
  expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id)); // item order
  return results;
}

/** An item to `rcptTo` through the fixture, bound to `sourceAddress` when given. */
function item(rcptTo: string, sourceAddress?: string): Record<string, unknown> {
  return { ...smtpItem({ rcptTo, relay: smarthost(fixture) }), ...(sourceAddress ? { sourceAddress } : {}) };
}

/** The address each message came from at the fixture, by its recipient. */
function arrivedFrom(): Map<string, string> {
  return new Map(fixture.received.map((m) => [m.rcptTo[0]!, fixture.remotes.get(m.session)?.address ?? "unknown"]));
}

describe("binding outbound SMTP to the item's source address", () => {
  it("127.0.0.2, 127.0.0.3 and none: each message arrives from its own address and the outcome names it", async () => {
    const items = [item("first@example.net", "127.0.0.2"), item("second@example.net", "127.0.0.3"), item("third@example.net")];
    const results = await send(items);
    expect(results.map((r) => r.kind)).toEqual(["accepted", "accepted", "accepted"]);
    expect(results[0]!.detail.sourceAddress).toBe("127.0.0.2");
    expect(results[1]!.detail.sourceAddress).toBe("127.0.0.3");
    expect(results[2]!.detail).not.toHaveProperty("sourceAddress");
    expect(Object.fromEntries(arrivedFrom())).toEqual({
      "first@example.net": "127.0.0.2",
      "second@example.net": "127.0.0.3",
      "third@example.net": "127.0.0.1", // the system's choice for a connection to 127.0.0.1
    });
  });

  it("connections are not shared across source addresses: each session carried one address's mail, from that address", async () => {
    const owners = [...SOURCES, undefined];
    // Two batches of 12 (4 per address, interleaved): connections are reused within a batch and across batches.
    const batches = [0, 1].map((b) =>
      Array.from({ length: 12 }, (_, i) => {
        const owner = owners[i % owners.length];
        return { owner, item: item(`src${owner?.replaceAll(".", "-") ?? "-default"}-b${b}-m${i}@example.net`, owner) };
      }),
    );
    const expected = new Map<string, string>(); // recipient → the address it must come from
    for (const batch of batches) {
      const results = await send(batch.map((b) => b.item));
      expect(results.every((r) => r.kind === "accepted")).toBe(true);
      for (const [i, r] of results.entries()) expect(r.detail.sourceAddress).toBe(batch[i]!.owner);
      for (const b of batch) expected.set(String(b.item.rcptTo), b.owner ?? "127.0.0.1");
    }
    expect(fixture.received).toHaveLength(24);

    const perSession = new Map<string, Set<string>>(); // session → the addresses its messages asked for
    for (const m of fixture.received) {
      const asked = expected.get(m.rcptTo[0]!)!;
      perSession.set(m.session, (perSession.get(m.session) ?? new Set()).add(asked));
    }
    for (const [session, asked] of perSession) {
      expect([...asked], `session ${session}`).toHaveLength(1);
      expect(fixture.remotes.get(session)?.address, `session ${session}`).toBe([...asked][0]);
    }
    // The pool did reuse connections (so the check above had a chance to fail): far fewer sessions than messages.
    expect(perSession.size).toBeGreaterThanOrEqual(3);
    expect(perSession.size).toBeLessThan(24);
    // Each client end (address and port) is its own connection, each carried one address's mail.
    const ends = new Set([...perSession.keys()].map((s) => `${fixture.remotes.get(s)!.address}:${fixture.remotes.get(s)!.port}`));
    expect(ends.size).toBe(perSession.size);
  });

  it("an address the host does not have (192.0.2.10) → retry, reason connection; nothing is sent from any other address", async () => {
    const results = await send([item("notours@example.net", NOT_OURS), item("ours@example.net", "127.0.0.2")]);
    expect(results[0]).toMatchObject({ kind: "retry", detail: { reason: "connection", sourceAddress: NOT_OURS } });
    expect(String(results[0]!.detail.error)).toMatch(/EADDRNOTAVAIL|address not available/i);
    // Idle connections from 127.0.0.1, .2 and .3 were in the pool: none of them took the message.
    expect(results[1]).toMatchObject({ kind: "accepted", detail: { sourceAddress: "127.0.0.2" } });
    expect(fixture.rcpts.map((r) => r.address)).toEqual(["ours@example.net"]);
    expect(Object.fromEntries(arrivedFrom())).toEqual({ "ours@example.net": "127.0.0.2" });
  });
});

describe("holding a message to its slot (holdMs, a throttle's grant dated ahead)", () => {
  it("the held message is sent after the others and not before its hold", async () => {
    const started = performance.now();
    const results = await send([{ ...item("held@example.net"), holdMs: 1_500 }, item("now@example.net")]);
    expect(results.map((r) => r.kind)).toEqual(["accepted", "accepted"]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_500);
    expect(fixture.rcpts.map((r) => r.address)).toEqual(["now@example.net", "held@example.net"]);
  });
});

describe("a reply that asks the sender to slow down: retry with throttled", () => {
  it("421 4.7.0 at RCPT and after DATA, 451 4.7.500 → throttled; 450 4.2.2 → a retry without it", async () => {
    const items = [
      item("rcpt421@example.net", "127.0.0.2"),
      item("data421@example.net", "127.0.0.3"),
      item("mailboxfull@example.net", "127.0.0.2"),
      item("serverbusy@example.net"),
    ];
    const [rcpt421, data421, full, busy] = await send(items);
    expect(rcpt421).toMatchObject({
      kind: "retry",
      detail: { reason: "deferred", smtpCode: 421, enhancedCode: "4.7.0", throttled: true, sourceAddress: "127.0.0.2" },
    });
    expect(data421).toMatchObject({
      kind: "retry",
      detail: { reason: "deferred", smtpCode: 421, enhancedCode: "4.7.0", throttled: true, sourceAddress: "127.0.0.3" },
    });
    expect(full).toMatchObject({ kind: "retry", detail: { reason: "deferred", smtpCode: 450, enhancedCode: "4.2.2" } });
    expect(full!.detail).not.toHaveProperty("throttled");
    expect(busy).toMatchObject({ kind: "retry", detail: { reason: "deferred", smtpCode: 451, enhancedCode: "4.7.500", throttled: true } });
    expect(fixture.received).toHaveLength(0);
  });
});
