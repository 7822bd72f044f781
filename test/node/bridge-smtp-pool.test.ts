// The SMTP connection pool: connections are reused across items and across batches, the
// per-destination cap bounds the sessions open at the receiving MTA at once, the per-account
// cap bounds one account's concurrent deliveries, idle connections are closed, a connection
// the server dropped while idle never costs a message, and shutdown closes the pool.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { SmtpPool, type Endpoint } from "../../bridge/src/smtp/pool.ts";
import { batchResults, BRIDGE_SMTP_PATH, type BatchResults } from "../../src/core/bridge.ts";
import { waitFor } from "../wait.ts";
import { signedPost, smarthost, smtpItem, startSmtpFixture, testConfig, type SmtpFixture } from "./smtp-fixture.ts";

let fixture: SmtpFixture;
const bridges: Bridge[] = [];

beforeAll(async () => {
  fixture = await startSmtpFixture();
});

afterAll(async () => {
  await fixture?.close();
});

beforeEach(() => {
  fixture.reset();
  fixture.holdMs = 0;
});

afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.close()));
  await waitFor(() => fixture.stats.open === 0, "the fixture's sessions to close");
});

async function bridgeWith(smtp: Parameters<typeof testConfig>[0] = {}): Promise<Bridge> {
  const bridge = await startBridge(testConfig({ ca: fixture.caPem, ...smtp }));
  bridges.push(bridge);
  return bridge;
}

async function send(bridge: Bridge, items: Array<Record<string, unknown>>): Promise<BatchResults["results"]> {
  const res = await signedPost(`${bridge.url}${BRIDGE_SMTP_PATH}`, { items });
  expect(res.status).toBe(200);
  const { results } = batchResults.parse(await res.json());
  expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id));
  return results;
}

const batch = (n: number, extra: { account?: string; prefix?: string } = {}) =>
  Array.from({ length: n }, (_, i) =>
    smtpItem({
      rcptTo: `${extra.prefix ?? "user"}${i}@example.net`,
      relay: smarthost(fixture),
      ...(extra.account ? { account: extra.account } : {}),
    }),
  );

describe("connection reuse", () => {
  it("two batches of 10 to the same host: at most SMTP_MAX_PER_DOMAIN connections, far fewer than messages", async () => {
    const bridge = await bridgeWith({ maxPerDomain: 5 });
    const first = await send(bridge, batch(10, { prefix: "a" }));
    const second = await send(bridge, batch(10, { prefix: "b" }));
    expect([...first, ...second].every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.received).toHaveLength(20);
    expect(fixture.stats.opened).toBeLessThanOrEqual(5);
    expect(fixture.stats.opened).toBeLessThan(20);
    // The second batch opened nothing new: it went over the first batch's idle connections.
    const firstSessions = new Set(fixture.received.slice(0, 10).map((r) => r.session));
    expect(fixture.received.slice(10).every((r) => firstSessions.has(r.session))).toBe(true);
    expect(Object.values(bridge.smtpPool.connectionCounts()).reduce((a, b) => a + b, 0)).toBe(fixture.stats.opened);
  });

  it("sequential messages go over one connection", async () => {
    const bridge = await bridgeWith();
    for (let i = 0; i < 5; i++) expect((await send(bridge, batch(1, { prefix: `seq${i}-` })))[0]!.kind).toBe("accepted");
    expect(fixture.stats.opened).toBe(1);
    expect(new Set(fixture.received.map((r) => r.session)).size).toBe(1);
  });

  it("a refused message does not cost the connection: the next one reuses it after RSET", async () => {
    const bridge = await bridgeWith();
    const [bounced] = await send(bridge, [smtpItem({ rcptTo: "bounce-1@example.net", relay: smarthost(fixture) })]);
    const [accepted] = await send(bridge, [smtpItem({ rcptTo: "fine-1@example.net", relay: smarthost(fixture) })]);
    expect(bounced!.kind).toBe("bounced");
    expect(accepted!.kind).toBe("accepted");
    expect(fixture.stats.opened).toBe(1);
  });

  it("connections the server dropped while idle leave the pool; the next message still goes out", async () => {
    const bridge = await bridgeWith();
    await send(bridge, batch(3, { prefix: "before" }));
    const opened = fixture.stats.opened;
    expect(opened).toBeGreaterThanOrEqual(1);
    fixture.cut(); // the MTA ends every session (as on its idle timeout), still listening
    const [result] = await send(bridge, [smtpItem({ rcptTo: "after@example.net", relay: smarthost(fixture) })]);
    expect(result!.kind).toBe("accepted");
    expect(fixture.stats.opened).toBe(opened + 1); // over a fresh connection
  });
});

