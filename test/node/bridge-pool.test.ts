// The APNs HTTP/2 session pool against a misbehaving fixture: stream limits, GOAWAY mid-batch,
// a dropped socket mid-batch, deadlines, PING keep-alive. The rule under test throughout:
// every notification is answered by the peer exactly once and none is lost.
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { BRIDGE_APNS_PATH, batchResults } from "../../src/core/bridge.ts";
import { freePort } from "../../sandbox/ports.ts";
import { waitFor } from "../wait.ts";
import { deviceToken, item, makeApnsKey, signedPost, startApnsFixture, testConfig, type ApnsFixture } from "./apns-fixture.ts";

const key = makeApnsKey();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fixtureAndBridge(fixtureOptions: Parameters<typeof startApnsFixture>[0], apns: Parameters<typeof testConfig>[2] = {}) {
  const fixture = await startApnsFixture({ publicKey: key.publicKey, ...fixtureOptions });
  cleanups.push(() => fixture.close());
  const bridge = await startBridge(testConfig(fixture, key.pem, apns));
  cleanups.push(() => bridge.close());
  return { fixture, bridge };
}

async function sendBatch(bridge: Bridge, items: Array<Record<string, unknown>>) {
  const res = await signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, { items });
  expect(res.status).toBe(200);
  return batchResults.parse(await res.json()).results;
}

function expectAnsweredOnce(fixture: ApnsFixture, items: Array<Record<string, unknown>>) {
  const ids = items.map((i) => i.id as string);
  expect(new Set(fixture.answered).size).toBe(fixture.answered.length); // no id answered twice
  expect([...fixture.answered].sort()).toEqual([...ids].sort()); // every id answered
}

