/**
 * The inbound SMTP server: the bounce domains' MX can point here (a self-hosted alternative to
 * Cloudflare Email Routing). DSNs, ARF complaints and replies arrive by SMTP, and the bridge hands
 * each message to the edge before it answers the final ".":
 *
 *   sending MTA ──SMTP──▶ bridge ──signed POST /v1/inbound/email, one item per recipient──▶ edge
 *               ◀─ 250 ───┘ only after the edge took every recipient's item
 *
 * What arrives together travels together: the items of every transaction that ends within
 * BATCH_LINGER_MS of the first go to the edge as one batch `{messages: [...]}` (bounded in items
 * and bytes), and each transaction waits for its own items' results. One POST per batch instead
 * of one per message is what lets DSNs through at the rate MTAs send them; the edge enqueues a
 * batch whole or not at all, so a failed batch is a 451 to every sender in it.
 *
 * Nothing is stored here (the bridge is stateless). The reply to DATA waits for the edge: a 2xx
 * for every recipient → 250; the edge says a recipient is not ours (422 `not_ours`) → 550;
 * anything else (5xx, 401, another 4xx, a redirect, connection refused, no answer within
 * `edgeTimeoutMs`) → 451, so the sending MTA keeps the message and tries again later. A crash
 * or a restart of the bridge, or an edge that is down, costs a retry, never a message.
 *
 * At-least-once: a 451 after some recipients' POSTs succeeded makes the sender redeliver to all of
 * them, and a connection lost after the POSTs but before the 250 reached the sender does too. The
 * edge must treat a repeated message as a replay (its event dedupe does).
 *
 * The message goes to the edge as JSON, so the exact bytes survive whatever they are (8-bit,
 * not UTF-8): each item `{"to": rcpt, "from": mailFrom or "", "raw": base64 of the message}`, the
 * batch `{"messages": [items]}` with Standard Webhooks headers signed over that JSON text with the
 * door's key (`postToEdge`); the answer holds one result per item, in order.
 *
 * Envelope rules: MAIL FROM takes anything, the null sender `<>` included (DSNs come from it).
 * RCPT TO takes only addresses in one of the configured domains (case-insensitive; an entry
 * `<label>.*` takes that label in front of any domain: `lh-bounces.*`); others get
 * 550 5.1.1 at once and never reach the edge. No AUTH. STARTTLS when a certificate is
 * configured. SIZE is advertised and enforced (552 5.3.4 after DATA; a sender that declares a
 * larger SIZE= is refused at MAIL FROM by smtp-server itself).
 *
 * Enhanced status codes are written into the reply texts (smtp-server's own table is not used,
 * and ENHANCEDSTATUSCODES is not advertised), as the test fixture of the relay does.
 */
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Logger } from "pino";
import { INBOUND_EMAIL_BATCH_MAX } from "../../../src/core/api-requests.ts";
import { inboundEmailBatchResponse } from "../../../src/core/api-responses.ts";
import { EDGE_EMAIL_INBOUND_PATH } from "../../../src/core/bridge.ts";
import { errorText, postToEdge } from "../edge.ts";
import { Batcher } from "./batcher.ts";
import type { InboundConfig } from "../config.ts";
import type { Metrics } from "../metrics.ts";
import { recipientDomain } from "./dns.ts";
import { inboundDomainMatcher } from "./inbound-domains.ts";

/** Recipients per transaction (RFC 5321 §4.5.3.1.8: at least 100 must be accepted). Beyond: 452 4.5.3. */
export const MAX_RECIPIENTS = 100;

/** Simultaneous SMTP connections; beyond, smtp-server answers 421 and the sender retries later. */
export const MAX_CLIENTS = 100;

/** How long the first message of a batch waits for others: what ends together travels together. */
export const BATCH_LINGER_MS = 2;

/** A batch's JSON stays under this (the edge takes 16 MiB); a larger message goes alone. */
export const MAX_BATCH_BYTES = 12 * 1024 * 1024;

/** One item of the body of `POST ${EDGE_URL}/v1/inbound/email`, `{messages: [items]}` (signed over its JSON text). */
export type InboundEmail = {
  /** The accepted RCPT TO address, as the sender wrote it. */
  to: string;
  /** The MAIL FROM address; "" for the null sender `<>`. */
  from: string;
  /** The message exactly as received (dot-unstuffed, without the final "."), base64. */
  raw: string;
};

export type InboundOptions = InboundConfig & {
  /** Standard Webhooks secret shared with the edge (BRIDGE_SECRET). */
  secret: string;
  /** Our name in the greeting (SMTP_HELO_NAME). */
  heloName: string;
  /** How long close() lets an answered connection go before smtp-server cuts it (shutdown bound). */
  shutdownTimeoutMs: number;
  log: Logger;
  metrics: Metrics;
};

/** What the edge said about one recipient. */
type EdgeAnswer =
  | { kind: "accepted"; status: number }
  | { kind: "not_ours"; status: number }
  | { kind: "temporary"; status?: number; error: string };

