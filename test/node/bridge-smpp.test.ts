// The bridge's SMPP send path against a real peer: node-smpp's own server as a minimal SMSC that
// the test drives (bridge-smpp-fixture.ts), and the bridge started in-process, called through its
// signed HTTP API. It proves the outcomes of POST /v1/smpp/send (accepted ids in canonical form,
// permanent and temporary statuses, response timeouts, route down), the window (never more than
// W outstanding per bind), the TPS cap (never more than ceil(tps) in any sliding second), the
// slow-down on ESME_RTHROTTLED, segmentation (one reference, one submit per part), and that a
// thousand messages through a connection dropped every hundred submits each get exactly one result.
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { BRIDGE_SMPP_PATH, batchResults } from "../../src/core/bridge.ts";
import { LONG_RUN_MS, waitFor, whileProgressing } from "../wait.ts";
import { smppConfig, startSmsc, testRoute, type FakeSmsc } from "./bridge-smpp-fixture.ts";
import { startFakeEdge, type FakeEdge } from "./fixtures/fake-edge.ts";
import { signedPost } from "./smtp-fixture.ts";

type Result = { id: string; kind: string; retryAfter?: number; detail: Record<string, unknown> };

let edge: FakeEdge;
const open: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  edge = await startFakeEdge();
});

afterEach(async () => {
  // Bridges first (they unbind), then the SMSCs.
  const all = open.splice(0);
  for (const thing of all.filter((t) => "smpp" in t)) await thing.close();
  for (const thing of all.filter((t) => !("smpp" in t))) await thing.close();
});

afterAll(async () => {
  await edge?.close();
});

async function smsc(options: Parameters<typeof startSmsc>[0] = {}): Promise<FakeSmsc> {
  const s = await startSmsc(options);
  open.push(s);
  return s;
}

async function bridgeFor(
  routes: Parameters<typeof smppConfig>[1],
  overrides: Parameters<typeof smppConfig>[2] = {},
  waitUp = true,
): Promise<Bridge> {
  const bridge = await startBridge(smppConfig(edge.url, routes, overrides));
  open.push(bridge);
  if (waitUp) {
    await waitFor(() => Object.values(bridge.smpp!.health().routes).every((r) => r.up === r.binds.length), "binds up");
  }
  return bridge;
}

let reference = 0;
function item(overrides: Partial<{ route: string; from: string; to: string; body: string; reference: number }> = {}) {
  reference = (reference + 1) % 256;
  return { id: randomUUID(), route: "test", from: "+15550001111", to: "+15557654321", body: "Hello from lasthop", reference, ...overrides };
}

async function send(bridge: Bridge, items: unknown[]): Promise<Result[]> {
  const res = await signedPost(`${bridge.url}${BRIDGE_SMPP_PATH}`, { items });
  expect(res.status).toBe(200);
  const body = batchResults.parse(await res.json());
  expect(body.results.map((r) => r.id)).toEqual((items as Array<{ id: string }>).map((i) => i.id));
  return body.results as Result[];
}