describe("APNs session pool", () => {
  it("spreads 200 concurrent items over 2 sessions within the peer's stream limit", async () => {
    const { fixture, bridge } = await fixtureAndBridge({ maxConcurrentStreams: 50 });
    fixture.behaviors.set(deviceToken("held"), { holdMs: 30 }); // keeps streams open so they pile up
    const items = Array.from({ length: 200 }, () => item("held"));
    const results = await sendBatch(bridge, items);
    expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id)); // item order
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.stats.sessions).toBe(2);
    expect(fixture.stats.maxActivePerSession).toBe(50);
    expect(fixture.stats.refusedStreams).toBe(0);
    expectAnsweredOnce(fixture, items);
    expect(bridge.pool!.sessionCounts()).toEqual({ [fixture.origin]: 2 });
  });

  it("under load, spreads over more sessions before any fills: 4 allowed, 400 held streams, a limit of 1000", async () => {
    const { fixture, bridge } = await fixtureAndBridge({ maxConcurrentStreams: 1000 }, { sessionsPerOrigin: 4 });
    fixture.behaviors.set(deviceToken("held"), { holdMs: 200 });
    const items = Array.from({ length: 400 }, () => item("held"));
    const results = (await Promise.all([sendBatch(bridge, items.slice(0, 200)), sendBatch(bridge, items.slice(200))])).flat();
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(fixture.stats.sessions).toBeGreaterThan(1); // one session could have taken them all
    expect(fixture.stats.sessions).toBeLessThanOrEqual(4);
    expect(fixture.stats.refusedStreams).toBe(0);
    expectAnsweredOnce(fixture, items);
  });

  it("GOAWAY mid-batch: streams above the last-stream-id are retried on another session, each item answered once", async () => {
    const { fixture, bridge } = await fixtureAndBridge({ maxConcurrentStreams: 50, goawayAfterStreams: 30 });
    fixture.behaviors.set(deviceToken("held"), { holdMs: 10 });
    const items = Array.from({ length: 200 }, () => item("held"));
    const results = await sendBatch(bridge, items);
    expect(fixture.stats.goaways).toBe(1);
    expect(results.filter((r) => r.kind !== "accepted")).toEqual([]);
    expectAnsweredOnce(fixture, items);
    // Some streams reached the fixture above the GOAWAY and were refused, then re-sent.
    expect(fixture.stats.refusedStreams).toBeGreaterThan(0);
    expect(fixture.stats.sessions).toBeGreaterThanOrEqual(2);
  });

  it("socket lost mid-batch: unanswered items are retried on a fresh session, answered once, none lost", async () => {
    const { fixture, bridge } = await fixtureAndBridge({ maxConcurrentStreams: 50, destroyAfterRequests: 60 }, { sessionsPerOrigin: 1 });
    fixture.behaviors.set(deviceToken("held"), { holdMs: 20 });
    const items = Array.from({ length: 200 }, () => item("held"));
    const results = await sendBatch(bridge, items);
    expect(fixture.stats.destroyed).toBe(1);
    expect(results.filter((r) => r.kind !== "accepted")).toEqual([]);
    expectAnsweredOnce(fixture, items);
    // The lost requests were received by the fixture but not answered: they were sent twice,
    // answered once.
    expect(fixture.received.length).toBeGreaterThan(200);
    expect(fixture.stats.sessions).toBe(2); // the dropped one and its replacement
  });

  it("a request whose response headers arrived is never re-sent, even when the connection then drops", async () => {
    const { fixture, bridge } = await fixtureAndBridge({});
    fixture.behaviors.set(deviceToken("cut"), { afterHeaders: "drop" });
    const items = [item("cut")];
    const results = await sendBatch(bridge, items);
    expect(fixture.stats.destroyed).toBe(1);
    expect(fixture.received.map((r) => r.apnsId)).toEqual([items[0]!.id]); // sent once
    // The 200 status arrived: that is APNs' answer, whatever happened to the body.
    expect(results[0]).toMatchObject({ kind: "accepted", detail: { status: 200, incompleteBody: true } });
  });

  it("a request whose response headers arrived keeps that answer when the deadline passes mid-body", async () => {
    const { fixture, bridge } = await fixtureAndBridge({}, { requestTimeoutMs: 300 });
    fixture.behaviors.set(deviceToken("slow-body"), { status: 410, reason: "Unregistered", afterHeaders: "stall" });
    const items = [item("slow-body")];
    const results = await sendBatch(bridge, items);
    expect(fixture.received).toHaveLength(1);
    expect(results[0]).toMatchObject({ kind: "bounced", detail: { status: 410, reason: "token_invalid", incompleteBody: true } });
  });

  it("a request past its deadline comes back as retry/timeout; the rest of the batch is unaffected", async () => {
    const { fixture, bridge } = await fixtureAndBridge({}, { requestTimeoutMs: 300 });
    fixture.behaviors.set(deviceToken("stuck"), { holdMs: 3_000 });
    const items = [item("stuck"), item("fine")];
    const started = Date.now();
    const results = await sendBatch(bridge, items);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(results[0]).toMatchObject({ kind: "retry", detail: { reason: "timeout" } });
    expect(results[1]).toMatchObject({ kind: "accepted" });
    expect(fixture.answered).toEqual([items[1]!.id]);
  });

  it("an origin that refuses connections answers retry/transport quickly, without hammering it", async () => {
    const port = await freePort(); // nothing listens there
    const down = await startBridge(testConfig({ origin: `https://127.0.0.1:${port}`, caPem: "" }, key.pem));
    cleanups.push(() => down.close());
    const started = Date.now();
    const results = await sendBatch(down, [item("a"), item("b"), item("c")]);
    expect(Date.now() - started).toBeLessThan(3_000);
    for (const r of results)
      expect(r).toMatchObject({
        kind: "retry",
        detail: { reason: "transport", error: expect.stringMatching(/^cannot connect to .*ECONNREFUSED/) },
      });
  });

  it("an untrusted certificate is a transport failure that says why", async () => {
    const fixture = await startApnsFixture({ publicKey: key.publicKey });
    cleanups.push(() => fixture.close());
    const bridge = await startBridge(testConfig({ origin: fixture.origin, caPem: "" }, key.pem)); // no extra CA
    cleanups.push(() => bridge.close());
    const [result] = await sendBatch(bridge, [item("a")]);
    expect(result).toMatchObject({
      kind: "retry",
      detail: { reason: "transport", error: expect.stringMatching(/self-signed certificate/) },
    });
    expect(fixture.received).toHaveLength(0);
  });

  it("keeps sessions alive with PING and drops a session whose PING goes unanswered", async () => {
    const fixture = await startApnsFixture({ publicKey: key.publicKey });
    cleanups.push(() => fixture.close());
    const proxy = await stallableProxy(Number(new URL(fixture.origin).port));
    cleanups.push(() => proxy.close());
    const origin = `https://127.0.0.1:${proxy.port}`;
    const bridge = await startBridge(
      testConfig({ origin, caPem: fixture.caPem }, key.pem, { pingIntervalMs: 100, requestTimeoutMs: 2_000 }),
    );
    cleanups.push(() => bridge.close());

    expect((await sendBatch(bridge, [item("a")]))[0]!.kind).toBe("accepted");
    await waitFor(() => fixture.stats.pings >= 2, "two PINGs answered");
    expect(bridge.pool!.sessionCounts()).toEqual({ [origin]: 1 });

    proxy.stall(); // the peer goes silent: the next PING is never answered
    await waitFor(() => bridge.pool!.sessionCounts()[origin] === 0, "the silent session dropped");
    proxy.resume();
    // A fresh session serves the next batch.
    expect((await sendBatch(bridge, [item("b")]))[0]!.kind).toBe("accepted");
    expect(fixture.stats.sessions).toBe(2);
  });
});

/** A TCP relay that can stop forwarding, so a live connection goes silent (PING unanswered). */
async function stallableProxy(targetPort: number): Promise<{ port: number; stall(): void; resume(): void; close(): Promise<void> }> {
  let stalled = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (d) => {
      if (!stalled) upstream.write(d);
    });
    upstream.on("data", (d) => {
      if (!stalled) client.write(d);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stall: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