type Reply = { code: number; text: string; outcome: "accepted" | "not_ours" | "deferred" | "too_large" };

type Coded = Error & { responseCode: number };
const smtpError = (code: number, text: string): Coded => Object.assign(new Error(text), { responseCode: code });

const TEMPORARY_TEXT = "4.3.0 Temporary failure, try again later";
const SHUTDOWN_TEXT = "4.3.2 Service shutting down, try again later";

export class InboundSmtpServer {
  readonly #options: InboundOptions;
  readonly #server: SMTPServer;
  readonly #accepts: (domain: string) => boolean;
  readonly #batcher: Batcher<InboundEmail, EdgeAnswer>;
  #inFlight = 0;
  #idleWaiters: Array<() => void> = [];
  #closing: Promise<void> | undefined;

  constructor(options: InboundOptions) {
    this.#options = options;
    this.#batcher = new Batcher(
      (emails) => this.#post(emails),
      (error): EdgeAnswer => ({ kind: "temporary", error: errorText(error) }),
      {
        maxItems: Math.min(options.batch?.maxItems ?? INBOUND_EMAIL_BATCH_MAX, INBOUND_EMAIL_BATCH_MAX),
        maxBytes: MAX_BATCH_BYTES,
        lingerMs: options.batch?.lingerMs ?? BATCH_LINGER_MS,
      },
    );
    this.#accepts = inboundDomainMatcher(options.domains);
    this.#server = new SMTPServer({
      name: options.heloName,
      size: options.maxBytes,
      authOptional: true,
      // Without a certificate, smtp-server would offer STARTTLS with a built-in self-signed one.
      disabledCommands: options.tls ? ["AUTH"] : ["AUTH", "STARTTLS"],
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
      hideENHANCEDSTATUSCODES: true,
      disableReverseLookup: true,
      maxClients: MAX_CLIENTS,
      // The socket is quiet while the edge is asked: the idle limit must outlast that wait.
      socketTimeout: Math.max(60_000, options.edgeTimeoutMs + 10_000),
      // After close(), connections still open when this runs out get 421 (close() cuts idle ones sooner).
      closeTimeout: Math.max(1_000, options.shutdownTimeoutMs),
      logger: false,
      onMailFrom: (_address, _session, callback) => {
        if (this.#closing) return callback(smtpError(421, SHUTDOWN_TEXT));
        callback(); // anyone, the null sender included
      },
      onRcptTo: (address, session, callback) => this.#onRcptTo(address, session, callback),
      onData: (stream, session, callback) => this.#onData(stream, session, callback),
    });
    // Client sockets that reset or fail TLS: nothing to do, the sender retries.
    this.#server.on("error", (error: Error) => options.log.debug({ err: error }, "inbound smtp connection error"));
  }

  /** Starts listening on the configured host and port; resolves with the actual address. */
  listen(): Promise<{ host: string; port: number }> {
    const { host, port } = this.#options;
    return new Promise((resolve, reject) => {
      this.#server.server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.server.off("error", reject);
        const address = this.#server.server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Messages between DATA and their reply right now. */
  inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Graceful stop: no new connections, no new transactions (421), messages in flight get the
   * edge's answer (for at most `ms`), then every remaining connection gets 421 and is closed.
   */
  close(ms: number): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      if (!(await within(this.#idle(), ms))) {
        this.#options.log.warn(
          { inFlight: this.#inFlight },
          "shutdown timeout: inbound messages in flight get 421 (the senders retry them)",
        );
      }
      for (const connection of [...this.#server.connections] as Array<{ send(code: number, text: string): void }>) {
        connection.send(421, SHUTDOWN_TEXT); // smtp-server closes the connection after a 421
      }
      await within(closed, 1_000);
    })();
    return this.#closing;
  }

  #idle(): Promise<void> {
    return this.#inFlight === 0 ? Promise.resolve() : new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const { metrics, log } = this.#options;
    if (this.#closing) {
      metrics.inboundRcptRefused.inc({ reason: "shutdown" });
      return callback(smtpError(421, SHUTDOWN_TEXT));
    }
    const domain = recipientDomain(address.address);
    if (domain === undefined || !this.#accepts(domain)) {
      metrics.inboundRcptRefused.inc({ reason: "domain" });
      log.info(
        { session: session.id, remote: session.remoteAddress, rcpt: address.address },
        "inbound smtp: recipient refused (not a bounce domain)",
      );
      return callback(smtpError(550, `5.1.1 <${address.address}>: Recipient address rejected: not a bounce address here`));
    }
    const rcpts = session.envelope.rcptTo;
    const repeated = rcpts.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
    if (!repeated && rcpts.length >= MAX_RECIPIENTS) {
      metrics.inboundRcptRefused.inc({ reason: "too_many" });
      return callback(smtpError(452, "4.5.3 Too many recipients"));
    }
    callback();
  }

  #onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const { maxBytes } = this.#options;
    this.#inFlight++;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      this.#inFlight--;
      if (this.#inFlight === 0) {
        for (const wake of this.#idleWaiters) wake();
        this.#idleWaiters = [];
      }
    };
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk); // past the cap the rest is read and dropped
    });
    stream.on("error", (error) => {
      this.#options.log.debug({ session: session.id, err: error }, "inbound smtp: message cut off");
      finish();
    });
    stream.on("close", () => {
      if (!stream.readableEnded) finish(); // the client went away mid-DATA: nobody to answer
    });
    stream.on("end", () => {
      const answer =
        stream.sizeExceeded || size > maxBytes
          ? Promise.resolve<Reply>({
              code: 552,
              text: `5.3.4 Message size exceeds fixed maximum message size (${maxBytes} bytes)`,
              outcome: "too_large",
            })
          : this.#handOff(session, Buffer.concat(chunks));
      answer
        .catch((error: unknown): Reply => {
          this.#options.log.error({ session: session.id, err: error }, "inbound smtp: hand-off failed");
          return { code: 451, text: TEMPORARY_TEXT, outcome: "deferred" };
        })
        .then((reply) => {
          this.#options.metrics.inboundMessages.inc({ outcome: reply.outcome });
          this.#options.metrics.inboundBytes.inc({ outcome: reply.outcome }, size);
          if (reply.outcome === "too_large") {
            this.#options.log.info(
              { session: session.id, remote: session.remoteAddress, bytes: size, outcome: reply.outcome },
              "inbound smtp message",
            );
          }
          if (reply.code === 250) callback(null, reply.text);
          else callback(smtpError(reply.code, reply.text));
          finish();
        });
    });
  }

  /** One batch item per recipient; the SMTP reply their answers add up to. */
  async #handOff(session: SMTPServerSession, raw: Buffer): Promise<Reply> {
    const { log } = this.#options;
    const started = performance.now();
    const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
    const rcpts = session.envelope.rcptTo.map((r) => r.address);
    const base64 = raw.toString("base64");
    // The JSON an item adds to the batch: its base64, the addresses, the keys and quotes.
    const answers = await Promise.all(
      rcpts.map((to) => this.#batcher.submit({ to, from, raw: base64 }, base64.length + to.length + from.length + 32)),
    );
    const edge = rcpts.map((to, i) => {
      const a = answers[i]!;
      return {
        to,
        kind: a.kind,
        ...(a.status !== undefined ? { status: a.status } : {}),
        ...(a.kind === "temporary" ? { error: a.error } : {}),
      };
    });
    let reply: Reply;
    if (answers.some((a) => a.kind === "temporary")) {
      // The sender keeps the message and tries again (recipients the edge already took get it again).
      reply = { code: 451, text: TEMPORARY_TEXT, outcome: "deferred" };
    } else if (answers.some((a) => a.kind === "not_ours")) {
      const refused = rcpts.filter((_, i) => answers[i]!.kind === "not_ours");
      reply = { code: 550, text: `5.1.1 <${refused.join(">, <")}>: Recipient address rejected`, outcome: "not_ours" };
    } else {
      reply = { code: 250, text: "2.0.0 Ok: handed to lasthop", outcome: "accepted" };
    }
    const fields = {
      session: session.id,
      remote: session.remoteAddress,
      tls: session.secure,
      from,
      bytes: raw.length,
      edge,
      outcome: reply.outcome,
      ms: Math.round(performance.now() - started),
    };
    if (reply.outcome === "deferred") log.warn(fields, "inbound smtp message");
    else log.info(fields, "inbound smtp message");
    return reply;
  }

  /** One signed POST for a batch; an answer per item, in order. */
  async #post(emails: InboundEmail[]): Promise<EdgeAnswer[]> {
    const { edgeUrl, secret, edgeTimeoutMs, log } = this.#options;
    const all = (answer: EdgeAnswer) => emails.map(() => answer);
    const reply = await postToEdge(edgeUrl, EDGE_EMAIL_INBOUND_PATH, secret, { messages: emails }, edgeTimeoutMs);
    if ("error" in reply) return all({ kind: "temporary", error: reply.error });
    const { status, text } = reply;
    if (status >= 200 && status < 300) {
      const results = batchResults(text);
      if (results?.length === emails.length)
        return results.map((r) => ("error" in r ? { kind: "not_ours", status: 422 } : { kind: "accepted", status }));
      log.error({ status, body: text.slice(0, 200) }, "the edge answered an inbound batch without a result per message");
      return all({ kind: "temporary", status, error: "the edge's answer has no result per message" });
    }
    if (status === 401)
      log.error({ status }, "the edge refused the bridge's signature on an inbound message: check BRIDGE_SECRET on both sides");
    else if (status >= 300 && status < 500)
      log.error(
        { status, body: text.slice(0, 200) },
        "the edge refused an inbound message: check EDGE_URL and the edge's /v1/inbound/email",
      );
    return all({ kind: "temporary", status, error: `the edge answered ${status}` });
  }
}

function batchResults(text: string) {
  try {
    const parsed = inboundEmailBatchResponse.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.results : undefined;
  } catch {
    return undefined;
  }
}

function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}
