// Delivery receipts and MO messages from the SMSC to the edge: the fake SMSC sends deliver_sm /
// data_sm on the bridge's bind, the fake edge checks the Standard Webhooks signature of each
// POST /v1/inbound/sms and answers as the test says. It proves the receipt fields (canonical ids
// from the TLV or the text, state, err, done date, addresses), MO decoding (GSM 7-bit, UCS-2,
// Latin-1) and reassembly of concatenated MO, and that the SMSC hears ESME_ROK only after the
// edge's 2xx (ESME_RX_T_APPN otherwise, so it redelivers).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { EDGE_SMS_INBOUND_PATH, smsInbound } from "../../src/core/bridge.ts";
import { encodeGsm7, encodeUcs2 } from "../../src/core/sms/gsm.ts";
import { waitFor } from "../wait.ts";
import { smppConfig, startSmsc, testRoute, type FakeSmsc } from "./bridge-smpp-fixture.ts";
import { startFakeEdge, type FakeEdge } from "./fixtures/fake-edge.ts";

let edge: FakeEdge;
let peer: FakeSmsc;
let bridge: Bridge;

beforeAll(async () => {
  edge = await startFakeEdge();
  peer = await startSmsc({ idBase: 16 });
  // The SMSC writes hex ids in submit_sm_resp and receipted_message_id, decimal in receipt text.
  bridge = await startBridge(
    smppConfig(edge.url, [testRoute(peer, { submitIdBase: 16, receiptIdBase: 10 })], { edgeTimeoutMs: 1_000, moReassemblyMs: 400 }),
  );
  await waitFor(() => bridge.smpp!.health().routes.test!.up === 1, "bind up");
});

afterAll(async () => {
  await bridge?.close();
  await peer?.close();
  await edge?.close();
});

beforeEach(() => {
  edge.requests = [];
  edge.mode = "accept";
});

const handset = {
  source_addr_ton: 1,
  source_addr_npi: 1,
  source_addr: "15557654321",
  dest_addr_ton: 5,
  dest_addr_npi: 0,
  destination_addr: "LASTHOP",
};

async function metric(name: string): Promise<string> {
  return (await (await fetch(`${bridge.url}/metrics`)).text())
    .split("\n")
    .filter((l) => l.startsWith(name))
    .join("\n");
}

describe("delivery receipts", () => {
  it("with TLVs: receipted_message_id (hex → decimal), message_state, network_error_code; acknowledged after the edge's 2xx", async () => {
    const text = "id:11206657 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD err:000 text:Hello";
    const resp = await peer.deliver({
      ...handset,
      esm_class: 0x04,
      short_message: Buffer.from(text),
      receipted_message_id: "ab0001",
      message_state: 5,
      network_error_code: Buffer.from([3, 0, 34]),
    });
    expect(resp?.status).toBe(0);
    expect(edge.requests).toHaveLength(1);
    const request = edge.requests[0]!;
    expect(request.path).toBe(EDGE_SMS_INBOUND_PATH);
    expect(request.verified).toBe(true);
    expect(smsInbound.parse(request.json)).toEqual({
      kind: "dlr",
      route: "test",
      smscId: String(0xab0001), // the TLV wins over the text's id
      stat: "UNDELIV", // message_state 5 wins over the text's stat
      err: "034",
      doneAt: "2026-01-01T12:01:00.000Z",
      from: "+15557654321",
      to: "LASTHOP",
      text,
    });
    expect(resp!.at).toBeGreaterThan(request.at); // the SMSC heard back only after the edge had the receipt
  });

  it("text only: the id in receiptIdBase, stat and err from the text", async () => {
    const text = "id:0012345 sub:001 dlvrd:000 submit date:2601021000 done date:2601021005 stat:UNDELIV err:001 text:";
    const resp = await peer.deliver({ ...handset, esm_class: 0x04, short_message: Buffer.from(text) });
    expect(resp?.status).toBe(0);
    expect(edge.requests[0]!.json).toMatchObject({
      kind: "dlr",
      smscId: "12345",
      stat: "UNDELIV",
      err: "001",
      doneAt: "2026-01-02T10:05:00.000Z",
    });
  });

  it("an intermediate notification (esm_class 0x20) and a data_sm receipt are receipts too", async () => {
    await peer.deliver({ ...handset, esm_class: 0x20, short_message: Buffer.from("id:42 stat:ENROUTE") });
    const viaData = await peer.deliver(
      { ...handset, esm_class: 0x04, receipted_message_id: "ab0002", message_state: 2 },
      undefined,
      "data_sm",
    );
    expect(viaData?.status).toBe(0);
    expect(edge.requests.map((r) => r.json)).toMatchObject([
      { kind: "dlr", smscId: "42", stat: "ENROUTE" },
      { kind: "dlr", smscId: String(0xab0002), stat: "DELIVRD" },
    ]);
  });

  it("edge 500 → ESME_RX_T_APPN (no OK); the redelivery after the edge recovers → ESME_ROK", async () => {
    edge.mode = "fail";
    const receipt = { ...handset, esm_class: 0x04, short_message: Buffer.from("id:777 stat:DELIVRD") };
    const first = await peer.deliver(receipt);
    expect(first?.status).toBe(0x64);
    edge.mode = "accept";
    const again = await peer.deliver(receipt);
    expect(again?.status).toBe(0);
    expect(edge.requests).toHaveLength(2);
    expect(await metric("bridge_smpp_inbound_total")).toMatch(/kind="dlr",outcome="deferred"\} [1-9]/);
  });

  it("no answer while the edge thinks: no deliver_sm_resp at all until the edge timeout, then ESME_RX_T_APPN", async () => {
    edge.mode = "hang";
    const early = await peer.deliver({ ...handset, esm_class: 0x04, short_message: Buffer.from("id:778 stat:DELIVRD") }, 600);
    expect(early).toBeNull(); // nothing yet (edge timeout is 1 s)
    edge.mode = "accept";
    const late = await peer.deliver({ ...handset, esm_class: 0x04, short_message: Buffer.from("id:779 stat:DELIVRD") });
    expect(late?.status).toBe(0);
  });

  it("401 from the edge (secrets disagree) is temporary: ESME_RX_T_APPN; 422 is final: ESME_ROK, counted as rejected", async () => {
    edge.mode = () => ({ status: 401 });
    expect((await peer.deliver({ ...handset, esm_class: 0x04, short_message: Buffer.from("id:780 stat:DELIVRD") }))?.status).toBe(0x64);
    edge.mode = "reject";
    expect((await peer.deliver({ ...handset, esm_class: 0x04, short_message: Buffer.from("id:781 stat:DELIVRD") }))?.status).toBe(0);
    expect(await metric("bridge_smpp_inbound_total")).toMatch(/kind="dlr",outcome="rejected"\} 1/);
  });

  it("a receipt with neither id nor state is acknowledged and dropped (a redelivery would be as unreadable)", async () => {
    const resp = await peer.deliver({ ...handset, esm_class: 0x04, short_message: Buffer.from("garbage") });
    expect(resp?.status).toBe(0);
    expect(edge.requests).toHaveLength(0);
    expect(await metric("bridge_smpp_inbound_total")).toMatch(/kind="dlr",outcome="invalid"\} 1/);
  });
});

