/**
 * What an SMSC sends us on a bind: delivery receipts and MO messages (deliver_sm, data_sm).
 * Each becomes one signed POST to the edge, and the SMSC gets its deliver_sm_resp only after
 * the edge has answered:
 *
 *   SMSC ──deliver_sm──▶ bridge ──signed POST /v1/inbound/sms {kind:"dlr"|"mo",…}──▶ edge
 *        ◀─ deliver_sm_resp ──┘ after the edge's answer:
 *             2xx                          → ESME_ROK
 *             400, 413, 422 (never going to succeed: the bridge built something the edge refuses)
 *                                          → ESME_ROK, logged as an error and counted (`rejected`)
 *             anything else: 5xx, 401 (secrets disagree: fixable, so not final), 404, 429, a
 *             redirect, a network error, no answer within the edge timeout
 *                                          → ESME_RX_T_APPN (0x64): the SMSC redelivers later
 *
 * Nothing is stored here: a crash before the answer makes the SMSC redeliver. The edge must treat
 * a repeated receipt or MO as a replay (its event dedupe does).
 *
 * Receipts: esm_class bits 2-5 of 0x04 (SMSC delivery receipt), 0x08 (SME delivery
 * acknowledgement) or 0x20 (intermediate delivery notification). The SMSC id comes from the
 * receipted_message_id TLV (written like submit_sm_resp ids: `submitIdBase`) or else from the
 * text's `id:` (`receiptIdBase`), both in canonical form; the state from the message_state TLV
 * or else the text's `stat:`; `err` from the network_error_code TLV (its error code, 3 digits)
 * or the text's `err:`. A receipt with neither an id nor a state is acknowledged and dropped
 * (counted as `invalid`): a redelivery would be just as unreadable.
 *
 * MO: the body is decoded per data_coding (0 GSM 7-bit, 8 UCS-2, 0xF0-0xFF by their bit 2,
 * anything else Latin-1). Concatenated MO (UDH IE 0x00 or 0x08, or the sar_* TLVs) is put back
 * together in memory: the parts' deliver_sm stay unanswered until the whole message has been
 * handed to the edge, and then all get the edge's answer. Parts wait at most `reassemblyMs`
 * for the rest; then what has arrived is forwarded as one message (parts in order, missing
 * ones left out) rather than bounced around forever. At most `maxAssemblies` messages are held
 * at once; a part beyond that gets ESME_RX_T_APPN.
 */
import type { PDU } from "smpp";
import type { Logger } from "pino";
import { EDGE_SMS_INBOUND_PATH, smsInbound, type DlrStat, type SmsInbound } from "../../../src/core/bridge.ts";
import { canonicalSmscId, messageStates, parseReceiptText, receiptDate } from "../../../src/core/sms/dlr.ts";
import { decodeGsm7, decodeUcs2 } from "../../../src/core/sms/gsm.ts";
import { errorText, postToEdge } from "../edge.ts";
import type { Metrics } from "../metrics.ts";
import { messageBytes, receivedAddress } from "./pdu.ts";
import { KeyedLimiter } from "../smtp/limits.ts";

/**
 * Posts to the edge in flight per route. An SMSC can hand over receipts faster than the edge
 * takes them (a burst after a reconnect redelivers everything at once); beyond this they wait
 * here, unacknowledged, which is the SMSC's own backpressure.
 */
export const EDGE_POST_CONCURRENCY = 16;

export const ESME_ROK = 0x00;
export const ESME_RX_T_APPN = 0x64;

export type InboundOptions = {
  route: string;
  submitIdBase: 10 | 16;
  receiptIdBase: 10 | 16;
  edgeUrl: string;
  edgeTimeoutMs: number;
  secret: string;
  log: Logger;
  metrics: Metrics;
  reassemblyMs: number;
  maxAssemblies?: number;
  /** Default EDGE_POST_CONCURRENCY. */
  edgeConcurrency?: number;
};

