// The sandbox receiving MTA, on smtp-server: plays both the smarthost a relay-mode sender logs
// in to and the MX a direct-mode sender delivers to. EHLO offers STARTTLS (the dev CA-signed
// certificate), 8BITMIME, SMTPUTF8, PIPELINING and SIZE; AUTH PLAIN/LOGIN is offered once the
// session is under TLS (Postfix's smtpd_tls_auth_only) and accepts any credentials, but is
// optional, so an unauthenticated direct-mode delivery goes through too.
//
// The RCPT TO address decides the outcome, answered at RCPT time as a real MTA does (first
// word found wins, in this order):
//   bounce -> 550 5.1.1 <addr>: Recipient address rejected: User unknown
//   block  -> 554 5.7.1 Message rejected as spam by policy
//   full   -> 552 5.2.2 Mailbox full
//   soft   -> 451 4.7.1 Greylisted, try again later   (first attempt for that address only)
//   slow   -> accepted, the 250 after DATA comes after a delay (2 s by default)
//   else   -> accepted
// After DATA: 250 2.0.0 Ok: queued as <10 hex chars> (Postfix's wording, so a sender can read
// the queue id). An oversized message gets 552 5.3.4 at the end of DATA.
//
// Enhanced status codes are written into the reply texts above rather than added by
// smtp-server: its own table would answer 554 with 5.6.0 and 451 with 4.3.0. So the
// ENHANCEDSTATUSCODES keyword is not advertised, and smtp-server's own replies (syntax errors,
// a MAIL FROM SIZE= over the limit) carry none.
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { EmailEnvelope, ReceivedStore } from "./store.ts";
import type { DevCertificates } from "./tls.ts";

export const SMTP_HOSTNAME = "sandbox.lasthop.test";
export const DEFAULT_SMTP_MAX_SIZE = 10 * 1024 * 1024;
export const DEFAULT_SMTP_SLOW_MS = 2_000;

/** Upper bound of the "slow" delay, whatever the option says. */
const MAX_SLOW_MS = 30_000;
/** Addresses remembered as greylisted once; the oldest fall off first. */
const MAX_GREYLIST = 10_000;
const MAX_CLIENTS = 1_000;
const SOCKET_TIMEOUT_MS = 60_000;

export type SmtpOptions = {
  /** Largest message accepted (bytes), advertised as SIZE. Default 10 MiB. */
  maxSize?: number;
  /** Delay before the 250 after DATA for a "slow" recipient. Default 2000 ms, at most 30 s. */
  slowMs?: number;
};

export type SmtpStats = {
  /** SMTP sessions open now. */
  sessions: number;
  /** SMTP sessions opened since the start (a pooled sender opens few). */
  sessionsOpened: number;
  /** Messages accepted (250 after DATA). */
  messages: number;
};

type Refusal = { code: number; text: string };

type SmtpError = Error & { responseCode: number };

function smtpError(refusal: Refusal): SmtpError {
  return Object.assign(new Error(refusal.text), { responseCode: refusal.code });
}

export class SmtpService {
  readonly #store: ReceivedStore;
  readonly #server: SMTPServer;
  readonly #maxSize: number;
  readonly #slowMs: number;
  /** Lower-cased addresses whose first attempt was already greylisted. */
  readonly #greylisted = new Set<string>();
  readonly #openSessions = new Set<string>();
  /** Pending "slow" replies, cleared on close so a stopping sandbox does not wait for them. */
  readonly #timers = new Set<NodeJS.Timeout>();
  #sessionsOpened = 0;
  #messages = 0;
  #address: { host: string; port: number } | null = null;

  constructor(store: ReceivedStore, tls: DevCertificates, opts: SmtpOptions = {}) {
    this.#store = store;
    this.#maxSize = opts.maxSize ?? DEFAULT_SMTP_MAX_SIZE;
    if (!Number.isInteger(this.#maxSize) || this.#maxSize < 1) throw new Error("smtpMaxSize must be a positive integer (bytes)");
    this.#slowMs = Math.min(Math.max(0, opts.slowMs ?? DEFAULT_SMTP_SLOW_MS), MAX_SLOW_MS);
    this.#server = new SMTPServer({
      name: SMTP_HOSTNAME,
      banner: "lasthop sandbox",
      heloResponse: "%s",
      key: tls.key,
      cert: tls.cert,
      size: this.#maxSize,
      authMethods: ["PLAIN", "LOGIN"],
      authOptional: true,
      hideENHANCEDSTATUSCODES: true,
      hideDSN: true,
      hideREQUIRETLS: true,
      // Loopback only: no reverse DNS for clients, no console logging.
      disableReverseLookup: true,
      logger: false,
      maxClients: MAX_CLIENTS,
      socketTimeout: SOCKET_TIMEOUT_MS,
      onConnect: (session, callback) => {
        this.#sessionsOpened += 1;
        this.#openSessions.add(session.id);
        // AUTH only under TLS: not announced, not accepted before STARTTLS.
        session.disabledCommands = ["AUTH"];
        callback();
      },
      onSecure: (_socket, session, callback) => {
        session.disabledCommands = [];
        callback();
      },
      onClose: (session) => {
        this.#openSessions.delete(session.id);
      },
      onAuth: (auth, _session, callback) => {
        // Any credentials will do; the user is recorded with what the session sends.
        callback(null, { user: auth.username || "(empty)" });
      },
      onRcptTo: (address, session, callback) => this.#onRcptTo(address, session, callback),
      onData: (stream, session, callback) => this.#onData(stream, session, callback),
    });
    // Clients vanish mid-session (ECONNRESET and the like); that is not the sandbox's error.
    // Listen errors are caught in listen().
    this.#server.on("error", () => {});
  }

