// The sandbox SMSC checked with a plain client of the `smpp` package (what a Node ESME would
// use), never lasthop's own SMPP code: binds, submit_sm ids, DLRs in both id modes, multipart
// reassembly, the outcome numbers, faults, MO and redelivery.
import { createRequire } from "node:module";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Pdu, PduOptions, SmppModule, SmppSession } from "../../sandbox/smpp-types.ts";
import { passTime, waitFor, within, WAIT_MS } from "../wait.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

const smpp = createRequire(import.meta.url)("smpp") as SmppModule;

const ESME_ROK = 0x00;
const ESME_RINVBNDSTS = 0x04;
const ESME_RBINDFAIL = 0x0d;
const ESME_RINVPASWD = 0x0e;
const ESME_RTHROTTLED = 0x58;
const DEV = { system_id: "lasthop", password: "devpass1" };
const SOURCE = "15550009876";

type SmsEntry = {
  channel: string;
  to: string;
  status: number;
  outcome: string;
  headers: Record<string, string | null>;
  payload: {
    text: string;
    encoding: string;
    segments: number;
    route: string;
    from: string;
    smscIds: string[];
    udh: Array<string | null>;
    dataCoding: number;
    registeredDelivery: number;
  };
};
type SmscStats = {
  binds: Array<{ systemId: string; mode: string }>;
  submits: number;
  submitTimes: number[];
  tpsViolations: number;
  redeliveries: number;
  pendingDeliveries: number;
};

const RECEIPT = /^id:(\S+) sub:(\d{3}) dlvrd:(\d{3}) submit date:(\d{10}) done date:(\d{10}) stat:(\w+) err:(\d{3}) text:(.*)$/s;

let sandbox: TestSandbox;
const clients: Client[] = [];

/** A bound ESME on the smpp package; deliver_sm are collected and (unless told otherwise) acknowledged. */
class Client {
  readonly session: SmppSession;
  readonly delivered: Pdu[] = [];
  ack = true;
  closed = false;
  readonly #closedPromise: Promise<void>;

  constructor(target: TestSandbox) {
    this.session = smpp.connect({ host: target.smsc.host, port: target.smsc.port });
    clients.push(this);
    this.session.on("error", () => {});
    this.#closedPromise = new Promise((resolve) =>
      this.session.on("close", () => {
        this.closed = true;
        resolve();
      }),
    );
    this.session.on("deliver_sm", (pdu: Pdu) => {
      this.delivered.push(pdu);
      if (this.ack) this.session.send(pdu.response());
    });
  }

  static async bound(
    target: TestSandbox = sandbox,
    mode: "transceiver" | "transmitter" | "receiver" = "transceiver",
    credentials = DEV,
  ): Promise<Client> {
    const client = new Client(target);
    const resp = await client.bind(mode, credentials);
    expect(resp.command_status).toBe(ESME_ROK);
    return client;
  }

  bind(mode: "transceiver" | "transmitter" | "receiver", credentials: PduOptions): Promise<Pdu> {
    return this.request((done) => this.session[`bind_${mode}`](credentials, done));
  }

  /** The submit_sm_resp, or null when the connection closed (or nothing came within `timeoutMs`) first. */
  submit(options: PduOptions, timeoutMs = WAIT_MS): Promise<Pdu | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs);
      void this.#closedPromise.then(() => resolve(null));
      this.session.submit_sm(options, (resp) => {
        clearTimeout(timer);
        resolve(resp);
      });
    });
  }

  async waitForDelivered(count: number): Promise<Pdu[]> {
    await waitFor(
      () => this.delivered.length >= count,
      () => `${count} deliver_sm (got ${this.delivered.length})`,
    );
    return this.delivered.slice(0, count);
  }

  whenClosed(): Promise<void> {
    return within(this.#closedPromise, "the connection to close");
  }

  destroy(): void {
    this.session.destroy();
  }

  request(send: (done: (resp: Pdu) => void) => void): Promise<Pdu> {
    return within(new Promise<Pdu>((resolve) => send(resolve)), "a response");
  }
}