describe("MO messages", () => {
  const mo = {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: "15557654321",
    dest_addr_ton: 3,
    dest_addr_npi: 0,
    destination_addr: "12345",
    esm_class: 0,
  };

  it("GSM 7-bit (with an escape), UCS-2 (with a surrogate pair) and Latin-1, each forwarded signed with receivedAt", async () => {
    const before = Date.now();
    expect((await peer.deliver({ ...mo, data_coding: 0, short_message: Buffer.from(encodeGsm7("STOP now {€}")!) }))?.status).toBe(0);
    expect((await peer.deliver({ ...mo, data_coding: 8, short_message: Buffer.from(encodeUcs2("Привет 👋")) }))?.status).toBe(0);
    expect((await peer.deliver({ ...mo, data_coding: 3, short_message: Buffer.from("Olá café", "latin1") }))?.status).toBe(0);
    const bodies = edge.requests.map((r) => smsInbound.parse(r.json));
    expect(bodies.map((b) => (b.kind === "mo" ? b.body : null))).toEqual(["STOP now {€}", "Привет 👋", "Olá café"]);
    for (const b of bodies) {
      expect(b).toMatchObject({ kind: "mo", route: "test", from: "+15557654321", to: "12345" });
      if (b.kind === "mo") expect(Date.parse(b.receivedAt)).toBeGreaterThanOrEqual(before - 1_000);
    }
    expect(edge.requests.every((r) => r.verified)).toBe(true);
  });

  it("a concatenated MO (UDH) is put back together: one POST, and neither part is acknowledged before it", async () => {
    const udh = (seq: number) => Buffer.from([0x05, 0x00, 0x03, 0x42, 0x02, seq]);
    const first = peer.deliver({
      ...mo,
      esm_class: 0x40,
      data_coding: 0,
      short_message: Buffer.concat([udh(1), Buffer.from(encodeGsm7("Hello, ")!)]),
    });
    const assemblies = () => bridge.smpp!.service.routes.get("test")!.inbound.assemblies();
    await waitFor(() => assemblies() === 1, "part 1 held for reassembly");
    expect(edge.requests).toHaveLength(0); // waiting for part 2
    const second = peer.deliver({
      ...mo,
      esm_class: 0x40,
      data_coding: 0,
      short_message: Buffer.concat([udh(2), Buffer.from(encodeGsm7("world")!)]),
    });
    const [a, b] = await Promise.all([first, second]);
    expect(a?.status).toBe(0);
    expect(b?.status).toBe(0);
    expect(edge.requests).toHaveLength(1);
    expect(edge.requests[0]!.json).toMatchObject({ kind: "mo", body: "Hello, world" });
    expect(a!.at).toBeGreaterThan(edge.requests[0]!.at);
  });

  it("concatenated by sar_* TLVs, parts out of order, edge failing: both parts get ESME_RX_T_APPN", async () => {
    edge.mode = "fail";
    const part = (seq: number, text: string) =>
      peer.deliver({
        ...mo,
        data_coding: 0,
        short_message: Buffer.from(encodeGsm7(text)!),
        sar_msg_ref_num: 513,
        sar_total_segments: 2,
        sar_segment_seqnum: seq,
      });
    const [b, a] = await Promise.all([part(2, "two"), part(1, "one ")]);
    expect(a?.status).toBe(0x64);
    expect(b?.status).toBe(0x64);
    expect(edge.requests[0]!.json).toMatchObject({ body: "one two" });
  });

  it("a part whose partner never comes is forwarded alone after the reassembly wait", async () => {
    const started = performance.now();
    const udh = Buffer.from([0x06, 0x08, 0x04, 0x01, 0x00, 0x03, 0x02]); // 16-bit reference, part 2 of 3
    const resp = await peer.deliver({
      ...mo,
      esm_class: 0x40,
      data_coding: 0,
      short_message: Buffer.concat([udh, Buffer.from(encodeGsm7("middle")!)]),
    });
    expect(resp?.status).toBe(0);
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
    expect(edge.requests[0]!.json).toMatchObject({ kind: "mo", body: "middle" });
    expect(bridge.smpp!.service.routes.get("test")!.inbound.assemblies()).toBe(0);
  });
});