  /** Starts listening and returns where, e.g. {host: "127.0.0.1", port: 2525}. */
  async listen(host: string, port: number): Promise<{ host: string; port: number }> {
    this.#server.listen(port, host);
    await once(this.#server.server, "listening");
    const address = this.#server.server.address();
    if (address === null || typeof address === "string") throw new Error("SMTP server has no TCP address");
    this.#address = { host, port: address.port };
    return this.#address;
  }

  get address(): { host: string; port: number } {
    if (this.#address === null) throw new Error("SMTP service is not listening");
    return this.#address;
  }

  stats(): SmtpStats {
    return { sessions: this.#openSessions.size, sessionsOpened: this.#sessionsOpened, messages: this.#messages };
  }

  /** Forgets which "soft" addresses were greylisted, so each defers once again. */
  resetGreylist(): void {
    this.#greylisted.clear();
  }

  /** Says 421 to every open session and drops it, then stops listening. */
  close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    return new Promise((resolve) => {
      if (!this.#server.server.listening) return resolve();
      this.#server.close(() => resolve());
      for (const connection of [...this.#server.connections]) {
        const socket = connection._socket;
        const upgrading = connection._upgrading;
        connection.send(421, "4.3.2 Service shutting down");
        connection.close();
        // A short grace lets the 421 out; a socket in the middle of a TLS handshake is left to
        // smtp-server's own half-close deadline (tearing it down from below would crash Node).
        if (!upgrading) setTimeout(() => socket.destroy(), 50).unref();
      }
    });
  }

  #onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void): void {
    const refusal = this.#verdict(address.address);
    if (refusal === null) return callback();
    this.#store.record<"email">({
      channel: "email",
      provider: "smtp",
      to: address.address,
      status: refusal.code,
      outcome: refusal.code >= 500 ? "rejected" : "deferred",
      headers: envelopeOf(session, [address.address]),
      payload: null,
    });
    callback(smtpError(refusal));
  }

  #verdict(address: string): Refusal | null {
    const lower = address.toLowerCase();
    if (lower.includes("bounce")) return { code: 550, text: `5.1.1 <${address}>: Recipient address rejected: User unknown` };
    if (lower.includes("block")) return { code: 554, text: "5.7.1 Message rejected as spam by policy" };
    if (lower.includes("full")) return { code: 552, text: "5.2.2 Mailbox full" };
    if (lower.includes("soft") && !this.#greylisted.has(lower)) {
      this.#greylisted.add(lower);
      if (this.#greylisted.size > MAX_GREYLIST) {
        const oldest = this.#greylisted.values().next().value;
        if (oldest !== undefined) this.#greylisted.delete(oldest);
      }
      return { code: 451, text: "4.7.1 Greylisted, try again later" };
    }
    return null;
  }

  #onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void {
    const chunks: Buffer[] = [];
    let kept = 0;
    stream.on("data", (chunk: Buffer) => {
      // Past the limit the rest is only counted (by smtp-server), not kept.
      if (kept + chunk.length <= this.#maxSize) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    // The client went away mid-message: nobody is left to answer.
    stream.once("error", () => {});
    stream.once("end", () => {
      const rcptTo = session.envelope.rcptTo.map((rcpt) => rcpt.address);
      if (stream.sizeExceeded) {
        this.#store.record<"email">({
          channel: "email",
          provider: "smtp",
          to: rcptTo.join(", "),
          status: 552,
          outcome: "rejected",
          headers: envelopeOf(session, rcptTo),
          payload: null,
        });
        return callback(smtpError({ code: 552, text: "5.3.4 Message size exceeds fixed limit" }));
      }
      // Read the session now: once the reply is sent, smtp-server resets the envelope.
      const queueId = randomBytes(5).toString("hex").toUpperCase();
      const headers: EmailEnvelope = { ...envelopeOf(session, rcptTo), queueId };
      const raw = Buffer.concat(chunks).toString("utf8");
      const accept = () => {
        this.#messages += 1;
        this.#store.record<"email">({
          channel: "email",
          provider: "smtp",
          to: rcptTo.join(", "),
          status: 250,
          outcome: "accepted",
          headers,
          payload: raw,
        });
        callback(null, `2.0.0 Ok: queued as ${queueId}`);
      };
      if (!rcptTo.some((address) => address.toLowerCase().includes("slow"))) return accept();
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        accept();
      }, this.#slowMs);
      this.#timers.add(timer);
    });
  }
}

function envelopeOf(session: SMTPServerSession, rcptTo: string[]): EmailEnvelope {
  const user: unknown = session.user;
  return {
    mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
    rcptTo,
    tls: session.secure,
    ...(typeof user === "string" && user !== "" ? { authUser: user } : {}),
    helo: session.hostNameAppearsAs || "",
  };
}
