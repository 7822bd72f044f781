// The sandbox SMSC: an SMPP 3.4 server on the `smpp` package (default 127.0.0.1:2775; the
// sandbox option smscPort, 0 for a free port). Decoding uses that package's own GSM 03.38
// coder, never ours, so a bug in lasthop's encoder cannot hide behind the same bug here.
//
// Binds: bind_transceiver / bind_transmitter / bind_receiver, system_id and password checked
// against the configured credentials (dev default: system_id "lasthop", password "devpass1").
// Unknown system_id -> ESME_RBINDFAIL, wrong password -> ESME_RINVPASWD. enquire_link and
// unbind are answered; submit_sm on an unbound or receiver-only session -> ESME_RINVBNDSTS.
//
// submit_sm: short_message (or the message_payload TLV) decoded per data_coding (0 GSM 03.38
// unpacked septets, 1 likewise (the package's reading of IA5), 3 Latin-1, 8 UCS-2 BE; anything
// else -> ESME_RINVDCS); with esm_class 0x40
// the UDH is read (IEI 0x00 8-bit and 0x08 16-bit concatenation), as are the SAR TLVs. Parts are
// reassembled by (system_id, source, destination, ref) and the message is recorded in the
// ReceivedStore (channel "sms") once every part is in. Each part gets its own submit_sm_resp
// message id from a counter starting at 0x1a2b3c00: idMode "hex" (default) answers lower-case
// hex, with the DLR text carrying the id in decimal and the receipted_message_id TLV in hex (as
// Kannel's msg-id-type does); idMode "decimal" answers decimal and sends DLRs without TLVs.
//
// The destination's last four digits decide (ARCHITECTURE.md):
//   0000 -> accepted, DLR stat:UNDELIV err:001 per part (outcome "bounce")
//   1111 -> accepted, DLR stat:DELIVRD after smscLateDlrMs, default 3000 (outcome "soft")
//   2222 -> the first submit_sm to that number since start (or DELETE /_sandbox/received)
//           answers ESME_RTHROTTLED, later ones are accepted and delivered (outcome "throttled")
//   else -> accepted, DLR stat:DELIVRD after smscDlrDelayMs, default 200 (outcome "delivered")
// DLRs honour registered_delivery (1: always, 2: failures only, 3: successes only, 0: none). A DLR is deliver_sm
// esm_class 0x04 from the original destination to the original source, short_message
//   id:<decimal id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:<20 chars>
// plus, in hex mode, the TLVs receipted_message_id (hex) and message_state (2 delivered, 5 undeliverable).
//
// DLRs and MO go round robin to the sessions of the system_id that can receive (transceiver or
// receiver). Each stays pending until a deliver_sm_resp with status 0; a dropped session, an
// error status or no answer within smscRedeliverMs (default 5000) sends it again later, to any
// receiving session of that system_id, including one bound after a reconnect. Nothing is dropped
// while the sandbox runs.
//
// Faults (POST /_sandbox/sms/faults): dropEvery (close the TCP connection after every N-th
// submit_sm, counted across sessions; dropMode "after_resp" answers first, "before_resp" does
// not answer, the message is accepted either way), throttleAll, noResponse (accept, never
// answer), idMode, tps (more submit_sm than this in a sliding second, per system_id ->
// ESME_RTHROTTLED, counted as tpsViolations).
import { randomInt } from "node:crypto";
import { once } from "node:events";
import { CappedMap, CappedSet } from "./capped.ts";
import { loadSmpp, type DecodedMessage, type Pdu, type PduOptions, type SmppServer, type SmppSession } from "./smpp-types.ts";
import type { ReceivedStore } from "./store.ts";

const smpp = loadSmpp();

export const DEFAULT_SMSC_CREDENTIALS: readonly SmscCredential[] = [{ systemId: "lasthop", password: "devpass1" }];
export const DEFAULT_SMSC_DLR_DELAY_MS = 200;
export const DEFAULT_SMSC_LATE_DLR_MS = 3_000;
export const DEFAULT_SMSC_REDELIVER_MS = 5_000;
/** First message id handed out (0x1a2b3c00 = 439041024). */
export const FIRST_SMSC_MESSAGE_ID = 0x1a2b3c00;
/** The system_id the SMSC gives in its bind responses. */
export const SMSC_SYSTEM_ID = "LASTHOPSMSC";