async function received(target: TestSandbox = sandbox): Promise<SmsEntry[]> {
  const res = await control(target, "GET", "/_sandbox/received?channel=sms");
  expect(res.status).toBe(200);
  return (await res.json()) as SmsEntry[];
}

async function stats(target: TestSandbox = sandbox): Promise<SmscStats> {
  return (await (await control(target, "GET", "/_sandbox/sms/smsc")).json()) as SmscStats;
}

async function faults(body: unknown): Promise<void> {
  const res = await control(sandbox, "POST", "/_sandbox/sms/faults", body);
  expect(res.status, await res.clone().text()).toBe(200);
}

function textOf(pdu: Pdu): string {
  return (pdu.short_message as { message: string }).message;
}

function submitOptions(destination: string, message: unknown, extra: PduOptions = {}): PduOptions {
  return {
    source_addr_ton: 1,
    source_addr_npi: 1,
    source_addr: SOURCE,
    dest_addr_ton: 1,
    dest_addr_npi: 1,
    destination_addr: destination,
    registered_delivery: 1,
    data_coding: 0,
    short_message: message,
    ...extra,
  };
}

/** A submit without a DLR request: tests that do not wait for DLRs leave none pending for later binds. */
function quiet(destination: string, message: unknown): PduOptions {
  return submitOptions(destination, message, { registered_delivery: 0 });
}

beforeAll(async () => {
  sandbox = await startTestSandbox({ smscDlrDelayMs: 50, smscLateDlrMs: 400 });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await sandbox?.close();
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/sms/faults")).status).toBe(204);
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.destroy();
});

describe("binds", () => {
  it("refuses a wrong password and an unknown system_id, accepts the dev credentials", async () => {
    const client = new Client(sandbox);
    expect((await client.bind("transceiver", { system_id: "lasthop", password: "wrong" })).command_status).toBe(ESME_RINVPASWD);
    expect((await client.bind("transceiver", { system_id: "nobody", password: "devpass1" })).command_status).toBe(ESME_RBINDFAIL);
    // Not bound: submit_sm is refused.
    const refused = await client.submit(submitOptions("15551230001", "hi"));
    expect(refused?.command_status).toBe(ESME_RINVBNDSTS);
    const ok = await client.bind("transmitter", DEV);
    expect(ok.command_status).toBe(ESME_ROK);
    expect(ok.system_id).toBe("LASTHOPSMSC");
    expect((await stats()).binds).toContainEqual({ systemId: "lasthop", mode: "transmitter" });
    const link = await client.request((done) => client.session.enquire_link({}, done));
    expect(link.command).toBe("enquire_link_resp");
    const unbound = await client.request((done) => client.session.unbind({}, done));
    expect(unbound.command).toBe("unbind_resp");
    await client.whenClosed();
  });

  it("takes custom credentials from the options", async () => {
    const other = await startTestSandbox({ smscCredentials: [{ systemId: "acme", password: "s3cret" }] });
    try {
      const client = new Client(other);
      expect((await client.bind("transceiver", DEV)).command_status).toBe(ESME_RBINDFAIL);
      expect((await client.bind("transceiver", { system_id: "acme", password: "s3cret" })).command_status).toBe(ESME_ROK);
    } finally {
      for (const client of clients.splice(0)) client.destroy();
      await other.close();
    }
  });
});

