// SMPP binds and the surroundings: reconnect with exponential backoff and full jitter (bounded
// by reconnectMinMs / reconnectMaxMs), enquire_link keep-alive and dead-session detection,
// transmitter + receiver pairs, recovery after the SMSC restarts, /healthz and /metrics, the
// signed endpoint's refusals, graceful close (outstanding responses waited for, then unbind),
// and SMPP_ROUTES configuration.
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { ConfigError, loadConfig } from "../../bridge/src/config.ts";
import { SmppConnection } from "../../bridge/src/smpp/session.ts";
import { BRIDGE_SMPP_PATH } from "../../src/core/bridge.ts";
import { waitFor } from "../wait.ts";
import { smppConfig, startSmsc, testRoute, type FakeSmsc } from "./bridge-smpp-fixture.ts";
import { startFakeEdge, type FakeEdge } from "./fixtures/fake-edge.ts";
import { makeCertificate, SECRET, signedPost, testConfig } from "./smtp-fixture.ts";

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(
  routeOverrides: Parameters<typeof testRoute>[1] = {},
  smscOptions: Parameters<typeof startSmsc>[0] = {},
  waitUp = true,
): Promise<{ peer: FakeSmsc; edge: FakeEdge; bridge: Bridge }> {
  const edge = await startFakeEdge();
  cleanup.push(() => edge.close());
  const peer = await startSmsc(smscOptions);
  cleanup.push(() => peer.close());
  const bridge = await startBridge(smppConfig(edge.url, [testRoute(peer, routeOverrides)]));
  cleanup.push(() => bridge.close());
  if (waitUp) await waitFor(() => bridge.smpp!.health().routes.test!.up === bridge.smpp!.health().routes.test!.binds.length, "binds up");
  return { peer, edge, bridge };
}

/** Listens on `port` and drops every connection at once, counting them: a host up, an SMSC not. */
async function dropEveryConnection(port: number): Promise<{ count(): number; close(): Promise<void> }> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { count: () => count, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const item = () => ({ id: randomUUID(), route: "test", from: "LASTHOP", to: "+15557654321", body: "hi", reference: 1 });

describe("reconnect", () => {
  it("backs off exponentially between reconnectMinMs and reconnectMaxMs (jitter at its top here), forever", async () => {
    const peer = await startSmsc({ password: "other" }); // refuses our password: every bind fails
    cleanup.push(() => peer.close());
    const connection = new SmppConnection({
      route: "test",
      endpoint: { host: peer.host, port: peer.port, systemId: "lasthop", password: "devpass1", tls: false },
      role: "transceiver",
      window: 1,
      enquireLinkMs: 30_000,
      responseTimeoutMs: 1_000,
      reconnectMinMs: 20,
      reconnectMaxMs: 160,
      log: pino({ level: "silent" }),
      onChange: () => {},
      random: () => 0.999,
    });
    cleanup.push(() => connection.close(100));
    connection.start();
    await waitFor(() => peer.binds.length >= 7, "seven bind attempts");
    expect(peer.binds.every((b) => !b.ok)).toBe(true);
    const gaps = peer.binds.slice(1, 7).map((b, i) => b.at - peer.binds[i]!.at);
    // ≈ 20, 40, 80, 160, 160, 160 (+ connect time), never below the floor nor far above the cap
    const expected = [20, 40, 80, 160, 160, 160];
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(expected[i]! * 0.99 - 2);
      expect(gap).toBeLessThan(expected[i]! + 60);
    });
    expect(connection.state).not.toBe("up");
    expect(connection.lastError).toMatch(/bind refused/);
  });

  it("after the SMSC restarts: down in /healthz and /metrics, then bound again and sending", async () => {
    const { peer, bridge } = await setup({ reconnectMinMs: 20, reconnectMaxMs: 100 });
    const health = async () =>
      (await (await fetch(`${bridge.url}/healthz`)).json()) as {
        smpp: {
          enabled: boolean;
          routes: Record<string, { binds: Array<{ host: string; port: number; systemId: string; state: string }>; up: number }>;
        };
      };
    expect((await health()).smpp).toEqual({
      enabled: true,
      routes: { test: { binds: [{ host: "127.0.0.1", port: peer.port, systemId: "lasthop", mode: "transceiver", state: "up" }], up: 1 } },
    });
    expect(await (await fetch(`${bridge.url}/metrics`)).text()).toMatch(/bridge_smpp_binds\{route="test",state="up"\} 1/);
    await peer.stop();
    await waitFor(() => bridge.smpp!.health().routes.test!.up === 0, "bind down");
    expect((await health()).smpp.routes.test!.binds[0]!.state).not.toBe("up");
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_smpp_binds\{route="test",state="up"\} 0/);
    // Several failed reconnects: while the SMSC is down its port takes connections and drops them, counted.
    const down = await dropEveryConnection(peer.port);
    await waitFor(
      () => down.count() >= 3,
      () => `three reconnect attempts (got ${down.count()})`,
    );
    await down.close();
    await peer.restart();
    await waitFor(() => bridge.smpp!.health().routes.test!.up === 1, "bound again");
    const res = await signedPost(`${bridge.url}${BRIDGE_SMPP_PATH}`, { items: [item()] });
    expect(((await res.json()) as { results: Array<{ kind: string }> }).results[0]!.kind).toBe("accepted");
  });
});