describe("the pool itself", () => {
  const endpoint = (): Endpoint => ({
    key: "test",
    label: `${fixture.host}:${fixture.port}`,
    host: fixture.host,
    port: fixture.port,
    tls: "starttls",
    requireTLS: true,
    verify: true,
  });

  it("an idle connection that fails its RSET probe is replaced before the delivery gets it", async () => {
    const pool = new SmtpPool({ heloName: "bridge.lasthop.test", maxPerHost: 1, idleMs: 30_000, timeoutMs: 5_000, ca: fixture.caPem });
    try {
      const first = await pool.acquire(endpoint());
      first.release(true);
      fixture.cut(); // in the same tick: the pool has not seen the close yet, only the probe can tell
      const second = await pool.acquire(endpoint());
      expect(second.connectionId).not.toBe(first.connectionId);
      expect(second.reused).toBe(false);
      second.release(true);
      const third = await pool.acquire(endpoint()); // and a healthy idle one passes the probe
      expect(third.connectionId).toBe(second.connectionId);
      expect(third.reused).toBe(true);
      third.release(true);
    } finally {
      await pool.close(1_000);
    }
  });

  it("right after a completed transaction the connection goes out again unprobed; after anything else it is probed", async () => {
    const pool = new SmtpPool({ heloName: "bridge.lasthop.test", maxPerHost: 1, idleMs: 30_000, timeoutMs: 5_000, ca: fixture.caPem });
    try {
      const first = await pool.acquire(endpoint());
      first.release(true, true); // 250 after DATA
      fixture.cut(); // in the same tick: only an RSET probe could tell, and none is sent
      const second = await pool.acquire(endpoint());
      expect(second.connectionId).toBe(first.connectionId);
      expect(second.reused).toBe(true);
      second.release(true); // a refusal, say: state may be left on the server
      const third = await pool.acquire(endpoint()); // probed: the cut connection is found and replaced
      expect(third.connectionId).not.toBe(first.connectionId);
      expect(third.reused).toBe(false);
      third.release(true);
    } finally {
      await pool.close(1_000);
    }
  });

  it("a connection is retired (QUIT) after its message cap; the next lease opens a new one", async () => {
    const pool = new SmtpPool({
      heloName: "bridge.lasthop.test",
      maxPerHost: 1,
      idleMs: 30_000,
      timeoutMs: 5_000,
      ca: fixture.caPem,
      maxMessagesPerConnection: 2,
    });
    try {
      const ids: number[] = [];
      for (let i = 0; i < 4; i++) {
        const lease = await pool.acquire(endpoint());
        ids.push(lease.connectionId);
        lease.release(true);
      }
      expect(ids[0]).toBe(ids[1]);
      expect(ids[2]).toBe(ids[3]);
      expect(ids[2]).not.toBe(ids[0]);
      await waitFor(() => fixture.stats.open === 1, "the retired connection to end at the MTA");
    } finally {
      await pool.close(1_000);
    }
  });

  it("at the per-host cap a second delivery waits for the connection to come back", async () => {
    const pool = new SmtpPool({ heloName: "bridge.lasthop.test", maxPerHost: 1, idleMs: 30_000, timeoutMs: 5_000, ca: fixture.caPem });
    try {
      const first = await pool.acquire(endpoint());
      let granted = false;
      const waiting = pool.acquire(endpoint()).then((lease) => {
        granted = true;
        return lease;
      });
      // No sleep needed: at the cap, acquire() queues synchronously. A second connection would
      // already count in size() (connecting ones do); a grant would have run by the next turn.
      await new Promise((resolve) => setImmediate(resolve));
      expect(granted).toBe(false);
      expect(pool.size()).toBe(1);
      first.release(true);
      const second = await waiting;
      expect(second.connectionId).toBe(first.connectionId);
      second.release(false); // e.g. a connection error: discarded, not reused
      expect(pool.size()).toBe(0);
    } finally {
      await pool.close(1_000);
    }
  });
});