const ESME_ROK = 0x0000;
const ESME_RINVCMDID = 0x0003;
const ESME_RINVBNDSTS = 0x0004;
const ESME_RALYBND = 0x0005;
const ESME_RINVDSTADR = 0x000b;
const ESME_RBINDFAIL = 0x000d;
const ESME_RINVPASWD = 0x000e;
const ESME_RTHROTTLED = 0x0058;
const ESME_RINVDCS = 0x0104;

/** Submit timestamps kept for GET /_sandbox/sms/smsc. */
const MAX_SUBMIT_TIMES = 10_000;
/** A delivery answered with an error status goes out again after this long (or redeliverMs if shorter). */
const ERROR_RETRY_MS = 1_000;
/** A deliver_sm that could not be written (socket closing) is tried again after this long. */
const UNWRITABLE_RETRY_MS = 100;

export type SmscCredential = { systemId: string; password: string };
export type SmscIdMode = "hex" | "decimal";
export type SmscDropMode = "before_resp" | "after_resp";
export type SmsOutcome = "delivered" | "bounce" | "soft" | "throttled";

export type SmscOptions = {
  credentials?: readonly SmscCredential[];
  /** Delay before the DLR of a normally delivered (or bounced) part. Default 200 ms. */
  dlrDelayMs?: number;
  /** Delay before the DLR to a `1111` number. Default 3000 ms. */
  lateDlrMs?: number;
  /** How long a deliver_sm waits for its resp before it is sent again. Default 5000 ms. */
  redeliverMs?: number;
  /** The id format when no fault sets one. Default "hex". */
  idMode?: SmscIdMode;
};

export type SmscFaults = {
  dropEvery?: number;
  dropMode?: SmscDropMode;
  throttleAll?: boolean;
  noResponse?: boolean;
  idMode?: SmscIdMode;
  tps?: number;
};

export type SmscStats = {
  binds: Array<{ systemId: string; mode: BindMode }>;
  /** submit_sm received (every one, answered or not) since start or the last clear. */
  submits: number;
  /** When each of them arrived (ms since the epoch), the latest 10,000. */
  submitTimes: number[];
  tpsViolations: number;
  /** deliver_sm sent again (after a drop, a timeout or an error status). */
  redeliveries: number;
  /** DLRs and MO not yet acknowledged with a deliver_sm_resp status 0. */
  pendingDeliveries: number;
  /** DLRs and MO acknowledged. */
  acknowledgedDeliveries: number;
  /** Multipart messages waiting for parts. */
  partialMessages: number;
  faults: Required<Pick<SmscFaults, "dropMode" | "throttleAll" | "noResponse" | "idMode">> & Pick<SmscFaults, "dropEvery" | "tps">;
};

export type MoRequest = { from: string; to: string; body: string; systemId?: string };

type BindMode = "transceiver" | "transmitter" | "receiver";

type SessionState = {
  session: SmppSession;
  systemId: string | null;
  mode: BindMode | null;
  closed: boolean;
  /** Deliveries sent on this session and not answered yet. */
  inflight: Set<Delivery>;
};

type Address = { addr: string; ton: number; npi: number };

type Segment = {
  source: Address;
  dest: Address;
  text: string;
  encoding: Encoding;
  dataCoding: number;
  registeredDelivery: number;
  udhHex: string | null;
  concat: { ref: number; total: number; seq: number } | null;
};

type Part = { segment: Segment; id: string };

type Encoding = "gsm7" | "latin1" | "ucs2";
// data_coding 1 (IA5) is read as the smpp package reads it, and as its client writes it when
// data_coding is left unset: with the GSM 03.38 table.
const ENCODINGS: Record<number, Encoding> = { 0: "gsm7", 1: "gsm7", 3: "latin1", 8: "ucs2" };

type Delivery = {
  systemId: string;
  kind: "dlr" | "mo";
  options: PduOptions;
  attempts: number;
  done: boolean;
  inflight: { state: SessionState; attempt: number; timer: NodeJS.Timeout } | null;
  retryTimer: NodeJS.Timeout | null;
};

