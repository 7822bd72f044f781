/**
 * SMTP connections (nodemailer's `smtp-connection`), pooled per destination and reused across
 * items and across batches, the way an MTA's connection cache works:
 *
 * - A pool key is host:port + TLS mode + AUTH user (and a hash of the password): only
 *   connections set up exactly the same way are shared.
 * - At most `maxPerHost` connections per key (connecting, busy or idle). When all are busy a
 *   delivery waits in a bounded FIFO queue for one to come back (or for a place to open one),
 *   for at most `timeoutMs`.
 * - A connection taken from the idle list is probed with RSET first (Postfix does the same
 *   with its cached sessions): that clears any leftover transaction state and finds connections
 *   the server dropped while idle. A failed probe discards the connection and the delivery
 *   takes another, so a stale connection never costs a message. Not probed: one whose last
 *   transaction completed within CLEAN_REUSE_MS (back to back under load).
 * - Idle connections are closed (QUIT) after `idleMs`; a connection is retired after
 *   `maxMessagesPerConnection` transactions. A connection that errors, times out, or whose
 *   server answered 421 is discarded, never reused.
 * - Setting up a connection (TCP, greeting, EHLO, STARTTLS, AUTH) is bounded by `timeoutMs`.
 *
 * TLS: `implicit` is TLS from the first byte (smarthost `secure: true`). `starttls` upgrades
 * when the server offers STARTTLS; with `requireTLS` a session that stays in plaintext is
 * refused before anything is sent (`TlsRequiredError`). `verify: false` is opportunistic TLS
 * (RFC 7435) for direct delivery to MX hosts, whose certificates are commonly self-signed or
 * for another name: it encrypts against passive observers but does not authenticate.
 */
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import { checkServerIdentity, rootCertificates, type TLSSocket } from "node:tls";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import type { Logger } from "pino";
import { MAX_WAITING } from "./limits.ts";

/** Transactions on one connection before it is retired. */
export const MAX_MESSAGES_PER_CONNECTION = 100;
/** How long a QUIT may take before the socket is cut. */
const QUIT_TIMEOUT_MS = 2_000;
/** How long the RSET probe of an idle connection may take. */
const PROBE_TIMEOUT_MS = 10_000;
/**
 * A connection whose last transaction completed (250 after DATA) less than this long ago goes
 * out again without the RSET probe: its session has no transaction state left, and a server
 * that drops it this soon is rare. Under load that saves one round trip in five per message.
 */
export const CLEAN_REUSE_MS = 1_000;

export type Endpoint = {
  /** Pool key: connections are shared only between identical endpoints. */
  key: string;
  /** host:port, for logs, metrics and healthz. */
  label: string;
  /** Where to connect: an IP address (direct mode resolves the MX itself) or a host name. */
  host: string;
  port: number;
  /** The name the certificate is checked against (and SNI), when `host` is an address. */
  servername?: string;
  tls: "implicit" | "starttls";
  /** STARTTLS mode only: refuse the session unless it is under TLS before MAIL FROM. */
  requireTLS: boolean;
  /** Verify the server certificate (smarthost); false = opportunistic TLS (direct MX delivery). */
  verify: boolean;
  auth?: { user: string; pass: string };
  /** The local address outbound connections bind to (the message's IP pool); absent: the system's choice. */
  localAddress?: string;
};

export type PoolOptions = {
  heloName: string;
  maxPerHost: number;
  idleMs: number;
  timeoutMs: number;
  /** Extra trusted CA (PEM) for verified TLS, added to Node's roots. */
  ca?: string;
  maxMessagesPerConnection?: number;
  log?: Logger;
};

