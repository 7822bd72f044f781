/**
 * A pool of HTTP/2 sessions per origin, the way Apple asks providers to talk to APNs: keep a
 * few long-lived connections open and multiplex many requests on each, instead of a TLS
 * handshake per notification.
 *
 * - Sessions are kept apart per credential (`partition`: the team and key of the provider
 *   token): APNs supports no tokens of more than one team on one connection, and a connection
 *   that sees another key's token counts as a token change (TooManyProviderTokenUpdates).
 * - Up to `sessionsPerOrigin` sessions per origin and partition, opened on demand. A request goes to the
 *   ready session with the fewest active streams that is still below the limit the peer
 *   advertised (SETTINGS_MAX_CONCURRENT_STREAMS, read live: APNs may change it). When every
 *   session is full, requests wait in a bounded FIFO queue until a stream frees. Under load
 *   (SPREAD_STREAMS or more on even the least busy session) the next session is opened before
 *   the others fill, so the load spreads over connections instead of queueing on one.
 * - A session that receives GOAWAY, errors, loses its socket or fails a PING is taken out of
 *   the pool at once; the next request opens a fresh one.
 * - Never sent twice once APNs answered: a request is re-sent (once, on another session) only
 *   when it got no response headers AND the failure proves or strongly implies it was not
 *   processed: the stream is above the GOAWAY's last-stream-id, the peer reset it with
 *   REFUSED_STREAM, it never left (no stream id / the session refused new streams), or the
 *   connection was lost. "Response headers received" is the stream's `response` event
 *   (final, non-1xx HEADERS); from then on the answer is final, even if the body is cut off
 *   or the deadline passes (the caller gets the status with `incomplete: true`).
 * - One deadline per request covers queueing, both attempts and the response: when it passes
 *   the request fails with reason `timeout` (the send layer answers `retry`) and the stream is
 *   cancelled.
 */
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { rootCertificates } from "node:tls";
import type { Logger } from "pino";

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;

/** Waiting requests per origin beyond which new ones fail fast (the edge retries them). */
export const MAX_QUEUE = 10_000;
/** Active streams on the least busy session at which the next session (up to the cap) is opened. */
export const SPREAD_STREAMS = 100;
/** After a session failed to come up, no extra session is opened for load alone for this long. */
const SPREAD_PAUSE_MS = 5_000;
/** APNs error bodies are a few dozen bytes; anything bigger is cut off. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export type PoolOptions = {
  sessionsPerOrigin: number;
  requestTimeoutMs: number;
  /** 0 turns keep-alive pings off. */
  pingIntervalMs: number;
  /** Extra CA (PEM) trusted in addition to Node's default roots. */
  ca?: string;
  /**
   * A session of an account's credential (a non-empty partition) with no stream for this long
   * is closed, so a bridge serving many accounts keeps connections only for those sending.
   * The bridge's own sessions stay open, as Apple asks. Default 10 minutes; 0 keeps them all.
   */
  partitionIdleMs?: number;
  log?: Logger;
};

export type PoolResponse = {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** True when the headers arrived but the body did not complete (deadline, reset, socket loss). */
  incomplete?: boolean;
};

export type TransportReason = "timeout" | "transport" | "queue_full" | "closed";

/** A request that got no answer from the peer. */
export class TransportError extends Error {
  override name = "TransportError";
  readonly reason: TransportReason;
  constructor(reason: TransportReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

type Entry = {
  id: number;
  /** The pool it belongs to (its origin and partition). */
  pool: OriginPool;
  origin: string;
  /** The credential this session carries tokens of ("" for the bridge's own key). */
  partition: string;
  session: ClientHttp2Session;
  /** True once the peer's SETTINGS arrived: only then is its stream limit known. */
  ready: boolean;
  /** Out of the pool (GOAWAY, error, close, failed ping): no new streams. */
  retired: boolean;
  active: number;
  goawayLastStreamId?: number;
  /** Why the session failed, for the error of the requests it strands. */
  failure?: string;
  pingTimer?: NodeJS.Timeout;
  idleTimer?: NodeJS.Timeout;
};

type Waiter = { resolve: (entry: Entry) => void; reject: (error: Error) => void };

/** Per-request state shared by the queue wait and the attempts: one deadline for all. */
type Deadline = { expired: boolean; onExpire: (() => void) | null };

type Attempt = { ok: true; response: PoolResponse } | { ok: false; retryable: boolean; error: TransportError };

class OriginPool {
  readonly origin: string;
  readonly partition: string;
  readonly sessions: Entry[] = [];
  readonly waiters: Waiter[] = [];
  /** performance.now() before which load alone opens no session (one failed to come up). */
  spreadPausedUntil = 0;
  constructor(origin: string, partition: string) {
    this.origin = origin;
    this.partition = partition;
  }
}

export class Http2Pool {
  readonly #options: PoolOptions;
  readonly #ca: string[] | undefined;
  readonly #origins = new Map<string, OriginPool>();
  /** Every session not yet closed, retired or not, so close() can wait for all of them. */
  readonly #open = new Set<Entry>();
  #nextId = 1;
  #closed = false;

  constructor(options: PoolOptions) {
    this.#options = options;
    // `ca` replaces Node's trust store, so the extra CA is appended to the default roots.
    this.#ca = options.ca ? [...rootCertificates, options.ca] : undefined;
  }

  /** Ready sessions per origin, every partition added up (for /healthz and the bridge_apns_sessions gauge: no team ids in labels). */
  sessionCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const pool of this.#origins.values()) {
      counts[pool.origin] = (counts[pool.origin] ?? 0) + pool.sessions.filter((e) => e.ready && !e.retired).length;
    }
    return counts;
  }