export class SmscService {
  readonly #store: ReceivedStore;
  readonly #server: SmppServer;
  readonly #credentials: readonly SmscCredential[];
  readonly #dlrDelayMs: number;
  readonly #lateDlrMs: number;
  readonly #redeliverMs: number;
  readonly #defaultIdMode: SmscIdMode;
  readonly #sessions = new Set<SessionState>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Deliveries waiting for a receiving session, per system_id, oldest first. */
  readonly #waiting = new Map<string, Delivery[]>();
  readonly #pending = new Set<Delivery>();
  readonly #roundRobin = new Map<string, number>();
  readonly #partials = new CappedMap<string, { total: number; parts: Map<number, Part> }>(1_000);
  readonly #throttledOnce = new CappedSet<string>();
  readonly #tpsWindows = new Map<string, number[]>();
  #faults: SmscFaults = {};
  #nextId = FIRST_SMSC_MESSAGE_ID;
  #moRef = randomInt(256);
  #submits = 0;
  #submitTimes: number[] = [];
  #dropCounter = 0;
  #tpsViolations = 0;
  #redeliveries = 0;
  #acknowledged = 0;
  #address: { host: string; port: number } | null = null;
  #closed = false;

  constructor(store: ReceivedStore, opts: SmscOptions = {}) {
    this.#store = store;
    this.#credentials = opts.credentials ?? DEFAULT_SMSC_CREDENTIALS;
    if (this.#credentials.length === 0) throw new Error("smscCredentials must hold at least one {systemId, password}");
    for (const credential of this.#credentials) {
      if (typeof credential.systemId !== "string" || credential.systemId === "" || typeof credential.password !== "string") {
        throw new Error("smscCredentials entries must be {systemId: non-empty string, password: string}");
      }
    }
    this.#dlrDelayMs = delayOption("smscDlrDelayMs", opts.dlrDelayMs, DEFAULT_SMSC_DLR_DELAY_MS);
    this.#lateDlrMs = delayOption("smscLateDlrMs", opts.lateDlrMs, DEFAULT_SMSC_LATE_DLR_MS);
    this.#redeliverMs = delayOption("smscRedeliverMs", opts.redeliverMs, DEFAULT_SMSC_REDELIVER_MS);
    if (this.#redeliverMs < 1) throw new Error("smscRedeliverMs must be at least 1");
    this.#defaultIdMode = opts.idMode ?? "hex";
    this.#server = smpp.createServer({}, (session) => this.#onSession(session));
    store.onClear((channel) => {
      if (channel === undefined || channel === "sms") this.resetMemory();
    });
  }

  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    this.#server.listen(port, host);
    await Promise.race([once(this.#server, "listening"), once(this.#server, "error").then(([error]) => Promise.reject(error as Error))]);
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("SMSC has no TCP address");
    this.#address = { host, port: address.port };
    return this.#address;
  }

  get address(): { host: string; port: number } {
    if (this.#address === null) throw new Error("SMSC is not listening");
    return this.#address;
  }

  /** The system_id MO goes to when the request names none. */
  get defaultSystemId(): string {
    return this.#credentials[0]!.systemId;
  }

  /** Replaces the armed faults ({} clears them). */
  setFaults(faults: SmscFaults): void {
    this.#faults = { ...faults };
    this.#dropCounter = 0;
    this.#tpsWindows.clear();
  }

  /** Forgets the "first time" numbers and zeroes the counters; pending deliveries stay pending. */
  resetMemory(): void {
    this.#throttledOnce.clear();
    this.#submits = 0;
    this.#submitTimes = [];
    this.#dropCounter = 0;
    this.#tpsViolations = 0;
    this.#redeliveries = 0;
    this.#acknowledged = 0;
    this.#tpsWindows.clear();
  }

  stats(): SmscStats {
    const binds = [...this.#sessions]
      .filter((state) => state.mode !== null && !state.closed)
      .map((state) => ({ systemId: state.systemId!, mode: state.mode! }));
    return {
      binds,
      submits: this.#submits,
      submitTimes: this.#submitTimes.slice(-MAX_SUBMIT_TIMES),
      tpsViolations: this.#tpsViolations,
      redeliveries: this.#redeliveries,
      pendingDeliveries: this.#pending.size,
      acknowledgedDeliveries: this.#acknowledged,
      partialMessages: this.#partials.size,
      faults: {
        dropMode: this.#faults.dropMode ?? "after_resp",
        throttleAll: this.#faults.throttleAll ?? false,
        noResponse: this.#faults.noResponse ?? false,
        idMode: this.#idMode(),
        ...(this.#faults.dropEvery !== undefined ? { dropEvery: this.#faults.dropEvery } : {}),
        ...(this.#faults.tps !== undefined ? { tps: this.#faults.tps } : {}),
      },
    };
  }

  /** Queues an MO message (split into concatenated parts when long) for a receiving session. */
  sendMo(mo: MoRequest): { systemId: string; parts: number } {
    const systemId = mo.systemId ?? this.defaultSystemId;
    if (!this.#credentials.some((credential) => credential.systemId === systemId)) throw new Error(`unknown systemId ${systemId}`);
    const gsm = smpp.encodings.ASCII.match(mo.body);
    const chunks = gsm ? splitGsm(mo.body) : splitUcs2(mo.body);
    this.#moRef = (this.#moRef + 1) % 256;
    const source = addressOf(mo.from);
    const dest = addressOf(mo.to);
    chunks.forEach((chunk, index) => {
      const udh = chunks.length > 1 ? Buffer.from([0x05, 0x00, 0x03, this.#moRef, chunks.length, index + 1]) : Buffer.alloc(0);
      this.#enqueue({
        systemId,
        kind: "mo",
        options: {
          service_type: "",
          source_addr_ton: source.ton,
          source_addr_npi: source.npi,
          source_addr: source.addr,
          dest_addr_ton: dest.ton,
          dest_addr_npi: dest.npi,
          destination_addr: dest.addr,
          esm_class: chunks.length > 1 ? 0x40 : 0x00,
          data_coding: gsm ? 0x00 : 0x08,
          short_message: Buffer.concat([udh, chunk]),
        },
      });
    });
    return { systemId, parts: chunks.length };
  }

  /** Drops every session, stops the timers and the listener. Pending deliveries die with the sandbox. */
  close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (const delivery of this.#pending) {
      if (delivery.inflight) clearTimeout(delivery.inflight.timer);
      if (delivery.retryTimer) clearTimeout(delivery.retryTimer);
    }
    return new Promise((resolve) => {
      for (const state of this.#sessions) state.session.destroy();
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
    });
  }

  #idMode(): SmscIdMode {
    return this.#faults.idMode ?? this.#defaultIdMode;
  }

  #onSession(session: SmppSession): void {
    const state: SessionState = { session, systemId: null, mode: null, closed: false, inflight: new Set() };
    this.#sessions.add(state);
    session.socket.setNoDelay(true);
    // A malformed PDU or a reset: the session is beyond saving, close it ('close' follows).
    session.on("error", () => session.destroy());
    session.on("close", () => this.#onClose(state));
    session.on("pdu", (pdu: Pdu) => {
      if (pdu.isResponse()) return;
      this.#onRequest(state, pdu);
    });
  }

  #onRequest(state: SessionState, pdu: Pdu): void {
    const { session } = state;
    switch (pdu.command) {
      case "bind_transceiver":
      case "bind_transmitter":
      case "bind_receiver":
        return this.#onBind(state, pdu);
      case "enquire_link":
        session.send(pdu.response());
        return;
      case "unbind": {
        const receiving = state.mode !== null && state.mode !== "transmitter";
        state.mode = null;
        session.send(pdu.response(), () => session.close());
        if (receiving) this.#requeueSession(state);
        return;
      }
      case "submit_sm":
        if (state.mode === null || state.mode === "receiver") {
          session.send(pdu.response({ command_status: ESME_RINVBNDSTS }));
          return;
        }
        return this.#onSubmit(state, pdu);
      case "unknown":
        session.send(pdu.response());
        return;
      default:
        session.send(pdu.response({ command_status: state.mode === null ? ESME_RINVBNDSTS : ESME_RINVCMDID }));
    }
  }

  #onBind(state: SessionState, pdu: Pdu): void {
    const { session } = state;
    if (state.mode !== null) {
      session.send(pdu.response({ command_status: ESME_RALYBND }));
      return;
    }
    const systemId = typeof pdu.system_id === "string" ? pdu.system_id : "";
    const password = typeof pdu.password === "string" ? pdu.password : "";
    const credential = this.#credentials.find((candidate) => candidate.systemId === systemId);
    if (credential === undefined) {
      session.send(pdu.response({ command_status: ESME_RBINDFAIL }));
      return;
    }
    if (credential.password !== password) {
      session.send(pdu.response({ command_status: ESME_RINVPASWD }));
      return;
    }
    state.systemId = systemId;
    state.mode = pdu.command === "bind_transceiver" ? "transceiver" : pdu.command === "bind_transmitter" ? "transmitter" : "receiver";
    session.send(pdu.response({ system_id: SMSC_SYSTEM_ID }));
    if (state.mode !== "transmitter") this.#pump(systemId);
  }

  #onSubmit(state: SessionState, pdu: Pdu): void {
    const { session } = state;
    const systemId = state.systemId!;
    const now = Date.now();
    this.#submits += 1;
    this.#submitTimes.push(now);
    // Trimmed in batches, so a fast client does not pay for a 10,000-element shift per submit.
    if (this.#submitTimes.length >= 2 * MAX_SUBMIT_TIMES) this.#submitTimes = this.#submitTimes.slice(-MAX_SUBMIT_TIMES);
    const faults = this.#faults;
    const drop = faults.dropEvery !== undefined && ++this.#dropCounter % faults.dropEvery === 0;

    let status = ESME_ROK;
    if (faults.tps !== undefined) {
      const window = (this.#tpsWindows.get(systemId) ?? []).filter((at) => at > now - 1_000);
      window.push(now);
      this.#tpsWindows.set(systemId, window);
      if (window.length > faults.tps) {
        this.#tpsViolations += 1;
        status = ESME_RTHROTTLED;
      }
    }
    if (status === ESME_ROK && faults.throttleAll) status = ESME_RTHROTTLED;
    let segment: Segment | null = null;
    if (status === ESME_ROK) {
      const parsed = parseSubmit(pdu);
      if (typeof parsed === "number") status = parsed;
      else segment = parsed;
    }
    if (segment !== null && lastFour(segment.dest.addr) === "2222") {
      const key = digitsOf(segment.dest.addr);
      if (!this.#throttledOnce.has(key)) {
        this.#throttledOnce.add(key);
        status = ESME_RTHROTTLED;
        segment = null;
      }
    }

    let resp: Pdu;
    if (segment !== null) {
      const id = this.#accept(systemId, segment, now);
      resp = pdu.response({ message_id: id });
    } else {
      resp = pdu.response({ command_status: status });
    }

    if (faults.noResponse) {
      if (drop) session.destroy();
      return;
    }
    if (drop) {
      if ((faults.dropMode ?? "after_resp") === "before_resp") session.destroy();
      else if (!session.send(resp, () => session.destroy())) session.destroy();
      return;
    }
    session.send(resp);
  }

  /** Takes an accepted part: its id, its DLR, and the message once complete. Returns the id. */
  #accept(systemId: string, segment: Segment, submittedAt: number): string {
    const counter = this.#nextId++;
    const hex = this.#idMode() === "hex";
    const id = hex ? counter.toString(16) : counter.toString(10);
    const outcome = outcomeOf(segment.dest.addr);
    this.#scheduleDlr(systemId, segment, { id, counter, hex }, submittedAt, outcome);

    if (segment.concat === null) {
      this.#record([{ segment, id }], outcome);
      return id;
    }
    const key = [systemId, segment.source.addr, segment.dest.addr, segment.concat.ref, segment.concat.total].join("\u0000");
    const partial = this.#partials.get(key) ?? { total: segment.concat.total, parts: new Map<number, Part>() };
    // A part sent again (after a lost resp) replaces the earlier copy.
    partial.parts.set(segment.concat.seq, { segment, id });
    if (partial.parts.size < partial.total) {
      this.#partials.set(key, partial);
      return id;
    }
    this.#partials.delete(key);
    const parts = [...partial.parts.entries()].sort((a, b) => a[0] - b[0]).map((entry) => entry[1]);
    this.#record(parts, outcome);
    return id;
  }

  #record(parts: Part[], outcome: SmsOutcome): void {
    const first = parts[0]!.segment;
    const texts = parts.map((part) => part.segment.text);
    const text = first.encoding === "gsm7" ? joinGsm(texts) : texts.join("");
    this.#store.record<"sms">({
      channel: "sms",
      to: displayAddress(first.dest),
      status: 0,
      outcome,
      headers: {},
      payload: {
        text,
        encoding: first.encoding,
        segments: parts.length,
        route: "smpp",
        from: displayAddress(first.source),
        smscIds: parts.map((part) => part.id),
        udh: parts.map((part) => part.segment.udhHex),
        dataCoding: first.dataCoding,
        registeredDelivery: first.registeredDelivery,
      },
    });
  }

  #scheduleDlr(
    systemId: string,
    segment: Segment,
    id: { id: string; counter: number; hex: boolean },
    submittedAt: number,
    outcome: SmsOutcome,
  ): void {
    const delivered = outcome !== "bounce";
    // registered_delivery bits 0-1: 1 every outcome, 2 failures only, 3 successes only (SMPP 5.0).
    const wanted = segment.registeredDelivery & 0x03;
    if (wanted === 0 || (wanted === 2 && delivered) || (wanted === 3 && !delivered)) return;
    const delay = outcome === "soft" ? this.#lateDlrMs : this.#dlrDelayMs;
    this.#later(delay, () => {
      const receipt = [
        `id:${id.counter}`,
        "sub:001",
        `dlvrd:${delivered ? "001" : "000"}`,
        `submit date:${smppDate(submittedAt)}`,
        `done date:${smppDate(Date.now())}`,
        `stat:${delivered ? "DELIVRD" : "UNDELIV"}`,
        `err:${delivered ? "000" : "001"}`,
        `text:${receiptText(segment.text)}`,
      ].join(" ");
      this.#enqueue({
        systemId,
        kind: "dlr",
        options: {
          service_type: "",
          source_addr_ton: segment.dest.ton,
          source_addr_npi: segment.dest.npi,
          source_addr: segment.dest.addr,
          dest_addr_ton: segment.source.ton,
          dest_addr_npi: segment.source.npi,
          destination_addr: segment.source.addr,
          esm_class: 0x04,
          data_coding: 0x00,
          short_message: smpp.gsmCoder.encode(receipt, 0),
          ...(id.hex ? { receipted_message_id: id.id, message_state: delivered ? 2 : 5 } : {}),
        },
      });
    });
  }

  #later(ms: number, run: () => void): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      run();
    }, ms);
    this.#timers.add(timer);
  }

  #enqueue(init: Pick<Delivery, "systemId" | "kind" | "options">): void {
    const delivery: Delivery = { ...init, attempts: 0, done: false, inflight: null, retryTimer: null };
    this.#pending.add(delivery);
    this.#wait(delivery);
    this.#pump(delivery.systemId);
  }

  #wait(delivery: Delivery): void {
    const queue = this.#waiting.get(delivery.systemId) ?? [];
    queue.push(delivery);
    this.#waiting.set(delivery.systemId, queue);
  }

  /** Sends what waits for this system_id while a receiving session is bound. */
  #pump(systemId: string): void {
    if (this.#closed) return;
    const queue = this.#waiting.get(systemId);
    while (queue !== undefined && queue.length > 0) {
      const target = this.#nextReceiver(systemId);
      if (target === null) return;
      this.#send(queue.shift()!, target);
    }
  }

  #nextReceiver(systemId: string): SessionState | null {
    const receivers = [...this.#sessions].filter(
      (state) =>
        !state.closed &&
        state.systemId === systemId &&
        (state.mode === "transceiver" || state.mode === "receiver") &&
        state.session.socket.writable,
    );
    if (receivers.length === 0) return null;
    const turn = this.#roundRobin.get(systemId) ?? 0;
    this.#roundRobin.set(systemId, turn + 1);
    return receivers[turn % receivers.length]!;
  }

  #send(delivery: Delivery, state: SessionState): void {
    if (delivery.done) return;
    const attempt = delivery.attempts + 1;
    const pdu = new smpp.PDU("deliver_sm", { ...delivery.options });
    const written = state.session.send(pdu, (resp) => this.#onDeliverResp(delivery, attempt, resp));
    if (!written) return this.#retryLater(delivery, UNWRITABLE_RETRY_MS);
    delivery.attempts = attempt;
    if (attempt > 1) this.#redeliveries += 1;
    const timer = setTimeout(() => {
      if (delivery.inflight?.attempt !== attempt) return;
      this.#release(delivery);
      this.#wait(delivery);
      this.#pump(delivery.systemId);
    }, this.#redeliverMs);
    delivery.inflight = { state, attempt, timer };
    state.inflight.add(delivery);
  }

  #onDeliverResp(delivery: Delivery, attempt: number, resp: Pdu): void {
    if (delivery.done) return;
    if (resp.command_status === ESME_ROK) {
      // Any attempt's OK counts, even one that came after its timeout.
      this.#release(delivery);
      if (delivery.retryTimer) clearTimeout(delivery.retryTimer);
      delivery.retryTimer = null;
      delivery.done = true;
      this.#pending.delete(delivery);
      const queue = this.#waiting.get(delivery.systemId);
      const index = queue?.indexOf(delivery) ?? -1;
      if (index >= 0) queue!.splice(index, 1);
      this.#acknowledged += 1;
      return;
    }
    if (delivery.inflight?.attempt !== attempt) return;
    this.#release(delivery);
    this.#retryLater(delivery, Math.min(ERROR_RETRY_MS, this.#redeliverMs));
  }

  /** Forgets where the delivery is in flight (its timer too). */
  #release(delivery: Delivery): void {
    if (delivery.inflight === null) return;
    clearTimeout(delivery.inflight.timer);
    delivery.inflight.state.inflight.delete(delivery);
    delivery.inflight = null;
  }

  #retryLater(delivery: Delivery, ms: number): void {
    if (this.#closed || delivery.retryTimer !== null) return;
    delivery.retryTimer = setTimeout(() => {
      delivery.retryTimer = null;
      if (delivery.done) return;
      this.#wait(delivery);
      this.#pump(delivery.systemId);
    }, ms);
  }

  /** What was in flight on a session that is going away waits for another one. */
  #requeueSession(state: SessionState): void {
    const systemIds = new Set<string>();
    for (const delivery of [...state.inflight]) {
      this.#release(delivery);
      this.#wait(delivery);
      systemIds.add(delivery.systemId);
    }
    for (const systemId of systemIds) this.#pump(systemId);
  }

  #onClose(state: SessionState): void {
    state.closed = true;
    this.#sessions.delete(state);
    this.#requeueSession(state);
  }
}

function delayOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new Error(`${name} must be a non-negative number of milliseconds`);
  return value;
}

/** A submit_sm as one part, or the error status to answer it with. */
function parseSubmit(pdu: Pdu): Segment | number {
  const destination = typeof pdu.destination_addr === "string" ? pdu.destination_addr : "";
  if (destination === "") return ESME_RINVDSTADR;
  const dataCoding = typeof pdu.data_coding === "number" ? pdu.data_coding : 0;
  const encoding = ENCODINGS[dataCoding];
  if (encoding === undefined) return ESME_RINVDCS;
  const esmClass = typeof pdu.esm_class === "number" ? pdu.esm_class : 0;
  const short = decoded(pdu.short_message);
  const payload = decoded(pdu.message_payload);
  const content = payload !== null && (short === null || short.message.length === 0) ? payload : (short ?? { message: "" });
  const text = typeof content.message === "string" ? content.message : content.message.toString("latin1");

  let udhHex: string | null = null;
  let concat: Segment["concat"] = null;
  if (esmClass & 0x40 && content.udh !== undefined) {
    const elements = content.udh;
    const length = elements.reduce((sum, element) => sum + element.length, 0);
    udhHex = Buffer.concat([Buffer.from([length]), ...elements]).toString("hex");
    for (const element of elements) {
      if (element[0] === 0x00 && element[1] === 0x03 && element.length >= 5)
        concat = { ref: element[2]!, total: element[3]!, seq: element[4]! };
      if (element[0] === 0x08 && element[1] === 0x04 && element.length >= 6)
        concat = { ref: element.readUInt16BE(2), total: element[4]!, seq: element[5]! };
    }
  }
  const sarRef = pdu.sar_msg_ref_num;
  const sarTotal = pdu.sar_total_segments;
  const sarSeq = pdu.sar_segment_seqnum;
  if (concat === null && typeof sarRef === "number" && typeof sarTotal === "number" && typeof sarSeq === "number") {
    concat = { ref: sarRef, total: sarTotal, seq: sarSeq };
  }
  if (concat !== null && (concat.total < 2 || concat.seq < 1 || concat.seq > concat.total)) concat = null;

  return {
    source: {
      addr: typeof pdu.source_addr === "string" ? pdu.source_addr : "",
      ton: numberField(pdu.source_addr_ton),
      npi: numberField(pdu.source_addr_npi),
    },
    dest: { addr: destination, ton: numberField(pdu.dest_addr_ton), npi: numberField(pdu.dest_addr_npi) },
    text,
    encoding,
    dataCoding,
    registeredDelivery: numberField(pdu.registered_delivery),
    udhHex,
    concat,
  };
}