/** The session could not be set up (TCP, greeting, TLS handshake, timeout): nothing was sent. */
export class ConnectError extends Error {
  override name = "ConnectError";
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

/** `requireTLS` and the server did not offer STARTTLS (or did not upgrade): nothing was sent. */
export class TlsRequiredError extends Error {
  override name = "TlsRequiredError";
}

/** The server refused our credentials. `responseCode` is its reply code (535, 454, …) when there is one. */
export class AuthError extends Error {
  override name = "AuthError";
  readonly responseCode: number | undefined;
  readonly response: string | undefined;
  constructor(message: string, responseCode?: number, response?: string) {
    super(message);
    this.responseCode = responseCode;
    this.response = response;
  }
}

export class PoolQueueFullError extends Error {
  override name = "PoolQueueFullError";
}

export class PoolClosedError extends Error {
  override name = "PoolClosedError";
}

type Pooled = {
  id: number;
  endpoint: Endpoint;
  conn: SMTPConnection;
  messages: number;
  /** performance.now() when it came back after a completed transaction; unset after anything else. */
  cleanAt?: number;
  /** Gone: errored, closed by either side, or retired. */
  gone: boolean;
  idleTimer?: NodeJS.Timeout;
};

type HostState = { open: number; idle: Pooled[]; waiting: Array<() => void> };

/** A delivery waited longer than `timeoutMs` for a connection to a host at its cap: nothing was sent. */
export class PoolWaitTimeoutError extends Error {
  override name = "PoolWaitTimeoutError";
}

export type Lease = {
  connection: SMTPConnection;
  /** Pool-wide connection number (logs, tests). */
  connectionId: number;
  /** True when the connection carried a message before. */
  reused: boolean;
  /**
   * Give the connection back. `reusable: false` (a connection error, a timeout, a 421) closes it;
   * otherwise it goes back to the idle list (or is retired when it has carried enough messages).
   * `clean`: the transaction completed (250 after DATA), so the next one may skip the RSET probe.
   */
  release(reusable: boolean, clean?: boolean): void;
  /**
   * Whether this session's TLS would pass a verifying client for `hostname` (MTA-STS testing
   * mode asks this of an opportunistic session): the chain against the pool's trust store, then
   * the name. `code` is Node's verification code when it would not.
   */
  verifyTls(hostname: string): { ok: true } | { ok: false; code: string; reason: string };
};

type SmtpErrorLike = Error & { code?: string; responseCode?: number; response?: string };

/**
 * Runs one nodemailer step (connect, login, reset) as a promise. Their callbacks are not called
 * when the connection fails in between (the failure is only emitted as "error", or the
 * connection just ends), so those settle the promise too.
 */
export function step(conn: SMTPConnection, start: (done: (error?: Error | null) => void) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => finish(error);
    const onEnd = () => finish(Object.assign(new Error("the connection closed"), { code: "ECONNECTION" }));
    const finish = (error?: Error | null) => {
      conn.off("error", onError);
      conn.off("end", onEnd);
      if (error) reject(error);
      else resolve();
    };
    conn.once("error", onError);
    conn.once("end", onEnd);
    start(finish);
  });
}

/** Where a pool key keeps the password: a short hash, never the password itself. */
export function endpointKey(parts: {
  mode: string;
  host: string;
  port: number;
  tls: string;
  user?: string;
  pass?: string;
  localAddress?: string | undefined;
}): string {
  const secret = parts.pass === undefined ? "" : createHash("sha256").update(parts.pass).digest("base64url").slice(0, 16);
  // A connection bound to one source address never carries another's mail (its pool's reputation).
  return [parts.mode, `${parts.host.toLowerCase()}:${parts.port}`, parts.tls, parts.user ?? "", secret, parts.localAddress ?? ""].join("|");
}

