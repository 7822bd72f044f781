/**
 * Test helpers for the bridge's SMTP relay: a receiving MTA on smtp-server (127.0.0.1, port 0)
 * with a self-signed certificate that openssl makes at test time, for STARTTLS or implicit TLS.
 * The RCPT TO address decides the answer (first word found wins):
 *
 *   bounce → 550 5.1.1 at RCPT        soft  → 451 4.7.1 at RCPT
 *   block  → 554 5.7.1 after DATA     drop  → the socket is cut after DATA's final "." (no reply)
 *   else   → 250 2.0.0 Ok: queued as <id> after DATA
 *
 * `answers` adds replies of one's own, matched the same way and checked before those above.
 *
 * It records every message (envelope, raw bytes as received, the session it came on, whether
 * the session was under TLS, who authenticated), the AUTH attempts, and the sessions: how many
 * were opened and the most that were open at once. Enhanced status codes are written into the
 * reply texts (smtp-server's own table is not used, ENHANCEDSTATUSCODES is not advertised).
 *
 * Also: a bridge `Config` for tests (test/node/apns-fixture.ts builds one without `smtp`), and
 * the signed POST to the bridge (from fixtures/signed.ts, as apns-fixture.ts has it too).
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import type { Config, SmtpConfig } from "../../bridge/src/config.ts";
import type { MxRecord, SmtpResolver } from "../../bridge/src/smtp/dns.ts";
import { SECRET } from "./fixtures/signed.ts";

export { SECRET, signedPost } from "./fixtures/signed.ts";
export { makeCertificate } from "./fixtures/tls.ts";
import { makeCertificate } from "./fixtures/tls.ts";

export type Received = {
  session: string;
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  secure: boolean;
  user: string | undefined;
};

export type AuthAttempt = { session: string; method: string; user: string; pass: string; secure: boolean };

export type SmtpFixtureOptions = {
  /** "starttls" (default): STARTTLS offered; "none": not offered; "implicit": TLS from the first byte. */
  tls?: "starttls" | "implicit" | "none";
  /** SIZE advertised in EHLO (bytes). */
  size?: number;
  /** Refuse MAIL FROM until the client authenticated (AUTH PLAIN/LOGIN, after TLS). */
  requireAuth?: boolean;
  /** Credentials accepted (others get 535 5.7.8). Default user "relay-user", pass "relay-pass". */
  credentials?: { user: string; pass: string };
  /** Delay before answering DATA's final ".", so concurrent sessions overlap. */
  holdMs?: number;
  /** The certificate offered (default: a self-signed one for localhost). */
  certificate?: { key: string; cert: string };
  /** Where to listen (default 127.0.0.1, a free port): several fixtures on 127.0.0.x share a port as MX hosts do. */
  host?: string;
  port?: number;
  /** Replies of one's own: the first whose `match` the RCPT TO address contains, at RCPT or after DATA (421 closes the session). */
  answers?: Array<{ match: string; at: "rcpt" | "data"; code: number; text: string }>;
};

export type SmtpFixture = {
  host: string;
  port: number;
  caPem: string;
  received: Received[];
  /** Every RCPT TO, accepted or not. */
  rcpts: Array<{ session: string; address: string }>;
  auths: AuthAttempt[];
  /**
   * opened: sessions opened; open / maxOpen: sessions open now / at most at once; busy / maxBusy:
   * messages between the end of their data and the reply, now / at most at once.
   */
  stats: { opened: number; open: number; maxOpen: number; busy: number; maxBusy: number; sessionIds: Set<string> };
  /** The client's end of each session, by session id (kept across reset(): a pooled session outlives a test). */
  remotes: Map<string, { address: string; port: number }>;
  holdMs: number;
  reset(): void;
  /** Cuts every open session (the server stays up). */
  cut(): void;
  close(): Promise<void>;
};

type Coded = Error & { responseCode: number };
const refuse = (code: number, text: string): Coded => Object.assign(new Error(text), { responseCode: code });

let certificate: { key: string; cert: string } | undefined;