describe("submit_sm and DLRs", () => {
  it("answers a hex id and sends a DLR whose text carries it in decimal, with receipted_message_id and message_state", async () => {
    const client = await Client.bound();
    const text = "Your code is 123456. Brackets {ok} cost €5";
    const resp = await client.submit(submitOptions("15551234567", text));
    expect(resp?.command_status).toBe(ESME_ROK);
    const id = resp!.message_id as string;
    expect(id).toMatch(/^[0-9a-f]+$/);

    const [dlr] = await client.waitForDelivered(1);
    expect(dlr!.esm_class).toBe(0x04);
    expect(dlr!.source_addr).toBe("15551234567");
    expect(dlr!.destination_addr).toBe(SOURCE);
    const receipt = RECEIPT.exec(textOf(dlr!));
    expect(receipt, textOf(dlr!)).not.toBeNull();
    const [, textId, sub, dlvrd, , , stat, err, excerpt] = receipt!;
    expect(BigInt(textId!)).toBe(BigInt(`0x${id}`));
    expect([sub, dlvrd, stat, err]).toEqual(["001", "001", "DELIVRD", "000"]);
    expect(excerpt).toBe(text.slice(0, 20));
    expect(dlr!.receipted_message_id).toBe(id);
    expect(dlr!.message_state).toBe(2);

    const [entry] = await received();
    expect(entry).toMatchObject({
      channel: "sms",
      to: "+15551234567",
      outcome: "delivered",
      headers: {},
      payload: {
        text,
        encoding: "gsm7",
        segments: 1,
        route: "smpp",
        from: `+${SOURCE}`,
        smscIds: [id],
        udh: [null],
        dataCoding: 0,
        registeredDelivery: 1,
      },
    });
  });

  it("in decimal mode answers decimal ids and sends DLRs without TLVs", async () => {
    await faults({ idMode: "decimal" });
    const client = await Client.bound();
    const resp = await client.submit(submitOptions("15551234568", "decimal please"));
    const id = resp!.message_id as string;
    expect(id).toMatch(/^\d+$/);
    const [dlr] = await client.waitForDelivered(1);
    expect(RECEIPT.exec(textOf(dlr!))?.[1]).toBe(id);
    expect(dlr!.receipted_message_id).toBeUndefined();
    expect(dlr!.message_state).toBeUndefined();
  });

  it("reassembles a 3-part UCS-2 message sent with UDH: three ids, three DLRs, one message", async () => {
    const client = await Client.bound();
    const text =
      "Привет! Это длинное сообщение 👋 с эмодзи и кириллицей, которое не помещается в одну часть SMS, поэтому оно делится на три части. Конец 🎉";
    // UCS-2 parts of at most 67 UTF-16 units, not splitting a surrogate pair.
    const chunks: string[] = [];
    let current = "";
    for (const char of Array.from(text)) {
      if (current.length + char.length > 67) {
        chunks.push(current);
        current = "";
      }
      current += char;
    }
    chunks.push(current);
    expect(chunks).toHaveLength(3);
    const ref = 0x1234;
    const udhs = chunks.map((_, index) => Buffer.from([0x06, 0x08, 0x04, ref >> 8, ref & 0xff, chunks.length, index + 1]));
    const ids: string[] = [];
    for (const [index, chunk] of chunks.entries()) {
      const body = Buffer.concat([udhs[index]!, Buffer.from(chunk, "utf16le").swap16()]);
      const resp = await client.submit(submitOptions("15557654321", body, { esm_class: 0x40, data_coding: 0x08 }));
      expect(resp?.command_status).toBe(ESME_ROK);
      ids.push(resp!.message_id as string);
    }
    expect(new Set(ids).size).toBe(3);

    const dlrs = await client.waitForDelivered(3);
    const receiptIds = dlrs.map((dlr) => dlr.receipted_message_id).sort();
    expect(receiptIds).toEqual([...ids].sort());
    for (const dlr of dlrs) expect(RECEIPT.exec(textOf(dlr))?.[6]).toBe("DELIVRD");

    const entries = await received();
    expect(entries).toHaveLength(1);
    expect(entries[0]!.payload).toMatchObject({
      text,
      encoding: "ucs2",
      segments: 3,
      smscIds: ids,
      udh: udhs.map((udh) => udh.toString("hex")),
      dataCoding: 8,
    });
  });

  it("reassembles GSM parts sent out of order with an 8-bit reference, an escape split across parts", async () => {
    const client = await Client.bound();
    // 152 plain septets then "€": its escape is the 153rd septet of part one, its 'e' opens part two.
    const first = "a".repeat(152);
    const septets = smpp.gsmCoder.encode(`${first}€ and the rest`, 0);
    const parts = [septets.subarray(0, 153), septets.subarray(153)];
    const udh = (seq: number) => Buffer.from([0x05, 0x00, 0x03, 0x7f, 2, seq]);
    const second = await client.submit(
      submitOptions("15550101010", Buffer.concat([udh(2), parts[1]!]), { esm_class: 0x40, registered_delivery: 0 }),
    );
    const firstResp = await client.submit(
      submitOptions("15550101010", Buffer.concat([udh(1), parts[0]!]), { esm_class: 0x40, registered_delivery: 0 }),
    );
    expect([second?.command_status, firstResp?.command_status]).toEqual([ESME_ROK, ESME_ROK]);
    const [entry] = await received();
    expect(entry!.payload.text).toBe(`${first}€ and the rest`);
    expect(entry!.payload.segments).toBe(2);
    expect(entry!.payload.smscIds).toEqual([firstResp!.message_id, second!.message_id]);
  });

  it("reads message_payload, Latin-1 and data_coding 1", async () => {
    const client = await Client.bound();
    const long = "payload ".repeat(40).trim();
    const viaPayload = await client.submit(
      submitOptions("15550202020", Buffer.alloc(0), {
        message_payload: Buffer.from(smpp.gsmCoder.encode(long, 0)),
        registered_delivery: 0,
      }),
    );
    expect(viaPayload?.command_status).toBe(ESME_ROK);
    const latin = await client.submit(
      submitOptions("15550202021", Buffer.from("Café crème à la carte", "latin1"), { data_coding: 0x03, registered_delivery: 0 }),
    );
    expect(latin?.command_status).toBe(ESME_ROK);
    // Left unset, the package's client picks data_coding 1 (IA5) for text like this, written with the GSM table.
    const ia5 = await client.submit(submitOptions("15550202022", "Price: $5 @home_now {x}", { data_coding: null, registered_delivery: 0 }));
    expect(ia5?.command_status).toBe(ESME_ROK);
    const entries = await received();
    expect(entries.map((entry) => [entry.payload.text, entry.payload.encoding, entry.payload.dataCoding])).toEqual([
      [long, "gsm7", 0],
      ["Café crème à la carte", "latin1", 3],
      ["Price: $5 @home_now {x}", "gsm7", 1],
    ]);
  });

  it("bounces a number ending in 0000 with DLR UNDELIV err:001 per part", async () => {
    const client = await Client.bound();
    const resp = await client.submit(submitOptions("15550000000", "nobody home"));
    expect(resp?.command_status).toBe(ESME_ROK);
    const [dlr] = await client.waitForDelivered(1);
    const receipt = RECEIPT.exec(textOf(dlr!))!;
    expect([receipt[3], receipt[6], receipt[7]]).toEqual(["000", "UNDELIV", "001"]);
    expect(dlr!.message_state).toBe(5);
    expect((await received())[0]!.outcome).toBe("bounce");
  });

  it("delivers a number ending in 1111 late", async () => {
    const client = await Client.bound();
    const sentAt = Date.now();
    await client.submit(submitOptions("15551111111", "late one"));
    await client.waitForDelivered(1);
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(350);
    expect(RECEIPT.exec(textOf(client.delivered[0]!))?.[6]).toBe("DELIVRD");
    expect((await received())[0]!.outcome).toBe("soft");
  });

  it("throttles the first submit to a number ending in 2222, then accepts and delivers", async () => {
    const client = await Client.bound();
    expect((await client.submit(submitOptions("15552222222", "first")))?.command_status).toBe(ESME_RTHROTTLED);
    expect(await received()).toHaveLength(0);
    expect((await client.submit(submitOptions("15552222222", "again")))?.command_status).toBe(ESME_ROK);
    const [dlr] = await client.waitForDelivered(1);
    expect(RECEIPT.exec(textOf(dlr!))?.[6]).toBe("DELIVRD");
    expect((await received())[0]).toMatchObject({ outcome: "throttled", payload: { text: "again" } });
    // Clearing the store makes it throttle once more.
    await control(sandbox, "DELETE", "/_sandbox/received");
    expect((await client.submit(submitOptions("15552222222", "third")))?.command_status).toBe(ESME_RTHROTTLED);
  });

  it("holds a DLR until a session that can receive binds", async () => {
    const transmitter = await Client.bound(sandbox, "transmitter");
    await transmitter.submit(submitOptions("15553334444", "to a transmitter"));
    // The DLR is made (after smscDlrDelayMs) and kept: nobody can take it.
    await waitFor(async () => (await stats()).pendingDeliveries === 1, "the DLR to wait for a receiver");
    expect(transmitter.delivered).toHaveLength(0);
    expect((await stats()).pendingDeliveries).toBe(1);
    const receiver = await Client.bound(sandbox, "receiver");
    const [dlr] = await receiver.waitForDelivered(1);
    expect(RECEIPT.exec(textOf(dlr!))?.[8]).toBe("to a transmitter");
    await waitFor(async () => (await stats()).pendingDeliveries === 0, "no DLR pending");
  });
});