export class SmtpPool {
  readonly #options: PoolOptions;
  readonly #hosts = new Map<string, HostState>();
  /** Every open connection (connecting, busy or idle), for counts and shutdown. */
  readonly #all = new Set<Pooled>();
  readonly #ca: string[] | undefined;
  #nextId = 1;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#ca = options.ca ? [...rootCertificates, options.ca] : undefined;
  }

  get #maxMessages(): number {
    return this.#options.maxMessagesPerConnection ?? MAX_MESSAGES_PER_CONNECTION;
  }

  /** Open connections per host:port (connecting, busy and idle). */
  connectionCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const pooled of this.#all) counts[pooled.endpoint.label] = (counts[pooled.endpoint.label] ?? 0) + 1;
    return counts;
  }

  /** Total open connections. */
  size(): number {
    return this.#all.size;
  }

  /**
   * A ready connection to `endpoint`: an idle one that passes its RSET probe, or a new one
   * (connected, under TLS if required, authenticated). Waits when `maxPerHost` are busy.
   * Throws ConnectError, TlsRequiredError, AuthError, PoolQueueFullError, PoolWaitTimeoutError
   * or PoolClosedError.
   */
  async acquire(endpoint: Endpoint): Promise<Lease> {
    const waitUntil = Date.now() + this.#options.timeoutMs;
    for (;;) {
      if (this.#closed) throw new PoolClosedError("the SMTP pool is closed (shutting down)");
      const state = this.#state(endpoint.key);
      const idle = state.idle.pop(); // most recently used first: the others may age out
      if (idle) {
        clearTimeout(idle.idleTimer);
        idle.idleTimer = undefined;
        const fresh = idle.cleanAt !== undefined && performance.now() - idle.cleanAt < CLEAN_REUSE_MS;
        idle.cleanAt = undefined;
        if ((fresh && !idle.gone) || (await this.#probe(idle))) return this.#lease(idle, true);
        continue; // discarded by the failed probe; try the next one
      }
      if (state.open < this.#options.maxPerHost) {
        state.open++;
        const pooled = await this.#open(endpoint, state); // on failure the place is given back inside
        return this.#lease(pooled, false);
      }
      if (state.waiting.length >= MAX_WAITING) {
        throw new PoolQueueFullError(`over ${MAX_WAITING} deliveries wait for a connection to ${endpoint.label}`);
      }
      const woken = await new Promise<boolean>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve(true);
        };
        const timer = setTimeout(
          () => {
            const at = state.waiting.indexOf(wake);
            if (at >= 0) state.waiting.splice(at, 1);
            resolve(false);
          },
          Math.max(0, waitUntil - Date.now()),
        );
        state.waiting.push(wake);
      });
      if (!woken) throw new PoolWaitTimeoutError(`no connection to ${endpoint.label} came free within ${this.#options.timeoutMs} ms`);
    }
  }

  /**
   * Stops handing out connections, sends QUIT on idle ones, waits (up to `ms`) for busy ones
   * to come back, then cuts whatever is left. Safe to call more than once.
   */
  async close(ms: number): Promise<void> {
    this.#closed = true;
    for (const state of this.#hosts.values()) {
      for (const pooled of state.idle.splice(0)) this.#retire(pooled);
      for (const wake of state.waiting.splice(0)) wake(); // they see #closed and throw
    }
    const deadline = Date.now() + Math.max(0, ms);
    while (this.#all.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const pooled of this.#all) this.#discard(pooled);
  }

  #state(key: string): HostState {
    let state = this.#hosts.get(key);
    if (!state) {
      state = { open: 0, idle: [], waiting: [] };
      this.#hosts.set(key, state);
    }
    return state;
  }

  #tlsOptions(endpoint: Endpoint): Record<string, unknown> {
    // The trust store is given to unverified sessions too: `authorized` on their socket then says
    // what a verifying client would have concluded (Lease.verifyTls).
    if (!endpoint.verify)
      return {
        rejectUnauthorized: false,
        ...(this.#ca ? { ca: this.#ca } : {}),
        ...(endpoint.servername ? { servername: endpoint.servername } : {}),
      };
    return {
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
      ...(this.#ca ? { ca: this.#ca } : {}),
      ...(endpoint.servername ? { servername: endpoint.servername } : {}),
    };
  }

  #connection(endpoint: Endpoint): SMTPConnection {
    const { timeoutMs, heloName } = this.#options;
    return new SMTPConnection({
      host: endpoint.host,
      port: endpoint.port,
      ...(endpoint.localAddress ? { localAddress: endpoint.localAddress } : {}),
      ...(endpoint.servername && !isIP(endpoint.servername) ? { servername: endpoint.servername } : {}),
      secure: endpoint.tls === "implicit",
      // TLS is enforced in #open, after EHLO, so that "not offered" is told apart from "failed".
      requireTLS: false,
      ignoreTLS: false,
      // A server that answers STARTTLS with an error gets the message in plaintext, unless TLS is required.
      opportunisticTLS: !endpoint.requireTLS,
      name: heloName,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
      // Inactivity of a busy connection; idle ones are closed by our own timer first.
      socketTimeout: Math.max(timeoutMs, this.#options.idleMs) + 5_000,
      socketCloseTimeout: QUIT_TIMEOUT_MS,
      tls: this.#tlsOptions(endpoint),
      logger: false,
    });
  }

  /** Connects (and logs in); the place in `state.open` is already taken and is given back on failure. */
  async #open(endpoint: Endpoint, state: HostState): Promise<Pooled> {
    const { timeoutMs, log } = this.#options;
    let conn: SMTPConnection;
    try {
      conn = this.#connection(endpoint);
    } catch (error) {
      state.open--;
      state.waiting.shift()?.();
      throw new ConnectError((error as Error).message);
    }
    const pooled: Pooled = { id: this.#nextId++, endpoint, conn, messages: 0, gone: false };
    this.#all.add(pooled);
    // An SMTPConnection emits "error" for any failure, also while idle: without a listener
    // that would crash the process. The pool only needs to know the connection is gone.
    conn.on("error", (error) => {
      log?.debug({ connection: pooled.id, host: endpoint.label, error: error.message }, "smtp connection error");
      this.#gone(pooled);
    });
    conn.on("end", () => this.#gone(pooled));
    const started = Date.now();
    try {
      await this.#bounded(
        step(conn, (done) => conn.connect(done)),
        timeoutMs,
        conn,
        `connecting to ${endpoint.label}`,
      );
      if (endpoint.tls === "starttls" && endpoint.requireTLS && !conn.secure) {
        throw new TlsRequiredError(`${endpoint.label} does not offer STARTTLS and TLS is required`);
      }
      if (endpoint.auth) {
        const auth = endpoint.auth;
        await this.#bounded(
          step(conn, (done) => conn.login({ user: auth.user, pass: auth.pass }, done)),
          Math.max(1, timeoutMs - (Date.now() - started)),
          conn,
          `authenticating to ${endpoint.label}`,
        ).catch((error: SmtpErrorLike) => {
          if (error.responseCode !== undefined || error.code === "EAUTH")
            throw new AuthError(error.message, error.responseCode, error.response);
          throw error;
        });
      }
    } catch (error) {
      this.#discard(pooled);
      if (error instanceof TlsRequiredError || error instanceof AuthError) throw error;
      const e = error as SmtpErrorLike & { originalCode?: string };
      // nodemailer files a handshake's verification error (CERT_HAS_EXPIRED, …) under its own
      // code and keeps the original as originalCode: MTA-STS needs the original.
      throw new ConnectError(e.message, e.originalCode ?? e.code);
    }
    log?.debug(
      { connection: pooled.id, host: endpoint.label, secure: conn.secure, authenticated: conn.authenticated },
      "smtp connection open",
    );
    return pooled;
  }

  /** Races `promise` against `ms`; on timeout the connection is closed and a timeout error thrown. */
  #bounded<T>(promise: Promise<T>, ms: number, conn: SMTPConnection, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        conn.close();
        reject(Object.assign(new Error(`${what}: timed out after ${ms} ms`), { code: "ETIMEDOUT" }));
      }, ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  /** RSET on an idle connection before it carries the next message: false (and discarded) if it fails. */
  async #probe(pooled: Pooled): Promise<boolean> {
    if (pooled.gone) return false;
    try {
      await this.#bounded(
        step(pooled.conn, (done) => pooled.conn.reset(done)),
        Math.min(this.#options.timeoutMs, PROBE_TIMEOUT_MS),
        pooled.conn,
        "RSET",
      );
      return true;
    } catch (error) {
      this.#options.log?.debug(
        { connection: pooled.id, host: pooled.endpoint.label, error: (error as Error).message },
        "smtp idle connection failed its RSET probe",
      );
      this.#discard(pooled);
      return false;
    }
  }

  #lease(pooled: Pooled, reused: boolean): Lease {
    pooled.messages++;
    let released = false;
    return {
      connection: pooled.conn,
      connectionId: pooled.id,
      reused,
      verifyTls: (hostname) => tlsVerdict(pooled.conn, hostname),
      release: (reusable, clean = false) => {
        if (released) return;
        released = true;
        if (clean) pooled.cleanAt = performance.now();
        if (!reusable || pooled.gone) return this.#discard(pooled);
        if (this.#closed || pooled.messages >= this.#maxMessages || this.#options.idleMs === 0) return this.#retire(pooled);
        const state = this.#state(pooled.endpoint.key);
        state.idle.push(pooled);
        pooled.idleTimer = setTimeout(() => {
          const at = state.idle.indexOf(pooled);
          if (at >= 0) state.idle.splice(at, 1);
          this.#retire(pooled);
        }, this.#options.idleMs);
        pooled.idleTimer.unref();
        state.waiting.shift()?.();
      },
    };
  }

  /** Polite close: QUIT, and cut the socket if the server does not answer it in time. */
  #retire(pooled: Pooled): void {
    if (pooled.gone) return;
    const conn = pooled.conn;
    this.#gone(pooled);
    try {
      conn.quit();
    } catch {
      conn.close();
      return;
    }
    setTimeout(() => conn.close(), QUIT_TIMEOUT_MS).unref();
  }

  /** Immediate close. */
  #discard(pooled: Pooled): void {
    if (pooled.gone) return;
    this.#gone(pooled);
    pooled.conn.close();
  }

  /** Bookkeeping when a connection leaves the pool, whatever the reason; runs once per connection. */
  #gone(pooled: Pooled): void {
    if (pooled.gone) return;
    pooled.gone = true;
    clearTimeout(pooled.idleTimer);
    this.#all.delete(pooled);
    const state = this.#hosts.get(pooled.endpoint.key);
    if (!state) return;
    const at = state.idle.indexOf(pooled);
    if (at >= 0) state.idle.splice(at, 1);
    state.open--;
    state.waiting.shift()?.(); // a place is free: the next waiter opens a connection
    if (state.open === 0 && state.waiting.length === 0) this.#hosts.delete(pooled.endpoint.key);
  }
}

/** The TLS socket under a nodemailer connection (it keeps it as `_socket`), when the session is under TLS. */
function tlsSocketOf(conn: SMTPConnection): TLSSocket | undefined {
  const socket = (conn as unknown as { _socket?: TLSSocket })._socket;
  return conn.secure && socket && typeof socket.getPeerCertificate === "function" ? socket : undefined;
}

function tlsVerdict(conn: SMTPConnection, hostname: string): { ok: true } | { ok: false; code: string; reason: string } {
  const socket = tlsSocketOf(conn);
  if (!socket) return { ok: false, code: "STARTTLS_NOT_SUPPORTED", reason: "the session is not under TLS" };
  if (!socket.authorized) {
    const error = socket.authorizationError as unknown as Error | string | null;
    const code = typeof error === "string" ? error : ((error as (Error & { code?: string }) | null)?.code ?? "UNABLE_TO_VERIFY");
    return { ok: false, code, reason: `certificate not trusted: ${code}` };
  }
  const mismatch = checkServerIdentity(hostname, socket.getPeerCertificate());
  if (mismatch)
    return { ok: false, code: (mismatch as Error & { code?: string }).code ?? "ERR_TLS_CERT_ALTNAME_INVALID", reason: mismatch.message };
  return { ok: true };
}
