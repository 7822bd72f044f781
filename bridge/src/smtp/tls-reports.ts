/**
 * TLS-RPT (RFC 8460) from the bridge's side: every direct session under an MTA-STS policy
 * (`onTlsSession` of send.ts) is batched and posted, signed, to the edge's `/v1/inbound/tls`,
 * where each policy domain's object keeps the day's tally and sends the report.
 *
 * A batch is flushed every `flushMs` or as soon as it holds `maxBatch` sessions. Each batch has a
 * uuid, fixed from its first attempt on (nothing joins it after), so a batch whose answer was
 * lost can be posted again and the edge counts it once. A batch the edge did not take stays, in
 * order, for the next flush; past `maxPending` sessions the oldest batch is dropped and counted
 * (reports are statistics: a gap beats unbounded memory). Never in the delivery's way: `add` only
 * queues.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { EDGE_TLS_INBOUND_PATH, type TlsSessionReport } from "../../../src/core/bridge.ts";
import { stsPolicyLines, type CachedStsPolicy } from "../../../src/core/mta-sts.ts";
import { postToEdge } from "../edge.ts";
import type { Metrics } from "../metrics.ts";
import type { TlsSession } from "./send.ts";

export type TlsReportsOptions = {
  edgeUrl: string;
  secret: string;
  flushMs?: number;
  maxBatch?: number;
  maxPending?: number;
  timeoutMs?: number;
  log?: Logger;
  metrics?: Metrics;
};

type Batch = { id: string; sessions: TlsSessionReport[]; sealed: boolean };

/** A session as the edge takes it: the policy's lines when the policy is the one the session used. */
export function tlsSessionReport(session: TlsSession, cached: CachedStsPolicy | undefined): TlsSessionReport {
  const policy = cached && cached.id === session.policyId && cached.policy.mode !== "none" ? cached.policy : undefined;
  return {
    policy: {
      type: "sts",
      domain: session.domain,
      ...(policy ? { string: stsPolicyLines(policy), mxHost: policy.mx } : {}),
    },
    result: session.result,
    ...(session.mxHost ? { receivingMxHostname: session.mxHost } : {}),
    ...(session.receivingIp ? { receivingIp: session.receivingIp } : {}),
    ...(session.sendingIp ? { sendingMtaIp: session.sendingIp } : {}),
    // §4.4: failure-reason-code is the free text of what went wrong (additional-information is a URI).
    ...(session.result !== "success" && session.reason ? { failureReasonCode: session.reason.slice(0, 1_000) } : {}),
  };
}

export class TlsReports {
  readonly #options: Required<Omit<TlsReportsOptions, "log" | "metrics">> & Pick<TlsReportsOptions, "log" | "metrics">;
  readonly #batches: Batch[] = [];
  #pending = 0;
  #flushing: Promise<void> | undefined;
  #timer: NodeJS.Timeout;

  constructor(options: TlsReportsOptions) {
    this.#options = { flushMs: 2_000, maxBatch: 500, maxPending: 10_000, timeoutMs: 5_000, ...options };
    this.#timer = setInterval(() => void this.flush(), this.#options.flushMs);
    this.#timer.unref();
  }

  /** Sessions waiting for the edge. */
  pending(): number {
    return this.#pending;
  }

  add(session: TlsSessionReport): void {
    let batch = this.#batches.at(-1);
    if (!batch || batch.sealed || batch.sessions.length >= this.#options.maxBatch) {
      batch = { id: randomUUID(), sessions: [], sealed: false };
      this.#batches.push(batch);
    }
    batch.sessions.push(session);
    this.#pending += 1;
    while (this.#pending > this.#options.maxPending && this.#batches.length > 1) this.#drop(this.#batches[0]!, "overflow");
    if (batch.sessions.length >= this.#options.maxBatch) void this.flush();
  }

  /** Posts every batch, oldest first, until the edge fails one (kept for the next flush). */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Stops the timer and makes a last attempt, bounded by `ms`. */
  async close(ms: number): Promise<void> {
    clearInterval(this.#timer);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
    clearTimeout(timer);
    if (this.#pending > 0) this.#options.log?.warn({ sessions: this.#pending }, "tls-rpt: sessions not handed to the edge at shutdown");
  }

  async #flush(): Promise<void> {
    const { edgeUrl, secret, timeoutMs, log } = this.#options;
    while (this.#batches.length > 0) {
      const batch = this.#batches[0]!;
      batch.sealed = true; // its id now stands for exactly these sessions
      const reply = await postToEdge(edgeUrl, EDGE_TLS_INBOUND_PATH, secret, { batchId: batch.id, sessions: batch.sessions }, timeoutMs);
      if ("status" in reply && reply.status >= 200 && reply.status < 300) {
        this.#remove(batch);
        continue;
      }
      if ("status" in reply && reply.status >= 400 && reply.status < 500 && reply.status !== 401 && reply.status !== 429) {
        // The edge refuses the batch itself (a contract mismatch): sending it again changes nothing.
        log?.error(
          { status: reply.status, answer: reply.text.slice(0, 500), sessions: batch.sessions.length },
          "tls-rpt: the edge refused a batch",
        );
        this.#drop(batch, "rejected");
        continue;
      }
      log?.debug(
        { reply: "error" in reply ? reply.error : reply.status, pending: this.#pending },
        "tls-rpt: the edge did not take a batch; kept",
      );
      return;
    }
  }

  #drop(batch: Batch, why: "overflow" | "rejected"): void {
    this.#options.metrics?.tlsReportsDropped.inc({ why }, batch.sessions.length);
    this.#remove(batch);
  }

  #remove(batch: Batch): void {
    const i = this.#batches.indexOf(batch);
    if (i < 0) return;
    this.#batches.splice(i, 1);
    this.#pending -= batch.sessions.length;
  }
}