describe("caps", () => {
  it("SMTP_MAX_PER_DOMAIN=2: never more than 2 sessions open at the MTA, and both are used", async () => {
    const bridge = await bridgeWith({ maxPerDomain: 2 });
    fixture.holdMs = 100;
    const results = await send(bridge, batch(10));
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.stats.maxOpen).toBe(2);
    expect(fixture.stats.maxBusy).toBe(2);
    expect(fixture.stats.opened).toBe(2);
  });

  it("the per-domain cap holds across concurrent batches", async () => {
    const bridge = await bridgeWith({ maxPerDomain: 3 });
    fixture.holdMs = 50;
    const all = await Promise.all([
      send(bridge, batch(8, { prefix: "x" })),
      send(bridge, batch(8, { prefix: "y" })),
      send(bridge, batch(8, { prefix: "z" })),
    ]);
    expect(all.flat().every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.stats.maxOpen).toBeLessThanOrEqual(3);
    expect(fixture.stats.maxBusy).toBeLessThanOrEqual(3);
    expect(fixture.received).toHaveLength(24);
  });

  it("SMTP_MAX_PER_ACCOUNT=1: one account's messages go one at a time, other accounts are not held up", async () => {
    const bridge = await bridgeWith({ maxPerDomain: 5, maxPerAccount: 1 });
    fixture.holdMs = 80;
    const results = await send(bridge, [...batch(4, { account: "acct_a", prefix: "a" }), ...batch(4, { account: "acct_b", prefix: "b" })]);
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.stats.maxBusy).toBe(2); // one per account at a time
    expect(fixture.stats.opened).toBeLessThanOrEqual(2);
  });
  it("an item that waits longer than SMTP_TIMEOUT_MS for its turn → retry (queue_timeout), nothing sent", async () => {
    const bridge = await bridgeWith({ maxPerDomain: 1, timeoutMs: 1_000 });
    fixture.holdMs = 600;
    const results = await send(bridge, batch(3, { prefix: "q" }));
    expect(results.map((r) => r.kind)).toEqual(["accepted", "accepted", "retry"]);
    expect(results[2]!.detail).toMatchObject({ reason: "queue_timeout" });
    expect(fixture.rcpts.map((r) => r.address)).toEqual(["q0@example.net", "q1@example.net"]);
  });
});

describe("idle connections and shutdown", () => {
  it("SMTP_IDLE_MS: an idle connection is closed (QUIT) after that long", async () => {
    const bridge = await bridgeWith({ idleMs: 200 });
    await send(bridge, batch(2));
    expect(fixture.stats.open).toBeGreaterThanOrEqual(1);
    await waitFor(() => fixture.stats.open === 0, "the idle connections to close");
    expect(bridge.smtpPool.connectionCounts()).toEqual({});
    const health = (await (await fetch(`${bridge.url}/healthz`)).json()) as { smtp: { connections: Record<string, number> } };
    expect(health.smtp.connections).toEqual({});
  });

  it("close() closes the pooled connections", async () => {
    const bridge = await startBridge(testConfig({ ca: fixture.caPem }));
    await send(bridge, batch(3));
    expect(fixture.stats.open).toBeGreaterThanOrEqual(1);
    await bridge.close();
    expect(bridge.smtpPool.size()).toBe(0);
    await waitFor(() => fixture.stats.open === 0, "the sessions to end at the MTA");
  });
});
