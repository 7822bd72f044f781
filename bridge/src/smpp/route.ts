/**
 * One SMPP route (an SMSC account): its binds, the windows of their sessions, the route's rate,
 * and how one SMS item becomes submit_sm PDUs and one outcome.
 *
 * An item is encoded and split by src/core/sms (`segmentSms` with the item's concatenation
 * reference, or `smsPayload` for message_payload routes), and its parts are submitted in order,
 * each on whichever bind of the route is up and has room in its window (parts of one message may
 * go on different binds). Every part takes a window slot, then a grant of the route's throttle,
 * and is written at once. What the item comes to:
 *
 *   every part ESME_ROK        → accepted {route, smscIds (canonical, in part order), segments, encoding, bind}
 *   a permanent status         → failed {reason: status name, commandStatus, route}
 *                                (+ partial: true, smscIds when earlier parts were accepted)
 *   ESME_RTHROTTLED / RMSGQFUL → the route slows down and the part is tried again, up to 3 tries;
 *                                then retry {reason: status name, commandStatus, route, submitted}
 *   another temporary status   → retry {reason: status name, commandStatus, route, submitted}
 *   no bind up (now, nor within `bindWaitMs`) before anything was written
 *                              → retry {reason: "route_down", route, submitted: "no"}
 *   no submit_sm_resp within `responseTimeoutMs`
 *                              → retry {reason: "response_timeout", route, submitted: "maybe", smscIds}
 *   the session ended between writing a part and its response
 *                              → retry {reason: "connection_lost", route, submitted: "maybe", smscIds}
 *   the batch deadline passed while a part waited for a bind, a slot or the rate
 *                              → retry {reason: "batch_deadline", route, submitted}
 *   the binds went down after some parts were accepted and none came back before the deadline
 *                              → retry {reason: "connection_lost", route, submitted: "maybe", partial, smscIds}
 *
 * Whenever earlier parts were accepted, a `retry` or `failed` also carries `partial: true` and
 * their `smscIds`.
 *
 * `submitted` is "no" only when nothing of the message can have reached the SMSC: no part was
 * accepted and none is unanswered (a part refused with a status was not taken). Otherwise it is
 * "maybe" and the edge keeps the message on this route (a resend may duplicate; it never goes
 * out on two routes). A part not yet written when its bind drops waits for a bind to come back
 * (up to the batch deadline): it was never sent, so sending it on the new session is safe.
 */
import type { Logger } from "pino";
import type { SmppBatch } from "../../../src/core/bridge.ts";
import type { OutcomeDetail, SendOutcome } from "../../../src/core/outcome.ts";
import { canonicalSmscId } from "../../../src/core/sms/dlr.ts";
import { planSms, segmentSms, smsPayload, type SmsEncoding } from "../../../src/core/sms/segment.ts";
import { classifySubmitStatus } from "../../../src/core/sms/smpp-status.ts";
import type { SmppRouteConfig } from "../config.ts";
import type { Metrics } from "../metrics.ts";
import { SmppInbound } from "./inbound.ts";
import { destinationAddress, sourceAddress } from "./pdu.ts";
import { SmppConnection, type BindState } from "./session.ts";
import { Throttle } from "./throttle.ts";
import { WindowQueue } from "./window.ts";

export type SmppItem = SmppBatch["items"][number];

/** A submit is accepted, failed or retried: whether the handset got it comes later, in a receipt. */
export type RouteOutcome = Exclude<SendOutcome, { kind: "bounced" }>;

/** Tries of one part answered ESME_RTHROTTLED / ESME_RMSGQFUL before the item is `retry`. */
export const THROTTLE_TRIES = 3;

export type BindHealth = { host: string; port: number; systemId: string; mode: "transceiver" | "pair"; state: BindState };

type Bind = {
  host: string;
  port: number;
  systemId: string;
  mode: "transceiver" | "pair";
  /** Submits go here: the transceiver, or the transmitter of a pair. */
  tx: SmppConnection;
  /** The receiver of a pair. */
  rx: SmppConnection | null;
};

export type RouteOptions = {
  config: SmppRouteConfig;
  edgeUrl: string;
  edgeTimeoutMs: number;
  moReassemblyMs: number;
  secret: string;
  log: Logger;
  metrics: Metrics;
  random?: () => number;
};