export async function startSmtpFixture(options: SmtpFixtureOptions = {}): Promise<SmtpFixture> {
  certificate ??= makeCertificate();
  const offered = options.certificate ?? certificate;
  const host = options.host ?? "127.0.0.1";
  const mode = options.tls ?? "starttls";
  const credentials = options.credentials ?? { user: "relay-user", pass: "relay-pass" };
  const received: Received[] = [];
  const rcpts: SmtpFixture["rcpts"] = [];
  const auths: AuthAttempt[] = [];
  const stats = { opened: 0, open: 0, maxOpen: 0, busy: 0, maxBusy: 0, sessionIds: new Set<string>() };
  const remotes: SmtpFixture["remotes"] = new Map();
  const answer = (at: "rcpt" | "data", addresses: string[]): Coded | undefined => {
    const found = options.answers?.find((a) => a.at === at && addresses.some((address) => address.toLowerCase().includes(a.match)));
    return found ? refuse(found.code, found.text) : undefined;
  };
  const fixture = { holdMs: options.holdMs ?? 0 };
  const timers = new Set<NodeJS.Timeout>();

  const server: SMTPServer = new SMTPServer({
    name: "mx.fixture.test",
    key: offered.key,
    cert: offered.cert,
    secure: mode === "implicit",
    ...(options.size !== undefined ? { size: options.size } : {}),
    disabledCommands: mode === "none" ? ["STARTTLS"] : [],
    authOptional: !options.requireAuth,
    hideENHANCEDSTATUSCODES: true,
    disableReverseLookup: true,
    logger: false,
    socketTimeout: 30_000,
    closeTimeout: 1_000,
    onConnect(session: SMTPServerSession, callback) {
      stats.opened++;
      stats.open++;
      stats.maxOpen = Math.max(stats.maxOpen, stats.open);
      stats.sessionIds.add(session.id);
      remotes.set(session.id, { address: session.remoteAddress, port: session.remotePort });
      callback();
    },
    onClose() {
      stats.open--;
    },
    onAuth(auth, session, callback) {
      const user = auth.username ?? "";
      const pass = auth.password ?? "";
      auths.push({ session: session.id, method: auth.method, user, pass, secure: session.secure });
      if (user === credentials.user && pass === credentials.pass) return callback(null, { user });
      callback(refuse(535, "5.7.8 Authentication credentials invalid"));
    },
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback) {
      rcpts.push({ session: session.id, address: address.address });
      const own = answer("rcpt", [address.address]);
      if (own) return callback(own);
      const local = address.address.toLowerCase();
      if (local.includes("bounce")) return callback(refuse(550, `5.1.1 <${address.address}>: Recipient address rejected: User unknown`));
      if (local.includes("soft")) return callback(refuse(451, "4.7.1 Greylisted, try again later"));
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const rcptTo = session.envelope.rcptTo.map((r) => r.address);
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
        const user = typeof session.user === "string" ? session.user : undefined;
        const message: Received = { session: session.id, mailFrom, rcptTo, raw: Buffer.concat(chunks), secure: session.secure, user };
        if (rcptTo.some((r) => r.includes("drop"))) {
          received.push(message); // it arrived; the answer never leaves
          for (const connection of server.connections) if (connection.id === session.id) connection._socket.destroy();
          return;
        }
        stats.busy++;
        stats.maxBusy = Math.max(stats.maxBusy, stats.busy);
        const reply = () => {
          stats.busy--;
          const own = answer("data", rcptTo);
          if (own) return callback(own);
          if (rcptTo.some((r) => r.includes("block"))) return callback(refuse(554, "5.7.1 Message rejected as spam by policy"));
          received.push(message);
          callback(null, `2.0.0 Ok: queued as ${randomBytes(5).toString("hex").toUpperCase()}`);
        };
        if (fixture.holdMs > 0) {
          const timer = setTimeout(() => {
            timers.delete(timer);
            reply();
          }, fixture.holdMs);
          timers.add(timer);
        } else reply();
      });
    },
  });
  server.on("error", () => {}); // client sockets cut on purpose
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    host,
    port,
    caPem: offered.cert,
    received,
    rcpts,
    auths,
    stats,
    remotes,
    get holdMs() {
      return fixture.holdMs;
    },
    set holdMs(ms: number) {
      fixture.holdMs = ms;
    },
    reset() {
      received.length = 0;
      rcpts.length = 0;
      auths.length = 0;
      stats.opened = 0;
      stats.maxOpen = stats.open;
      stats.maxBusy = stats.busy;
      stats.sessionIds.clear();
    },
    cut() {
      for (const connection of server.connections) connection._socket.destroy();
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      for (const connection of server.connections) connection._socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Test SMTP settings: quick timeouts, everything else as in production unless given. */
export function smtpConfig(overrides: Partial<SmtpConfig> = {}): SmtpConfig {
  return {
    heloName: "bridge.lasthop.test",
    directPort: 25,
    idleMs: 30_000,
    maxPerDomain: 5,
    maxPerAccount: 20,
    timeoutMs: 5_000,
    ...overrides,
  };
}

export function testConfig(smtp: Partial<SmtpConfig> = {}): Config {
  return { host: "127.0.0.1", port: 0, secret: SECRET, apns: null, smtp: smtpConfig(smtp), logLevel: "silent", shutdownTimeoutMs: 5_000 };
}

/** An RFC 5322 message with CRLF line ends, as the edge composes it. */
export function rawMessage(opts: { from?: string; to: string; subject?: string; body?: string; extraHeaders?: string[] }): string {
  const id = randomBytes(6).toString("hex");
  const headers = [
    `From: Lasthop Tests <${opts.from ?? "news@mail.example.com"}>`,
    `To: <${opts.to}>`,
    `Subject: ${opts.subject ?? "Hello from the relay"}`,
    "Date: Tue, 03 Nov 2026 10:00:00 +0000",
    `Message-ID: <${id}@mail.example.com>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    ...(opts.extraHeaders ?? []),
  ];
  const body = opts.body ?? "Hi,\r\n\r\nthis is a test message.\r\n.leading dot line\r\n\r\n-- \r\nlasthop\r\n";
  return `${headers.join("\r\n")}\r\n\r\n${body}`;
}

/** One smtpBatch item. */
export function smtpItem(fields: {
  rcptTo: string;
  relay: Record<string, unknown>;
  account?: string;
  raw?: string;
  dkim?: Record<string, unknown> | Array<Record<string, unknown>>;
  id?: string;
}): Record<string, unknown> {
  const id = fields.id ?? randomUUID();
  return {
    id,
    account: fields.account ?? "acct_test",
    mailFrom: `bounce+${id}@bounces.example.com`,
    rcptTo: fields.rcptTo,
    raw: fields.raw ?? rawMessage({ to: fields.rcptTo }),
    ...(fields.dkim ? { dkim: fields.dkim } : {}),
    relay: fields.relay,
  };
}

/** Smarthost relay settings for a fixture. */
export function smarthost(fixture: Pick<SmtpFixture, "host" | "port">, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mode: "smarthost", host: fixture.host, port: fixture.port, secure: false, requireTLS: true, ...extra };
}

export function dnsError(code: string): Error {
  return Object.assign(new Error(`query failed: ${code}`), { code });
}

/**
 * An in-memory DNS for direct mode: `mx` per domain (records, or an error code to throw),
 * `addresses` per host name (absent: ENOTFOUND). Records every query in order.
 */
export function fakeResolver(zone: {
  mx: Record<string, MxRecord[] | string>;
  addresses: Record<string, string[]>;
}): SmtpResolver & { queries: string[] } {
  const queries: string[] = [];
  return {
    queries,
    async resolveMx(domain) {
      queries.push(`MX ${domain}`);
      const answer = zone.mx[domain];
      if (answer === undefined) throw dnsError("ENOTFOUND");
      if (typeof answer === "string") throw dnsError(answer);
      return answer;
    },
    async resolveAddresses(host) {
      queries.push(`A ${host}`);
      const answer = zone.addresses[host];
      if (answer === undefined) throw dnsError("ENOTFOUND");
      return answer;
    },
  };
}