type Reply = (status: number) => boolean;

type EdgeAnswer = { kind: "accepted" | "rejected" | "temporary"; status?: number; error?: string };

type Assembly = {
  key: string;
  total: number;
  from: string;
  to: string;
  parts: Map<number, { text: string; reply: Reply }>;
  timer: NodeJS.Timeout;
};

const RECEIPT_TYPES = new Set([0x04, 0x08, 0x20]);

/** Decodes message bytes (no UDH) per SMPP data_coding. */
export function decodeBody(bytes: Uint8Array, dataCoding: number): string {
  if (dataCoding === 0) return decodeGsm7(bytes);
  if (dataCoding === 8) return decodeUcs2(bytes);
  if ((dataCoding & 0xf0) === 0xf0) return dataCoding & 0x04 ? latin1(bytes) : decodeGsm7(bytes);
  return latin1(bytes);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export type Concat = { ref: number; total: number; seq: number };

/** Splits a UDH off `bytes` (when esm_class says there is one) and reads a concatenation IE. */
export function splitUdh(bytes: Buffer, esmClass: number): { body: Buffer; concat?: Concat } {
  if (!(esmClass & 0x40) || bytes.length === 0) return { body: bytes };
  const udhl = bytes[0]!;
  if (udhl + 1 > bytes.length) return { body: bytes };
  const header = bytes.subarray(1, udhl + 1);
  const body = bytes.subarray(udhl + 1);
  let concat: Concat | undefined;
  for (let i = 0; i + 1 < header.length; ) {
    const iei = header[i]!;
    const len = header[i + 1]!;
    const data = header.subarray(i + 2, i + 2 + len);
    if (iei === 0x00 && len === 3 && data.length === 3) concat = { ref: data[0]!, total: data[1]!, seq: data[2]! };
    if (iei === 0x08 && len === 4 && data.length === 4) concat = { ref: data.readUInt16BE(0), total: data[2]!, seq: data[3]! };
    i += 2 + len;
  }
  return concat ? { body, concat } : { body };
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

export class SmppInbound {
  readonly #options: InboundOptions;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #assemblies = new Map<string, Assembly>();
  readonly #edgeSlots: KeyedLimiter;

  constructor(options: InboundOptions) {
    this.#options = options;
    this.#edgeSlots = new KeyedLimiter(options.edgeConcurrency ?? EDGE_POST_CONCURRENCY, "edge post");
  }

  /** POSTs to the edge in progress. */
  inFlight(): number {
    return this.#inFlight;
  }

  /** Concatenated MO messages waiting for parts. */
  assemblies(): number {
    return this.#assemblies.size;
  }

  idle(): Promise<void> {
    return this.#inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Forgets the parts waiting for the rest: they were never answered, so the SMSC redelivers them. */
  close(): void {
    for (const assembly of this.#assemblies.values()) clearTimeout(assembly.timer);
    this.#assemblies.clear();
  }

  /** A deliver_sm / data_sm from a bind of the route. */
  handle(pdu: PDU, reply: Reply): void {
    const esmClass = Number(pdu.esm_class ?? 0);
    if (RECEIPT_TYPES.has(esmClass & 0x3c)) this.#receipt(pdu, reply);
    else this.#mo(pdu, reply);
  }

  #receipt(pdu: PDU, reply: Reply): void {
    const { route, submitIdBase, receiptIdBase, log, metrics } = this.#options;
    const dataCoding = Number(pdu.data_coding ?? 0);
    const { body } = splitUdh(messageBytes(pdu), Number(pdu.esm_class ?? 0));
    const text = (dataCoding === 8 ? decodeUcs2(body) : latin1(body)).replace(/\0+$/, "");
    const parsed = text ? parseReceiptText(text) : null;
    const tlvId = typeof pdu.receipted_message_id === "string" ? pdu.receipted_message_id.replace(/\0+$/, "").trim() : "";
    const smscId = tlvId ? canonicalSmscId(tlvId, submitIdBase) : parsed ? canonicalSmscId(parsed.id, receiptIdBase) : "";
    const state = typeof pdu.message_state === "number" ? messageStates[pdu.message_state] : undefined;
    const stat: DlrStat | undefined = state ?? parsed?.stat;
    let err = parsed?.err;
    const network = pdu.network_error_code;
    if (Buffer.isBuffer(network) && network.length >= 3) err = String(network.readUInt16BE(1)).padStart(3, "0");
    if (!smscId || !stat) {
      metrics.smppInbound.inc({ route, kind: "dlr", outcome: "invalid" });
      log.error(
        { route, text: clip(text, 200), receiptedMessageId: tlvId || undefined, messageState: pdu.message_state },
        "smpp: a delivery receipt without an id or a state; acknowledged and dropped",
      );
      reply(ESME_ROK);
      return;
    }
    const doneAt = parsed?.doneDate ? receiptDate(parsed.doneDate) : undefined;
    const receipt: SmsInbound = {
      kind: "dlr",
      route,
      smscId: clip(smscId, 128),
      stat,
      ...(err ? { err: clip(err, 64) } : {}),
      ...(doneAt ? { doneAt } : {}),
      from: clip(receivedAddress(pdu.source_addr, pdu.source_addr_ton), 32),
      to: clip(receivedAddress(pdu.destination_addr, pdu.dest_addr_ton), 32),
      ...(text ? { text: clip(text, 512) } : {}),
    };
    void this.#forward(receipt, [reply]);
  }

  #mo(pdu: PDU, reply: Reply): void {
    const { route, log, metrics } = this.#options;
    const dataCoding = Number(pdu.data_coding ?? 0);
    const { body, concat: udhConcat } = splitUdh(messageBytes(pdu), Number(pdu.esm_class ?? 0));
    let concat = udhConcat;
    if (
      !concat &&
      typeof pdu.sar_msg_ref_num === "number" &&
      typeof pdu.sar_total_segments === "number" &&
      typeof pdu.sar_segment_seqnum === "number"
    ) {
      concat = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
    }
    const text = decodeBody(body, dataCoding);
    const from = clip(receivedAddress(pdu.source_addr, pdu.source_addr_ton), 32);
    const to = clip(receivedAddress(pdu.destination_addr, pdu.dest_addr_ton), 32);
    if (!from || !to) {
      metrics.smppInbound.inc({ route, kind: "mo", outcome: "invalid" });
      log.error({ route, from, to }, "smpp: an MO message without a source or destination address; acknowledged and dropped");
      reply(ESME_ROK);
      return;
    }
    if (!concat || concat.total <= 1 || concat.seq < 1 || concat.seq > concat.total) {
      void this.#forward(this.#moMessage(from, to, text), [reply]);
      return;
    }
    const key = `${from}|${to}|${concat.ref}|${concat.total}`;
    let assembly = this.#assemblies.get(key);
    if (!assembly) {
      if (this.#assemblies.size >= (this.#options.maxAssemblies ?? 1_000)) {
        log.warn(
          { route, held: this.#assemblies.size },
          "smpp: too many concatenated MO messages waiting for parts; asking the SMSC to redeliver",
        );
        reply(ESME_RX_T_APPN);
        return;
      }
      const created: Assembly = {
        key,
        total: concat.total,
        from,
        to,
        parts: new Map(),
        timer: setTimeout(() => this.#complete(created, true), this.#options.reassemblyMs),
      };
      assembly = created;
      this.#assemblies.set(key, assembly);
    }
    // A redelivered part replaces the one held (the SMSC gave up on that deliver_sm).
    assembly.parts.set(concat.seq, { text, reply });
    if (assembly.parts.size === assembly.total) this.#complete(assembly, false);
  }

  #complete(assembly: Assembly, timedOut: boolean): void {
    if (this.#assemblies.get(assembly.key) !== assembly) return;
    this.#assemblies.delete(assembly.key);
    clearTimeout(assembly.timer);
    const seqs = [...assembly.parts.keys()].sort((a, b) => a - b);
    if (timedOut) {
      this.#options.log.warn(
        { route: this.#options.route, parts: seqs, total: assembly.total },
        "smpp: concatenated MO incomplete after the reassembly wait; forwarding the parts that arrived",
      );
    }
    const body = seqs.map((s) => assembly.parts.get(s)!.text).join("");
    void this.#forward(
      this.#moMessage(assembly.from, assembly.to, body),
      seqs.map((s) => assembly.parts.get(s)!.reply),
    );
  }

  #moMessage(from: string, to: string, body: string): SmsInbound {
    return { kind: "mo", route: this.#options.route, from, to, body: clip(body, 10_000), receivedAt: new Date().toISOString() };
  }

  async #forward(message: SmsInbound, replies: Reply[]): Promise<void> {
    const { route, log, metrics } = this.#options;
    this.#inFlight++;
    try {
      const checked = smsInbound.safeParse(message);
      let answer: EdgeAnswer;
      if (!checked.success) {
        answer = { kind: "rejected", error: checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ") };
      } else {
        answer = await this.#post(message);
      }
      const status = answer.kind === "temporary" ? ESME_RX_T_APPN : ESME_ROK;
      for (const reply of replies) reply(status);
      const outcome = answer.kind === "accepted" ? "forwarded" : answer.kind === "rejected" ? "rejected" : "deferred";
      metrics.smppInbound.inc({ route, kind: message.kind, outcome }, replies.length);
      const fields = {
        route,
        kind: message.kind,
        ...(message.kind === "dlr" ? { smscId: message.smscId, stat: message.stat } : { from: message.from, parts: replies.length }),
        outcome,
        ...(answer.status !== undefined ? { status: answer.status } : {}),
        ...(answer.error ? { error: answer.error } : {}),
      };
      if (answer.kind === "rejected")
        log.error(fields, "smpp inbound: the edge refused it for good; acknowledged to the SMSC (a redelivery would not help)");
      else if (answer.kind === "temporary") log.warn(fields, "smpp inbound: not handed to the edge; the SMSC will redeliver");
      else log.debug(fields, "smpp inbound");
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) {
        for (const wake of this.#idleWaiters) wake();
        this.#idleWaiters = [];
      }
    }
  }

  async #post(message: SmsInbound): Promise<EdgeAnswer> {
    const { edgeTimeoutMs } = this.#options;
    let release: () => void;
    try {
      release = await this.#edgeSlots.acquire("edge", edgeTimeoutMs);
    } catch (error) {
      return { kind: "temporary", error: errorText(error) };
    }
    try {
      return await this.#postNow(message);
    } finally {
      release();
    }
  }

  async #postNow(message: SmsInbound): Promise<EdgeAnswer> {
    const { edgeUrl, secret, edgeTimeoutMs, log } = this.#options;
    const reply = await postToEdge(edgeUrl, EDGE_SMS_INBOUND_PATH, secret, message, edgeTimeoutMs);
    if ("error" in reply) return { kind: "temporary", error: reply.error };
    const { status, text } = reply;
    if (status >= 200 && status < 300) return { kind: "accepted", status };
    if (status === 400 || status === 413 || status === 422) return { kind: "rejected", status, error: text.slice(0, 200) };
    if (status === 401)
      log.error({ status }, "the edge refused the bridge's signature on an SMS receipt/MO: check BRIDGE_SECRET on both sides");
    else if (status >= 300 && status < 500 && status !== 429)
      log.error({ status, body: text.slice(0, 200) }, "the edge refused an SMS receipt/MO: check EDGE_URL and the edge's /v1/inbound/sms");
    return { kind: "temporary", status, error: `the edge answered ${status}` };
  }
}