describe("enquire_link", () => {
  it("keeps the session: sent every enquireLinkMs, answered, no rebind", async () => {
    const { peer } = await setup({ enquireLinkMs: 60, responseTimeoutMs: 200 });
    await waitFor(
      () => peer.enquireLinks >= 4,
      () => `four enquire_links (got ${peer.enquireLinks})`,
    );
    expect(peer.binds).toHaveLength(1);
  });

  it("unanswered within responseTimeoutMs: the session is dead, closed and bound again", async () => {
    const { peer, bridge } = await setup({ enquireLinkMs: 60, responseTimeoutMs: 150 });
    peer.answerEnquireLink = false;
    await waitFor(() => peer.binds.length >= 2, "a new bind");
    peer.answerEnquireLink = true;
    await waitFor(() => bridge.smpp!.health().routes.test!.up === 1, "up again");
  });
});

describe("transmitter + receiver pair", () => {
  it("binds one of each; submits go on the transmitter, receipts come on the receiver", async () => {
    const edge = await startFakeEdge();
    cleanup.push(() => edge.close());
    const peer = await startSmsc();
    cleanup.push(() => peer.close());
    const route = testRoute(peer);
    route.binds[0]!.mode = "pair";
    const bridge = await startBridge(smppConfig(edge.url, [route]));
    cleanup.push(() => bridge.close());
    await waitFor(() => bridge.smpp!.health().routes.test!.up === 1, "pair up");
    expect(peer.binds.map((b) => b.command).sort()).toEqual(["bind_receiver", "bind_transmitter"]);
    const res = await signedPost(`${bridge.url}${BRIDGE_SMPP_PATH}`, { items: [item()] });
    expect(((await res.json()) as { results: Array<{ kind: string }> }).results[0]!.kind).toBe("accepted");
    const transmitter = peer.sessions.find((s) => s.bound === "bind_transmitter")!;
    expect(peer.submits[0]!.session).toBe(transmitter.index);
    const resp = await peer.deliver({
      source_addr_ton: 1,
      source_addr: "15557654321",
      destination_addr: "LASTHOP",
      esm_class: 0x04,
      short_message: Buffer.from("id:9 stat:DELIVRD"),
    });
    expect(resp?.status).toBe(0);
    expect(edge.requests[0]!.json).toMatchObject({ kind: "dlr", smscId: "9", stat: "DELIVRD" });
  });
});