type PartBytes = { esmClass: number; dataCoding: number; shortMessage: Buffer; payload?: Buffer };

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export class SmppRoute {
  readonly name: string;
  readonly config: SmppRouteConfig;
  readonly throttle: Throttle;
  readonly inbound: SmppInbound;
  readonly #binds: Bind[];
  readonly #queue: WindowQueue<SmppConnection>;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  #upWaiters: Array<() => void> = [];
  #closing = false;

  constructor(options: RouteOptions) {
    const { config, log, metrics } = options;
    this.name = config.name;
    this.config = config;
    this.#log = log;
    this.#metrics = metrics;
    this.throttle = new Throttle({ tps: config.tps, onWait: () => metrics.smppThrottleWaits.inc({ route: config.name }) });
    this.inbound = new SmppInbound({
      route: config.name,
      submitIdBase: config.submitIdBase,
      receiptIdBase: config.receiptIdBase,
      edgeUrl: options.edgeUrl,
      edgeTimeoutMs: options.edgeTimeoutMs,
      secret: options.secret,
      log,
      metrics,
      reassemblyMs: options.moReassemblyMs,
    });
    const connection = (bind: SmppRouteConfig["binds"][number], role: "transceiver" | "transmitter" | "receiver") =>
      new SmppConnection({
        route: config.name,
        endpoint: bind,
        role,
        window: config.window,
        enquireLinkMs: config.enquireLinkMs,
        responseTimeoutMs: config.responseTimeoutMs,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        log,
        onChange: () => this.#changed(),
        onInbound: (pdu, reply) => this.inbound.handle(pdu, reply),
        ...(options.random ? { random: options.random } : {}),
      });
    this.#binds = config.binds.map((bind) => ({
      host: bind.host,
      port: bind.port,
      systemId: bind.systemId,
      mode: bind.mode,
      tx: connection(bind, bind.mode === "pair" ? "transmitter" : "transceiver"),
      rx: bind.mode === "pair" ? connection(bind, "receiver") : null,
    }));
    this.#queue = new WindowQueue(() => this.#binds.map((b) => ({ owner: b.tx, window: b.tx.window, usable: b.tx.canSubmit })));
  }

  start(): void {
    for (const bind of this.#binds) {
      bind.tx.start();
      bind.rx?.start();
    }
  }

  /** Per bind: a pair is up when both its sessions are, down when both are down, else binding. */
  health(): BindHealth[] {
    return this.#binds.map((b) => ({ host: b.host, port: b.port, systemId: b.systemId, mode: b.mode, state: bindState(b) }));
  }

  /** Binds that can take submits now. */
  submittable(): number {
    return this.#binds.filter((b) => b.tx.canSubmit).length;
  }

  /** Resolves true as soon as a bind can take submits, false after `ms`. */
  waitUp(ms: number): Promise<boolean> {
    if (this.submittable() > 0) return Promise.resolve(true);
    if (ms <= 0 || this.#closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#upWaiters = this.#upWaiters.filter((w) => w !== wake);
        resolve(false);
      }, ms);
      this.#upWaiters.push(wake);
    });
  }

  /** The windows of the current sessions (tests, debugging). */
  windows(): Array<{ bind: string; size: number; outstanding: number; maxSeen: number }> {
    return this.#binds.map((b) => ({
      bind: b.tx.label,
      size: b.tx.window.size,
      outstanding: b.tx.window.outstanding,
      maxSeen: b.tx.window.maxSeen,
    }));
  }

  /** Sends one item; `deadline` (performance.now() ms) bounds the waits before each write. */
  async send(item: SmppItem, deadline: number): Promise<RouteOutcome> {
    const { config } = this;
    const route = this.name;
    let parts: PartBytes[];
    let plan: { segments: number; encoding: SmsEncoding };
    if (config.useMessagePayload) {
      plan = planSms(item.body);
      const payload = smsPayload(item.body);
      parts = [{ esmClass: 0, dataCoding: payload.dataCoding, shortMessage: Buffer.alloc(0), payload: toBuffer(payload.messagePayload) }];
    } else {
      const segments = segmentSms(item.body, item.reference);
      // The parts say what planSms would (one layout of the text, not two per message).
      plan = { segments: segments.length, encoding: segments[0]!.dataCoding === 8 ? "ucs2" : "gsm7" };
      parts = segments.map((p) => ({
        esmClass: p.esmClass,
        dataCoding: p.dataCoding,
        shortMessage: toBuffer(p.shortMessage),
      }));
    }
    const source = sourceAddress(item.from, { ton: config.sourceTon, npi: config.sourceNpi });
    const destination = destinationAddress(item.to, { ton: config.destTon, npi: config.destNpi });
    const smscIds: string[] = [];
    const binds: string[] = [];
    /** Nothing accepted yet: `submitted` is "no" unless an answer is missing (those return at once). */
    const unsent = (reason: string, extra: OutcomeDetail = {}): RouteOutcome => ({
      kind: "retry",
      detail: {
        reason,
        route,
        ...extra,
        submitted: smscIds.length === 0 ? "no" : "maybe",
        ...(smscIds.length > 0 ? { partial: true, smscIds: [...smscIds] } : {}),
      },
    });
    const ambiguous = (reason: "response_timeout" | "connection_lost"): RouteOutcome => ({
      kind: "retry",
      detail: { reason, route, submitted: "maybe", smscIds: [...smscIds], ...(smscIds.length > 0 ? { partial: true } : {}) },
    });

    for (const part of parts) {
      let tries = 0;
      for (;;) {
        if (this.#closing) return unsent("shutting_down");
        if (this.submittable() === 0) {
          // Before anything was written, a short wait and then route_down (the edge fails over);
          // later parts of a message already partly sent wait up to the deadline.
          const left = deadline - performance.now();
          const wait = smscIds.length === 0 ? Math.min(config.bindWaitMs, left) : left;
          // route_down only when nothing of the message went out (the edge may fail over on it);
          // a message cut off after some parts is connection_lost, submitted "maybe".
          if (!(await this.waitUp(wait)))
            return unsent(this.#closing ? "shutting_down" : smscIds.length === 0 ? "route_down" : "connection_lost");
        }
        const slot = this.#queue.tryNow() ?? (await this.#queue.acquire(deadline, true));
        if (slot === "down") continue; // every bind went down while waiting: back to the check above
        if (slot === "timeout") return unsent("batch_deadline");
        if (slot === "closed") return unsent("shutting_down");
        if (!this.throttle.tryTake() && !(await this.throttle.take(deadline))) {
          slot.window.release();
          this.#queue.pump();
          return unsent(this.#closing ? "shutting_down" : "batch_deadline");
        }
        const answer = slot.owner.submit(slot.window, {
          source_addr_ton: source.ton,
          source_addr_npi: source.npi,
          source_addr: source.addr,
          dest_addr_ton: destination.ton,
          dest_addr_npi: destination.npi,
          destination_addr: destination.addr,
          esm_class: part.esmClass,
          registered_delivery: config.registeredDelivery ? 1 : 0,
          data_coding: part.dataCoding,
          short_message: part.shortMessage,
          ...(part.payload ? { message_payload: part.payload } : {}),
        });
        if (!answer) {
          // Not written: the session went away. Let its close be processed, then try again.
          this.#queue.pump();
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        const result = await answer;
        if (result.kind === "timeout") {
          this.#metrics.smppSubmits.inc({ route, result: "timeout" });
          return ambiguous("response_timeout");
        }
        if (result.kind === "connection_lost") {
          this.#metrics.smppSubmits.inc({ route, result: "connection_lost" });
          return ambiguous("connection_lost");
        }
        this.#metrics.smppSubmitLatency.observe({ route }, result.ms / 1000);
        const verdict = classifySubmitStatus(result.status);
        if (verdict.kind === "accepted") {
          this.#metrics.smppSubmits.inc({ route, result: "accepted" });
          this.throttle.succeeded();
          const id = canonicalSmscId(result.messageId, config.submitIdBase);
          if (!id)
            this.#log.warn(
              { route, bind: slot.owner.label },
              "smpp: submit_sm_resp ESME_ROK without a message_id (receipts cannot be matched)",
            );
          smscIds.push(id);
          binds.push(slot.owner.label);
          break;
        }
        if (verdict.kind === "failed") {
          this.#metrics.smppSubmits.inc({ route, result: "failed" });
          return {
            kind: "failed",
            detail: {
              reason: verdict.name,
              commandStatus: result.status,
              route,
              ...(smscIds.length > 0 ? { partial: true, smscIds: [...smscIds] } : {}),
            },
          };
        }
        if (verdict.throttle) {
          this.#metrics.smppSubmits.inc({ route, result: "throttled" });
          const pause = this.throttle.slowDown();
          tries++;
          this.#log.info(
            { route, bind: slot.owner.label, status: verdict.name, tries, pauseMs: pause, rate: this.throttle.rate },
            "smpp: the SMSC throttles; slowing down",
          );
          if (tries < THROTTLE_TRIES) continue;
          return unsent(verdict.name, { commandStatus: result.status });
        }
        this.#metrics.smppSubmits.inc({ route, result: "retry" });
        return unsent(verdict.name, { commandStatus: result.status });
      }
    }
    const distinct = [...new Set(binds)];
    return {
      kind: "accepted",
      detail: {
        route,
        smscIds,
        segments: plan.segments,
        encoding: plan.encoding,
        bind: binds[0],
        ...(distinct.length > 1 ? { binds } : {}),
      },
    };
  }

  /**
   * Graceful stop: no new submits (waiting ones come back `shutting_down`), the outstanding
   * responses and the inbound messages being handed to the edge are waited for (at most `ms`),
   * then every session unbinds and closes.
   */
  async close(ms: number): Promise<void> {
    this.#closing = true;
    this.#queue.close();
    this.throttle.close();
    for (const wake of this.#upWaiters) wake();
    this.#upWaiters = [];
    const idle = () => this.inbound.idle();
    await Promise.all(this.#binds.flatMap((b) => [b.tx.close(ms, idle), ...(b.rx ? [b.rx.close(ms, idle)] : [])]));
    this.inbound.close();
  }

  #changed(): void {
    this.#queue.pump();
    if (this.#upWaiters.length > 0 && this.submittable() > 0) {
      const waiters = this.#upWaiters;
      this.#upWaiters = [];
      for (const wake of waiters) wake();
    }
  }
}

function bindState(b: Bind): BindState {
  if (!b.rx) return b.tx.state;
  if (b.tx.state === "up" && b.rx.state === "up") return "up";
  if (b.tx.state === "down" && b.rx.state === "down") return "down";
  return "binding";
}