  /** Sends one request; resolves with the peer's answer or rejects with a `TransportError`. */
  async request(origin: string, path: string, headers: Record<string, string>, body: string, partition = ""): Promise<PoolResponse> {
    if (this.#closed) throw new TransportError("closed", "the APNs pool is closed");
    const deadline: Deadline = { expired: false, onExpire: null };
    const timer = setTimeout(() => {
      deadline.expired = true;
      deadline.onExpire?.();
    }, this.#options.requestTimeoutMs);
    try {
      for (let attempt = 1; ; attempt++) {
        const entry = await this.#acquire(origin, partition, deadline);
        const result = await this.#attempt(entry, path, headers, body, deadline);
        if (result.ok) return result.response;
        if (result.retryable && attempt === 1 && !deadline.expired && !this.#closed) {
          this.#options.log?.debug(
            { origin, path, session: entry.id, error: result.error.message },
            "apns request not processed by the peer: retrying on another session",
          );
          continue;
        }
        throw result.error;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes every session gracefully (open streams finish), destroying what is left after `timeoutMs`. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.#closed = true;
    for (const pool of this.#origins.values()) {
      for (const waiter of pool.waiters.splice(0)) waiter.reject(new TransportError("closed", "the APNs pool is closing"));
    }
    // Every session still in #open has yet to emit 'close' (it leaves #open on that event).
    const entries = [...this.#open];
    const closing = entries.map((entry) => new Promise<void>((resolve) => entry.session.once("close", () => resolve())));
    for (const entry of entries) this.#retire(entry);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const late = await Promise.race([Promise.all(closing).then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) for (const entry of this.#open) entry.session.destroy();
  }

  #originPool(origin: string, partition: string): OriginPool {
    const key = `${partition}\n${origin}`;
    let pool = this.#origins.get(key);
    if (!pool) {
      pool = new OriginPool(origin, partition);
      this.#origins.set(key, pool);
    }
    return pool;
  }

  /** The peer's current stream limit; before its SETTINGS arrive a session is not used at all. */
  #limit(entry: Entry): number {
    return entry.session.remoteSettings?.maxConcurrentStreams ?? 100;
  }

  #pick(pool: OriginPool): Entry | undefined {
    let best: Entry | undefined;
    for (const entry of pool.sessions) {
      if (!entry.ready || entry.retired || entry.session.closed || entry.session.destroyed) continue;
      if (entry.active >= this.#limit(entry)) continue;
      if (!best || entry.active < best.active) best = entry;
    }
    return best;
  }

  /** A session with a free stream, now or when one frees; the stream is counted as taken. */
  #acquire(origin: string, partition: string, deadline: Deadline): Promise<Entry> {
    if (this.#closed) return Promise.reject(new TransportError("closed", "the APNs pool is closed"));
    const pool = this.#originPool(origin, partition);
    if (pool.waiters.length === 0) {
      const entry = this.#pick(pool);
      if (entry) {
        this.#take(entry);
        if (entry.active >= SPREAD_STREAMS && performance.now() >= pool.spreadPausedUntil) this.#spread(pool);
        return Promise.resolve(entry);
      }
    }
    if (pool.waiters.length >= MAX_QUEUE) {
      return Promise.reject(new TransportError("queue_full", `${MAX_QUEUE} requests already wait for an APNs stream`));
    }
    return new Promise<Entry>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (entry) => {
          deadline.onExpire = null;
          resolve(entry);
        },
        reject: (error) => {
          deadline.onExpire = null;
          reject(error);
        },
      };
      pool.waiters.push(waiter);
      deadline.onExpire = () => {
        const at = pool.waiters.indexOf(waiter);
        if (at >= 0) pool.waiters.splice(at, 1);
        waiter.reject(new TransportError("timeout", "no APNs stream became free before the request deadline"));
      };
      this.#drain(pool);
    });
  }

  /** Hands free streams to waiters in FIFO order; opens a session when they cannot all be served. */
  #drain(pool: OriginPool): void {
    let last: Entry | undefined;
    while (pool.waiters.length > 0) {
      const entry = this.#pick(pool);
      if (!entry) break;
      this.#take(entry);
      last = entry;
      pool.waiters.shift()!.resolve(entry);
    }
    if (pool.waiters.length > 0 || (last && last.active >= SPREAD_STREAMS && performance.now() >= pool.spreadPausedUntil))
      this.#spread(pool);
  }

  /** Opens one more session if the cap allows and none is connecting. */
  #spread(pool: OriginPool): void {
    if (this.#closed) return;
    const connecting = pool.sessions.some((e) => !e.ready && !e.retired);
    // One connection attempt at a time per origin: no thundering herd of handshakes, and a
    // failing origin is not hammered.
    if (!connecting && pool.sessions.length < this.#options.sessionsPerOrigin) this.#connect(pool);
  }

  #connect(pool: OriginPool): void {
    const log = this.#options.log;
    const session = http2.connect(pool.origin, {
      ...(this.#ca ? { ca: this.#ca } : {}),
      settings: { enablePush: false },
    });
    const entry: Entry = {
      id: this.#nextId++,
      pool,
      origin: pool.origin,
      partition: pool.partition,
      session,
      ready: false,
      retired: false,
      active: 0,
    };
    pool.sessions.push(entry);
    this.#open.add(entry);
    // The handshake and the peer's SETTINGS must arrive within one request timeout.
    const connectTimer = setTimeout(() => {
      if (!entry.ready) session.destroy(new Error("timed out waiting for the APNs handshake and SETTINGS"));
    }, this.#options.requestTimeoutMs);

    session.on("remoteSettings", (settings) => {
      if (!entry.ready) {
        entry.ready = true;
        clearTimeout(connectTimer);
        this.#startPing(entry);
        log?.info({ origin: pool.origin, session: entry.id, maxConcurrentStreams: settings.maxConcurrentStreams }, "apns session open");
      }
      // A raised limit frees streams; a lowered one is honoured by #pick from now on.
      this.#drain(pool);
    });
    session.on("goaway", (errorCode: number, lastStreamID: number) => {
      entry.goawayLastStreamId = lastStreamID;
      if (!entry.retired)
        log?.info({ origin: pool.origin, session: entry.id, errorCode, lastStreamID }, "apns session got GOAWAY: retiring it");
      this.#retire(entry);
    });
    session.on("error", (error: Error) => {
      entry.failure ??= error.message;
      log?.warn({ origin: pool.origin, session: entry.id, error: error.message }, "apns session error");
      this.#retire(entry);
    });
    session.on("close", () => {
      clearTimeout(connectTimer);
      this.#retire(entry);
      this.#open.delete(entry);
      log?.debug({ origin: pool.origin, session: entry.id }, "apns session closed");
    });
  }

  /** Takes a session out of the pool; it finishes its open streams (or dies) on its own. */
  #retire(entry: Entry): void {
    if (entry.retired) return;
    entry.retired = true;
    clearInterval(entry.pingTimer);
    clearTimeout(entry.idleTimer);
    const pool = entry.pool;
    const at = pool.sessions.indexOf(entry);
    if (at >= 0) pool.sessions.splice(at, 1);
    if (!entry.session.closed && !entry.session.destroyed) {
      try {
        entry.session.close();
      } catch {
        entry.session.destroy();
      }
    }
    // A connection that never became usable fails the waiters unless another session can
    // serve them: they were never sent, so the edge's queue retries them later. Reconnecting
    // here instead would hammer an origin that is down until every deadline passed.
    if (!entry.ready) pool.spreadPausedUntil = performance.now() + SPREAD_PAUSE_MS;
    if (!entry.ready && !pool.sessions.some((e) => e.ready && !e.retired)) {
      const why = entry.failure ? `: ${entry.failure}` : "";
      for (const waiter of pool.waiters.splice(0))
        waiter.reject(new TransportError("transport", `cannot connect to ${entry.origin}${why}`));
    }
    this.#drain(pool);
  }

  /** Counts a stream as taken on `entry`; a session in use is not idle. */
  #take(entry: Entry): void {
    entry.active++;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
  }

  /** The last stream of an account's session closed: retire the session if none opens for a while. */
  #idle(entry: Entry): void {
    const ms = this.#options.partitionIdleMs ?? 10 * 60_000;
    if (entry.partition === "" || ms <= 0 || entry.retired) return;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (entry.active !== 0 || entry.retired) return;
      this.#options.log?.debug({ origin: entry.origin, session: entry.id }, "apns session of an account idle: closing it");
      this.#retire(entry);
    }, ms);
    entry.idleTimer.unref();
  }

  /** PING keep-alive: a ping that fails or is not answered within the request timeout kills the session. */
  #startPing(entry: Entry): void {
    const interval = this.#options.pingIntervalMs;
    if (interval <= 0) return;
    let waiting = false;
    entry.pingTimer = setInterval(() => {
      if (waiting || entry.retired) return;
      waiting = true;
      const timeout = setTimeout(
        () => {
          this.#options.log?.warn({ origin: entry.origin, session: entry.id }, "apns PING not answered: closing the session");
          entry.session.destroy(new Error("PING timeout"));
        },
        Math.min(this.#options.requestTimeoutMs, interval),
      );
      const done = (error: Error | null) => {
        clearTimeout(timeout);
        waiting = false;
        if (error && !entry.session.destroyed) {
          this.#options.log?.warn(
            { origin: entry.origin, session: entry.id, error: error.message },
            "apns PING failed: closing the session",
          );
          entry.session.destroy(error);
        }
      };
      try {
        if (!entry.session.ping(done)) done(new Error("too many outstanding PINGs"));
      } catch (error) {
        done(error as Error);
      }
    }, interval);
    entry.pingTimer.unref();
  }

  /** One try on one session. Settles exactly once; releases the stream slot when the stream closes. */
  #attempt(entry: Entry, path: string, headers: Record<string, string>, body: string, deadline: Deadline): Promise<Attempt> {
    return new Promise<Attempt>((resolve) => {
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        entry.active--;
        if (entry.active === 0) this.#idle(entry);
        this.#drain(entry.pool);
      };
      if (deadline.expired) {
        release();
        resolve({ ok: false, retryable: false, error: new TransportError("timeout", "APNs did not answer before the request deadline") });
        return;
      }
      let stream: ClientHttp2Stream;
      try {
        stream = entry.session.request({ ":method": "POST", ":path": path, ...headers });
      } catch (error) {
        // The session refused to open a stream (closing after GOAWAY, destroyed): nothing was sent.
        release();
        this.#retire(entry);
        resolve({ ok: false, retryable: true, error: new TransportError("transport", (error as Error).message) });
        return;
      }

      let response: IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const answer = (incomplete: boolean): Attempt => ({
        ok: true,
        response: {
          status: Number(response![":status"]),
          headers: response!,
          body: Buffer.concat(chunks).toString("utf8"),
          ...(incomplete ? { incomplete: true } : {}),
        },
      });
      const settle = (result: Attempt) => {
        if (settled) return;
        settled = true;
        deadline.onExpire = null;
        resolve(result);
      };

      deadline.onExpire = () => {
        // Past the deadline: an answer already received still stands; otherwise give up.
        settle(
          response
            ? answer(true)
            : { ok: false, retryable: false, error: new TransportError("timeout", "APNs did not answer before the request deadline") },
        );
        if (!stream.closed) stream.close(NGHTTP2_CANCEL);
      };

      stream.on("response", (h) => {
        response = h;
      });
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        else if (!stream.closed) stream.close(NGHTTP2_CANCEL);
      });
      stream.on("end", () => {
        // Node also ends the readable side when the connection dies mid-body; only a stream
        // that ended without a reset code got its whole body.
        const cut = (stream.rstCode ?? NGHTTP2_NO_ERROR) !== NGHTTP2_NO_ERROR || entry.session.destroyed;
        if (response) settle(answer(cut || size > MAX_RESPONSE_BYTES));
      });
      stream.on("error", () => {
        // Reported through 'close' below, where the stream's fate is known.
      });
      stream.on("close", () => {
        release();
        if (settled) return;
        if (response) return settle(answer(true));
        const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM;
        const neverSent = stream.id === undefined;
        const aboveGoaway = entry.goawayLastStreamId !== undefined && (stream.id ?? Infinity) > entry.goawayLastStreamId;
        const connectionLost = entry.session.destroyed;
        const retryable = refused || neverSent || aboveGoaway || connectionLost;
        // A session that refuses streams is not trusted with the retry: it goes too.
        if (refused) this.#retire(entry);
        const why = refused
          ? "stream refused (REFUSED_STREAM)"
          : aboveGoaway
            ? "stream above the GOAWAY last-stream-id"
            : connectionLost
              ? "connection lost"
              : neverSent
                ? "stream never opened"
                : `stream reset (code ${stream.rstCode})`;
        settle({ ok: false, retryable, error: new TransportError("transport", `no answer from APNs: ${why}`) });
      });
      stream.end(body);
    });
  }
}