describe("submit and accepted ids", () => {
  it("binds, submits, and answers accepted with the SMSC's hex ids in canonical decimal form", async () => {
    const peer = await smsc({ idBase: 16 });
    const bridge = await bridgeFor([testRoute(peer, { submitIdBase: 16 })]);
    const items = [item(), item({ from: "LASTHOP" }), item({ from: "12345" })];
    const results = await send(bridge, items);
    expect(peer.submits).toHaveLength(3);
    for (const [i, r] of results.entries()) {
      const wire = peer.submits.find((s) => s.pdu.source_addr === ["15550001111", "LASTHOP", "12345"][i])!.id!;
      expect(wire).toMatch(/^[0-9a-f]+$/);
      expect(r).toMatchObject({
        kind: "accepted",
        detail: { route: "test", smscIds: [BigInt(`0x${wire}`).toString()], segments: 1, encoding: "gsm7", bind: `127.0.0.1:${peer.port}` },
      });
    }
    // Addresses: E.164 → TON 1 NPI 1 without '+'; alphanumeric → 5/0; short code → 3/0.
    const bySource = Object.fromEntries(peer.submits.map((s) => [s.pdu.source_addr as string, s.pdu]));
    expect(bySource["15550001111"]).toMatchObject({
      source_addr_ton: 1,
      source_addr_npi: 1,
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: "15557654321",
      registered_delivery: 1,
      data_coding: 0,
      esm_class: 0,
    });
    expect(bySource.LASTHOP).toMatchObject({ source_addr_ton: 5, source_addr_npi: 0 });
    expect(bySource["12345"]).toMatchObject({ source_addr_ton: 3, source_addr_npi: 0 });
    expect(peer.submits[0]!.bytes.toString("latin1")).toBe("Hello from lasthop"); // GSM 7-bit, one septet per octet
  });

  it("a 3-part message: one reference, three submit_sm with the concatenation UDH, ids in part order", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer)]);
    const body = "0123456789".repeat(40); // 400 GSM characters: 153 + 153 + 94
    const one = item({ body, reference: 77 });
    const [result] = await send(bridge, [one]);
    expect(peer.submits).toHaveLength(3);
    peer.submits.forEach((s, i) => {
      expect(s.pdu.esm_class).toBe(0x40);
      expect([...s.bytes.subarray(0, 6)]).toEqual([0x05, 0x00, 0x03, 77, 3, i + 1]);
    });
    expect(peer.submits.map((s) => s.bytes.subarray(6).toString("latin1")).join("")).toBe(body);
    expect(result).toMatchObject({ kind: "accepted", detail: { segments: 3, encoding: "gsm7", smscIds: peer.submits.map((s) => s.id) } });
  });

  it("UCS-2 bodies go as data_coding 8; useMessagePayload sends the whole body in one submit_sm's message_payload", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer), testRoute(peer, { name: "payload", useMessagePayload: true })]);
    const body = "Привет, мир! ".repeat(10); // 130 UCS-2 units: 2 parts in UDH mode
    const [udh, payload] = await send(bridge, [item({ body }), item({ body, route: "payload" })]);
    expect(udh).toMatchObject({ kind: "accepted", detail: { route: "test", segments: 2, encoding: "ucs2" } });
    expect(payload).toMatchObject({ kind: "accepted", detail: { route: "payload", segments: 2, encoding: "ucs2" } });
    expect((payload!.detail.smscIds as string[]).length).toBe(1);
    const viaPayload = peer.submits.filter((s) => s.payload && s.payload.length > 0);
    expect(viaPayload).toHaveLength(1);
    expect(viaPayload[0]!.pdu).toMatchObject({ data_coding: 8, esm_class: 0 });
    expect(viaPayload[0]!.bytes.length).toBe(0);
    expect(viaPayload[0]!.payload!.swap16().toString("utf16le")).toBe(body);
    const parts = peer.submits.filter((s) => !s.payload || s.payload.length === 0);
    expect(parts).toHaveLength(2);
    expect(parts.every((s) => s.pdu.data_coding === 8 && s.pdu.esm_class === 0x40)).toBe(true);
  });

  it("unknown route → failed unknown_route; a permanent status → failed with its name; partial when earlier parts were accepted", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer)]);
    peer.decide = (s) => (s.pdu.destination_addr === "15550000000" ? { status: 0x0b } : s.bytes[5] === 2 ? { status: 0x0b } : "ok");
    const long = "x".repeat(400);
    const [unknown, invalid, partial] = await send(bridge, [item({ route: "nope" }), item({ to: "+15550000000" }), item({ body: long })]);
    expect(unknown).toMatchObject({ kind: "failed", detail: { reason: "unknown_route", route: "nope" } });
    expect(invalid).toMatchObject({ kind: "failed", detail: { reason: "ESME_RINVDSTADR", commandStatus: 0x0b, route: "test" } });
    expect(invalid!.detail.partial).toBeUndefined();
    const first = peer.submits.find((s) => s.bytes[5] === 1 && s.bytes.length > 6)!;
    expect(partial).toMatchObject({ kind: "failed", detail: { reason: "ESME_RINVDSTADR", partial: true, smscIds: [first.id] } });
    // Part 3 was never sent once part 2 failed for good.
    expect(peer.submits.filter((s) => s.pdu.esm_class === 0x40)).toHaveLength(2);
  });

  it("another temporary status → retry with its name, submitted no", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer)]);
    peer.decide = () => ({ status: 0x08 });
    const [r] = await send(bridge, [item()]);
    expect(r).toMatchObject({ kind: "retry", detail: { reason: "ESME_RSYSERR", commandStatus: 8, route: "test", submitted: "no" } });
  });
});