describe("faults", () => {
  it("dropEvery after_resp answers the N-th submit, then closes the connection", async () => {
    await faults({ dropEvery: 2 });
    const client = await Client.bound();
    expect((await client.submit(quiet("15554440001", "one")))?.command_status).toBe(ESME_ROK);
    const second = await client.submit(quiet("15554440002", "two"));
    expect(second?.command_status).toBe(ESME_ROK);
    await client.whenClosed();
    expect((await received()).map((entry) => entry.payload.text)).toEqual(["one", "two"]);
  });

  it("dropEvery before_resp closes without answering, but the message got there", async () => {
    await faults({ dropEvery: 1, dropMode: "before_resp" });
    const client = await Client.bound();
    expect(await client.submit(quiet("15554440003", "did it get there?"))).toBeNull();
    await client.whenClosed();
    expect((await received()).map((entry) => entry.payload.text)).toEqual(["did it get there?"]);
    expect((await stats()).submits).toBe(1);
  });

  it("throttleAll answers every submit with ESME_RTHROTTLED", async () => {
    await faults({ throttleAll: true });
    const client = await Client.bound();
    for (const n of [1, 2, 3]) expect((await client.submit(quiet(`1555444000${n}`, "x")))?.command_status).toBe(ESME_RTHROTTLED);
    expect(await received()).toHaveLength(0);
  });

  it("noResponse accepts but never answers", async () => {
    await faults({ noResponse: true });
    const client = await Client.bound();
    let answered = false;
    void client.submit(quiet("15554440009", "silent")).then((resp) => (answered = resp !== null));
    // The SMSC takes a session's PDUs in order: once it answers the enquire_link sent after the
    // submit, it has dealt with the submit, and any answer to it would have come first.
    expect((await client.request((done) => client.session.enquire_link({}, done))).command).toBe("enquire_link_resp");
    expect(answered).toBe(false);
    expect((await received()).map((entry) => entry.payload.text)).toEqual(["silent"]);
  });

  it("counts submits over the tps cap as violations and throttles them", async () => {
    await faults({ tps: 5 });
    const client = await Client.bound();
    const results = await Promise.all(Array.from({ length: 8 }, (_, n) => client.submit(quiet(`155566600${10 + n}`, `burst ${n}`))));
    const statuses = results.map((resp) => resp?.command_status);
    expect(statuses.filter((status) => status === ESME_ROK)).toHaveLength(5);
    expect(statuses.filter((status) => status === ESME_RTHROTTLED)).toHaveLength(3);
    const after = await stats();
    expect(after.tpsViolations).toBe(3);
    expect(after.submits).toBe(8);
    expect(after.submitTimes).toHaveLength(8);
    // A second later the window has room again (the clock is what is tested: a 1 s window).
    await passTime(1_050);
    expect((await client.submit(quiet("15556660099", "paced")))?.command_status).toBe(ESME_ROK);
    expect((await stats()).tpsViolations).toBe(3);
  });

  it("refuses bad fault input with 400", async () => {
    for (const body of [
      { dropEvery: -1 },
      { dropMode: "sometimes" },
      { tps: "fast" },
      { idMode: "base64" },
      { restFail: { status: 404 } },
      { restDropCallbacks: "yes" },
      { bogus: true },
    ]) {
      const res = await control(sandbox, "POST", "/_sandbox/sms/faults", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_fault");
    }
  });
});

describe("MO", () => {
  it("delivers to a receiver, and again to a new bind when the first drops without deliver_sm_resp", async () => {
    expect((await stats()).pendingDeliveries).toBe(0);
    const silent = await Client.bound(sandbox, "receiver");
    silent.ack = false;
    const res = await control(sandbox, "POST", "/_sandbox/sms/mo", { from: "+15559876543", to: "+15550001234", body: "STOP" });
    expect(res.status).toBe(202);
    const [mo] = await silent.waitForDelivered(1);
    expect(mo).toMatchObject({
      esm_class: 0,
      source_addr: "15559876543",
      source_addr_ton: 1,
      source_addr_npi: 1,
      destination_addr: "15550001234",
      data_coding: 0,
    });
    expect(textOf(mo!)).toBe("STOP");
    silent.destroy();
    await silent.whenClosed();
    expect((await stats()).pendingDeliveries).toBe(1);

    const next = await Client.bound(sandbox, "transceiver");
    const [again] = await next.waitForDelivered(1);
    expect(textOf(again!)).toBe("STOP");
    await waitFor(async () => {
      const current = await stats();
      return current.pendingDeliveries === 0 && current.redeliveries === 1;
    }, "the MO redelivered once, none pending");
  });

  it("sends UCS-2 and concatenated parts when the body needs them", async () => {
    const client = await Client.bound();
    const body = `Grüße 👋 ${"long text ".repeat(15)}`; // 159 UTF-16 units: 3 parts of at most 67
    await control(sandbox, "POST", "/_sandbox/sms/mo", { from: "+15559876543", to: "+15550001235", body });
    const parts = await client.waitForDelivered(3);
    const udhs = parts.map((part) => (part.short_message as { udh: Buffer[] }).udh[0]!);
    expect(parts.every((part) => part.data_coding === 8 && part.esm_class === 0x40)).toBe(true);
    expect(udhs.map((ie) => [ie[0], ie[3], ie[4]])).toEqual([
      [0x00, 3, 1],
      [0x00, 3, 2],
      [0x00, 3, 3],
    ]);
    expect(new Set(udhs.map((ie) => ie[2])).size).toBe(1);
    expect(parts.map(textOf).join("")).toBe(body);
  });

  it("refuses bad MO input with 400", async () => {
    for (const body of [
      {},
      { from: "+1555", to: "", body: "x" },
      { from: "+1555", to: "+1666", body: 3 },
      { from: "a", to: "b", body: "c", route: "carrier-pigeon" },
    ]) {
      const res = await control(sandbox, "POST", "/_sandbox/sms/mo", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("redelivery on timeout", () => {
  let quick: TestSandbox;

  beforeAll(async () => {
    quick = await startTestSandbox({ smscRedeliverMs: 300, smscDlrDelayMs: 10 });
  });

  afterAll(async () => {
    await quick?.close();
  });

  it("sends a DLR again when its deliver_sm_resp does not come, and again after an error status", async () => {
    const client = await Client.bound(quick);
    client.ack = false;
    await client.submit(submitOptions("15557778888", "ack me"));
    await client.waitForDelivered(2);
    expect(client.delivered[1]!.receipted_message_id).toBe(client.delivered[0]!.receipted_message_id);
    // An error status is a refusal to take it now: it comes back later.
    client.session.send(client.delivered[1]!.response({ command_status: 0x08 }));
    await client.waitForDelivered(3);
    client.session.send(client.delivered[2]!.response());
    await waitFor(async () => (await stats(quick)).pendingDeliveries === 0, "no DLR pending");
    expect((await stats(quick)).redeliveries).toBeGreaterThanOrEqual(2);
  });
});