function decoded(value: unknown): DecodedMessage | null {
  if (value === undefined || value === null) return null;
  if (Buffer.isBuffer(value)) return { message: value };
  if (typeof value === "object" && "message" in value) return value as DecodedMessage;
  return null;
}

function numberField(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

function digitsOf(address: string): string {
  return address.replace(/\D/g, "");
}

function lastFour(address: string): string {
  return digitsOf(address).slice(-4);
}

export function outcomeOf(address: string): SmsOutcome {
  switch (lastFour(address)) {
    case "0000":
      return "bounce";
    case "1111":
      return "soft";
    case "2222":
      return "throttled";
    default:
      return "delivered";
  }
}

/** An international number (TON 1) as E.164 with "+"; anything else as sent. */
function displayAddress(address: Address): string {
  return address.ton === 1 && /^\d+$/.test(address.addr) ? `+${address.addr}` : address.addr;
}

/** A number without "+" as TON 1 (international) NPI 1 (E.164); other text as alphanumeric (TON 5 NPI 0). */
function addressOf(value: string): Address {
  const bare = value.startsWith("+") ? value.slice(1) : value;
  return /^\d+$/.test(bare) ? { addr: bare, ton: 1, npi: 1 } : { addr: value, ton: 5, npi: 0 };
}

/** Parts decoded one by one: an escape (0x1B) that ended a part applies to the start of the next. */
function joinGsm(texts: string[]): string {
  const table = smpp.gsmCoder.getCoder(0).extCharListDec;
  return texts.join("").replace(/\x1B([\s\S])/g, (whole, next: string) => table[next] ?? whole);
}

/** YYMMDDhhmm in UTC. */
function smppDate(ms: number): string {
  return new Date(ms).toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d).*$/, "$1$2$3$4$5");
}