describe("the window", () => {
  it("never more than W submit_sm outstanding per bind: the SMSC holds every response", async () => {
    const peer = await smsc();
    const W = 4;
    const bridge = await bridgeFor([testRoute(peer, { window: W, responseTimeoutMs: 10_000, enquireLinkMs: 50 })]);
    peer.decide = () => "hold";
    const items = Array.from({ length: 25 }, () => item());
    const pending = send(bridge, items);
    await waitFor(() => peer.held() === W, "the window to fill");
    await peer.pastEnquireLinks(); // anything written after the W-th submit has arrived by now
    expect(peer.held()).toBe(W); // nothing more is written while the window is full
    expect(peer.submits).toHaveLength(W);
    // Release a few at a time: each answer lets exactly one more in.
    let answered = 0;
    while (answered < items.length) {
      answered += peer.releaseHeld(2);
      const refill = Math.min(W, items.length - answered);
      await waitFor(() => peer.held() === refill, `the window to refill to ${refill}`);
      expect(peer.stats.maxPerSession).toBeLessThanOrEqual(W);
    }
    const results = await pending;
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(peer.stats.maxPerSession).toBe(W);
    expect(peer.stats.maxOutstanding).toBe(W);
  });

  it("is per bind: two binds of W=3 carry up to 6 together, never more than 3 each", async () => {
    const peer = await smsc();
    const route = testRoute(peer, { window: 3, responseTimeoutMs: 10_000, enquireLinkMs: 50 });
    route.binds.push({ ...route.binds[0]! });
    const bridge = await bridgeFor([route]);
    peer.decide = () => "hold";
    const pending = send(
      bridge,
      Array.from({ length: 20 }, () => item()),
    );
    await waitFor(() => peer.held() === 6, "both windows to fill");
    await peer.pastEnquireLinks(); // on both sessions: anything written after the 6th has arrived
    expect(peer.held()).toBe(6);
    expect(new Set(peer.submits.map((s) => s.session)).size).toBe(2);
    peer.decide = () => "ok"; // the rest are answered as they come
    expect(peer.releaseHeld()).toBe(6);
    const results = await pending;
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(peer.stats.maxPerSession).toBe(3);
    expect(peer.stats.maxOutstanding).toBe(6);
    const binds = new Set(results.map((r) => r.detail.bind));
    expect(binds.size).toBe(1); // same host:port for both binds here
  });
});

describe("the rate", () => {
  it("tps 20, 60 messages: ≥ ~3 s, and no sliding 1-second window at the SMSC holds more than 20", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer, { tps: 20, window: 50 })]);
    const started = performance.now();
    const results = await send(
      bridge,
      Array.from({ length: 60 }, () => item()),
    );
    const elapsed = performance.now() - started;
    expect(results.every((r) => r.kind === "accepted")).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(2_900);
    const times = peer.submits.map((s) => s.at).sort((a, b) => a - b);
    let most = 0;
    for (let i = 0; i < times.length; i++) {
      let n = 0;
      while (i + n < times.length && times[i + n]! - times[i]! < 1_000) n++;
      most = Math.max(most, n);
    }
    expect(most).toBeLessThanOrEqual(20);
    expect(most).toBeGreaterThanOrEqual(18); // and the cap is used, not undershot
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_smpp_throttle_waits_total\{route="test"\} [1-9]/);
  });

  it("tps 2.5: at most 3 in any second", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer, { tps: 2.5 })]);
    await send(
      bridge,
      Array.from({ length: 6 }, () => item()),
    );
    const times = peer.submits.map((s) => s.at).sort((a, b) => a - b);
    for (let i = 0; i + 3 < times.length; i++) expect(times[i + 3]! - times[i]!).toBeGreaterThanOrEqual(1_000);
  });

  it("ESME_RTHROTTLED: slows down, tries again, then succeeds", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer, { tps: 50 })]);
    peer.decide = (_s, n) => (n <= 2 ? { status: 0x58 } : "ok");
    const started = performance.now();
    const [r] = await send(bridge, [item()]);
    expect(r).toMatchObject({ kind: "accepted" });
    expect(peer.submits).toHaveLength(3);
    // Pauses of 100 then 200 ms between the tries.
    expect(peer.submits[1]!.at - peer.submits[0]!.at).toBeGreaterThanOrEqual(95);
    expect(peer.submits[2]!.at - peer.submits[1]!.at).toBeGreaterThanOrEqual(195);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    const route = bridge.smpp!.service.routes.get("test")!;
    expect(route.throttle.rate).toBeLessThan(50); // halved twice, recovering
    const metrics = await (await fetch(`${bridge.url}/metrics`)).text();
    expect(metrics).toMatch(/bridge_smpp_submits_total\{route="test",result="throttled"\} 2/);
  });

  it("ESME_RTHROTTLED on every try → retry with submitted no after 3 tries", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer)]);
    peer.decide = () => ({ status: 0x58 });
    const [r] = await send(bridge, [item()]);
    expect(r).toMatchObject({ kind: "retry", detail: { reason: "ESME_RTHROTTLED", commandStatus: 0x58, route: "test", submitted: "no" } });
    expect(peer.submits).toHaveLength(3);
  });
});