describe("TLS", () => {
  it("binds over TLS, trusting the CA file named in SMPP_ROUTES; refuses an untrusted certificate", async () => {
    const certificate = makeCertificate();
    const dir = mkdtempSync(join(tmpdir(), "lasthop-smpp-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, "ca.pem"), certificate.cert);
    const edge = await startFakeEdge();
    cleanup.push(() => edge.close());
    const peer = await startSmsc({ tls: certificate });
    cleanup.push(() => peer.close());
    const bind = { host: "127.0.0.1", port: peer.port, systemId: "lasthop", password: "devpass1", mode: "transceiver", tls: true };
    const config = loadConfig({
      BRIDGE_SECRET: SECRET,
      BRIDGE_PORT: "0",
      LOG_LEVEL: "silent",
      EDGE_URL: edge.url,
      SMPP_ROUTES: JSON.stringify([
        { name: "test", binds: [{ ...bind, ca: join(dir, "ca.pem") }], reconnectMinMs: 20, reconnectMaxMs: 100 },
        { name: "untrusted", binds: [bind], reconnectMinMs: 20, reconnectMaxMs: 100 },
      ]),
    });
    const bridge = await startBridge(config);
    cleanup.push(() => bridge.close());
    await waitFor(() => bridge.smpp!.health().routes.test!.up === 1, "TLS bind up");
    const res = await signedPost(`${bridge.url}${BRIDGE_SMPP_PATH}`, { items: [item()] });
    expect(((await res.json()) as { results: Array<{ kind: string }> }).results[0]!.kind).toBe("accepted");
    expect(peer.binds.filter((b) => b.ok)).toHaveLength(1); // the untrusted route never got as far as binding
    expect(bridge.smpp!.health().routes.untrusted!.up).toBe(0);
    const untrusted = bridge.smpp!.service.routes.get("untrusted")!;
    expect(untrusted.health()[0]!.state).not.toBe("up");
  });
});

describe("the signed endpoint", () => {
  it("bad signature → 401, nothing sent; bad body → 400 with paths; not configured → 503", async () => {
    const { peer, bridge } = await setup();
    const url = `${bridge.url}${BRIDGE_SMPP_PATH}`;
    const unsigned = await signedPost(url, { items: [item()] }, `whsec_${randomBytes(32).toString("base64")}`);
    expect(unsigned.status).toBe(401);
    expect(((await unsigned.json()) as { error: { code: string } }).error.code).toBe("invalid_signature");
    const bad = await signedPost(url, { items: [{ ...item(), to: "15557654321", reference: 300 }] });
    expect(bad.status).toBe(400);
    const error = ((await bad.json()) as { error: { code: string; details: Array<{ path: string }> } }).error;
    expect(error.code).toBe("validation_failed");
    expect(error.details.map((d) => d.path).sort()).toEqual(["items.0.reference", "items.0.to"]);
    expect(peer.submits).toHaveLength(0);

    const plain = await startBridge(testConfig());
    cleanup.push(() => plain.close());
    const off = await signedPost(`${plain.url}${BRIDGE_SMPP_PATH}`, { items: [item()] });
    expect(off.status).toBe(503);
    expect(((await off.json()) as { error: { code: string } }).error.code).toBe("smpp_not_configured");
    expect(((await (await fetch(`${plain.url}/healthz`)).json()) as { smpp?: unknown }).smpp).toBeUndefined();
  });
});

describe("graceful close", () => {
  it("stops submitting, waits for the outstanding responses, then unbinds", async () => {
    const { peer, bridge } = await setup({ responseTimeoutMs: 5_000, enquireLinkMs: 50 });
    peer.decide = () => "hold";
    const pending = signedPost(`${bridge.url}${BRIDGE_SMPP_PATH}`, { items: [item()] });
    await waitFor(() => peer.held() === 1, "a held submit");
    const closing = bridge.close();
    await peer.pastEnquireLinks(); // an unbind written when the close began would have come before these
    expect(peer.unbinds).toBe(0); // still waiting for the response
    peer.releaseHeld();
    const res = await pending;
    expect(((await res.json()) as { results: Array<{ kind: string }> }).results[0]!.kind).toBe("accepted");
    await closing;
    expect(peer.unbinds).toBe(1);
    expect(bridge.smpp!.health().routes.test!.binds[0]!.state).toBe("down");
  });
});

describe("SMPP_ROUTES", () => {
  const base = { BRIDGE_SECRET: SECRET, EDGE_URL: "http://127.0.0.1:8787" };
  const example = JSON.stringify([
    { name: "sandbox", binds: [{ host: "127.0.0.1", port: 2775, systemId: "lasthop", password: "devpass1", mode: "transceiver" }] },
  ]);
  const problem = (env: Record<string, string>) => {
    try {
      loadConfig({ ...base, ...env });
      return "no error";
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
  };

  it("the example: defaults filled in; EDGE_URL alone is enough (no inbound SMTP)", () => {
    const config = loadConfig({ ...base, SMPP_ROUTES: example });
    expect(config.inbound).toBeUndefined();
    expect(config.smpp).toEqual({
      routes: [
        {
          name: "sandbox",
          binds: [{ host: "127.0.0.1", port: 2775, systemId: "lasthop", password: "devpass1", mode: "transceiver", tls: false }],
          window: 10,
          tps: null,
          useMessagePayload: false,
          submitIdBase: 10,
          receiptIdBase: 10,
          registeredDelivery: true,
          enquireLinkMs: 30_000,
          responseTimeoutMs: 10_000,
          reconnectMinMs: 500,
          reconnectMaxMs: 30_000,
          bindWaitMs: 2_000,
        },
      ],
      edgeUrl: "http://127.0.0.1:8787",
      edgeTimeoutMs: 15_000,
      batchTimeoutMs: 30_000,
      moReassemblyMs: 60_000,
    });
    const hex = loadConfig({
      ...base,
      SMPP_ROUTES: JSON.stringify([{ name: "a", binds: JSON.parse(example)[0].binds, submitIdBase: 16, tps: 12.5, destTon: 0 }]),
    });
    expect(hex.smpp!.routes[0]).toMatchObject({ submitIdBase: 16, receiptIdBase: 16, tps: 12.5, destTon: 0 });
    expect(loadConfig({ BRIDGE_SECRET: SECRET }).smpp).toBeUndefined();
  });

  it("errors name the variable and the path", () => {
    const bind = { host: "127.0.0.1", port: 2775, systemId: "lasthop", password: "devpass1", mode: "transceiver" };
    const routes = (r: Record<string, unknown>) => JSON.stringify([{ name: "a", binds: [bind], ...r }]);
    expect(problem({ SMPP_ROUTES: "[{" })).toMatch(/^SMPP_ROUTES is not valid JSON/);
    expect(problem({ SMPP_ROUTES: "{}" })).toBe("SMPP_ROUTES must be a JSON array of routes");
    expect(problem({ SMPP_ROUTES: routes({ binds: [{ ...bind, password: "toolongpw" }] }) })).toBe(
      "SMPP_ROUTES[0].binds[0].password must be at most 8 characters (SMPP password)",
    );
    expect(problem({ SMPP_ROUTES: routes({ binds: [{ ...bind, systemId: "x".repeat(16) }] }) })).toBe(
      "SMPP_ROUTES[0].binds[0].systemId must be at most 15 characters (SMPP system_id)",
    );
    expect(problem({ SMPP_ROUTES: routes({ binds: [{ ...bind, mode: "receiver" }] }) })).toBe(
      'SMPP_ROUTES[0].binds[0].mode must be "transceiver" or "pair"',
    );
    expect(problem({ SMPP_ROUTES: routes({ binds: [] }) })).toBe("SMPP_ROUTES[0].binds must hold at least one bind");
    expect(problem({ SMPP_ROUTES: routes({ window: 0 }) })).toBe("SMPP_ROUTES[0].window must be at least 1");
    expect(problem({ SMPP_ROUTES: routes({ tps: 0 }) })).toBe("SMPP_ROUTES[0].tps must be a number > 0, or null (uncapped)");
    expect(problem({ SMPP_ROUTES: routes({ submitIdBase: 8 }) })).toBe("SMPP_ROUTES[0].submitIdBase must be 10 or 16");
    expect(problem({ SMPP_ROUTES: routes({ reconnectMinMs: 1_000, reconnectMaxMs: 500 }) })).toBe(
      "SMPP_ROUTES[0].reconnectMaxMs must be at least reconnectMinMs",
    );
    expect(problem({ SMPP_ROUTES: routes({ windw: 3 }) })).toBe("SMPP_ROUTES[0] has an unknown field: windw");
    expect(
      problem({
        SMPP_ROUTES: JSON.stringify([
          { name: "a", binds: [bind] },
          { name: "a", binds: [bind] },
        ]),
      }),
    ).toBe('SMPP_ROUTES[1].name repeats the route name "a"');
    expect(problem({ SMPP_ROUTES: routes({ binds: [{ ...bind, tls: true, ca: "/nonexistent/ca.pem" }] }) })).toMatch(
      /^SMPP_ROUTES\[0\]\.binds\[0\]\.ca cannot be read/,
    );
    expect(problem({ SMPP_ROUTES: routes({ binds: [{ ...bind, ca: "/some/ca.pem" }] }) })).toBe(
      "SMPP_ROUTES[0].binds[0].ca needs tls: true",
    );
  });

  it("SMPP_ROUTES without EDGE_URL is an error naming EDGE_URL; EDGE_URL without SMPP or INBOUND_DOMAINS still is one", () => {
    expect(problem({ EDGE_URL: "", SMPP_ROUTES: example })).toBe(
      "EDGE_URL is missing: SMPP_ROUTES needs EDGE_URL (delivery receipts and MO messages are posted to the edge)",
    );
    expect(problem({})).toBe("INBOUND_DOMAINS is missing: the inbound SMTP server needs INBOUND_DOMAINS and EDGE_URL together");
    // Both SMPP and inbound SMTP share the one EDGE_URL.
    const both = loadConfig({ ...base, SMPP_ROUTES: example, INBOUND_DOMAINS: "bounces.example.com" });
    expect(both.inbound?.edgeUrl).toBe("http://127.0.0.1:8787");
    expect(both.smpp?.edgeUrl).toBe("http://127.0.0.1:8787");
  });
});