/** The first 20 characters, on one line and within the GSM default alphabet. */
function receiptText(text: string): string {
  const coder = smpp.gsmCoder.getCoder(0);
  return Array.from(text)
    .slice(0, 20)
    .map((char) =>
      char === "\n" || char === "\r" || char === "\f" || char === "\x1B" || !(char in coder.charListEnc || char in coder.extCharListEnc)
        ? " "
        : char,
    )
    .join("");
}

/** GSM septets (unpacked) per part: 160 for one part, else 153 each, never splitting an escape. */
function splitGsm(text: string): Buffer[] {
  const whole = smpp.gsmCoder.encode(text, 0);
  if (whole.length <= 160) return [whole];
  const parts: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const char of Array.from(text)) {
    const septets = smpp.gsmCoder.encode(char, 0);
    if (size + septets.length > 153) {
      parts.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(septets);
    size += septets.length;
  }
  if (current.length > 0) parts.push(Buffer.concat(current));
  return parts;
}

/** UCS-2 big-endian per part: 70 units for one part, else 67 each, never splitting a surrogate pair. */
function splitUcs2(text: string): Buffer[] {
  const whole = smpp.encodings.UCS2.encode(text);
  if (whole.length <= 140) return [whole];
  const parts: Buffer[] = [];
  let current = "";
  for (const char of Array.from(text)) {
    if (current.length + char.length > 67) {
      parts.push(smpp.encodings.UCS2.encode(current));
      current = "";
    }
    current += char;
  }
  if (current !== "") parts.push(smpp.encodings.UCS2.encode(current));
  return parts;
}