describe("ambiguous and unsent", () => {
  it("no submit_sm_resp within responseTimeoutMs → retry response_timeout, submitted maybe", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer, { responseTimeoutMs: 300 })]);
    peer.decide = () => "ignore";
    const started = performance.now();
    const [r] = await send(bridge, [item()]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(r).toMatchObject({ kind: "retry", detail: { reason: "response_timeout", route: "test", submitted: "maybe", smscIds: [] } });
  });

  it("no bind up → retry route_down, submitted no (nothing written), after the short bind wait", async () => {
    const peer = await smsc();
    await peer.stop();
    const bridge = await bridgeFor([testRoute(peer, { bindWaitMs: 300 })], {}, false);
    const started = performance.now();
    const results = await send(bridge, [item(), item()]);
    const elapsed = performance.now() - started;
    for (const r of results) expect(r).toMatchObject({ kind: "retry", detail: { reason: "route_down", route: "test", submitted: "no" } });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(2_000);
    expect(peer.submits).toHaveLength(0);
  });

  it("the connection dropped with a part written and unanswered → retry connection_lost, submitted maybe with the ids so far", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer, { responseTimeoutMs: 5_000 })]);
    peer.decide = (s) => (s.bytes[5] === 2 ? "hold" : "ok");
    const pending = send(bridge, [item({ body: "y".repeat(300) })]);
    await waitFor(() => peer.held() === 1, "part 2 held");
    peer.dropAll();
    const [r] = await pending;
    expect(r).toMatchObject({
      kind: "retry",
      detail: { reason: "connection_lost", submitted: "maybe", partial: true, smscIds: [peer.submits[0]!.id] },
    });
  });

  it("parts not yet written when the bind drops wait for the reconnect and go out on the new session", async () => {
    const peer = await smsc();
    const bridge = await bridgeFor([testRoute(peer, { tps: 2, responseTimeoutMs: 5_000 })]);
    // Part 1 answered, then the connection drops while part 2 waits for the rate (500 ms).
    peer.decide = (_s, n) => (n === 1 ? "answer_then_drop" : "ok");
    const [r] = await send(bridge, [item({ body: "z".repeat(300) })]);
    expect(r).toMatchObject({ kind: "accepted", detail: { segments: 2 } });
    expect(peer.submits).toHaveLength(2);
    expect(peer.submits[0]!.session).not.toBe(peer.submits[1]!.session);
    expect(r!.detail.smscIds as string[]).toEqual(peer.submits.map((s) => s.id));
  });
});

describe("a thousand messages, the connection dropped every 100 submits", () => {
  it(
    "every item gets exactly one result; every accepted id is distinct and was issued; none lost",
    async () => {
      const peer = await smsc();
      const route = testRoute(peer, { window: 10, responseTimeoutMs: 3_000, reconnectMinMs: 10, reconnectMaxMs: 50 });
      // The batches' own deadline is out of the way: a slow machine is judged by the stall detector below.
      const bridge = await bridgeFor([route], { batchTimeoutMs: LONG_RUN_MS });
      peer.decide = (_s, n) => (n % 100 === 0 ? "answer_then_drop" : "ok");
      const batches = [Array.from({ length: 500 }, () => item()), Array.from({ length: 500 }, () => item())];
      const sent = Promise.all(batches.map((b) => send(bridge, b)));
      const results = (await whileProgressing(sent, () => peer.submits.length, { stallMs: 30_000, what: "submits at the SMSC" })).flat();
      expect(results).toHaveLength(1_000);
      expect(new Set(results.map((r) => r.id)).size).toBe(1_000);
      const accepted = results.filter((r) => r.kind === "accepted");
      const others = results.filter((r) => r.kind !== "accepted");
      // Anything not accepted was written and left unanswered by a drop: maybe, never "no".
      for (const r of others) expect(r).toMatchObject({ kind: "retry", detail: { reason: "connection_lost", submitted: "maybe" } });
      const ids = accepted.flatMap((r) => r.detail.smscIds as string[]);
      expect(new Set(ids).size).toBe(ids.length);
      const issued = new Set(peer.submits.filter((s) => s.id).map((s) => s.id!));
      for (const id of ids) expect(issued.has(id)).toBe(true);
      // Every id the SMSC issued reached an accepted item, or its item came back "maybe".
      const answeredButUnseen = [...issued].filter((id) => !ids.includes(id));
      expect(answeredButUnseen.length).toBeLessThanOrEqual(others.length);
      expect(accepted.length + others.length).toBe(1_000);
      expect(accepted.length).toBeGreaterThan(900);
      expect(peer.binds.filter((b) => b.ok).length).toBeGreaterThanOrEqual(10);
    },
    LONG_RUN_MS,
  );
});
