// Apple Push Notification service on loopback: the HTTP/2 provider API (`POST /3/device/<token>`
// over TLS), token-based authentication, Apple's request checks and reason strings, recorded
// deliveries, and connection-level faults (GOAWAY, a dropped socket) for the bridge's session pool.
//
// Device token bytes, read as latin1, steer the outcome:
//   "bounce" -> 410 Unregistered (with timestamp)   "bad"  -> 400 BadDeviceToken
//   "slow"   -> 429 TooManyRequests once, then 200  "down" -> 503 ServiceUnavailable, always
//   "hold"   -> 200 after a delay (keeps streams in flight for fault tests)
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import {
  constants,
  createSecureServer,
  type Http2SecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { TLSSocket } from "node:tls";
import { ProviderTokens, type ApnsKey, type ProviderTokenStats } from "./apns-auth.ts";
import {
  APNS_HEADER_NAMES,
  MAX_VOIP_PAYLOAD_BYTES,
  checkDeviceToken,
  checkHeaders,
  checkPayload,
  deviceTokenText,
  isCanonicalUuid,
  outcomeWord,
  type ApnsHeaders,
} from "./apns-rules.ts";
import { CappedSet } from "./capped.ts";
import { urlHost } from "./http.ts";
import type { ReceivedStore } from "./store.ts";

export type ApnsOptions = {
  /** How long a "hold" token's push waits before its 200. Default 300 ms. */
  holdMs?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to providers. Default 500. */
  maxConcurrentStreams?: number;
};

export type ApnsFaults = {
  /** After the n-th request from now: GOAWAY naming it as the last stream, then a graceful close. */
  goawayAfter?: number;
  /** After the n-th request from now: that connection's socket is destroyed, nothing answered. */
  destroyAfter?: number;
  /** Every n-th request from now (until faults change): GOAWAY on its connection, as goawayAfter, again and again. */
  goawayEvery?: number;
};

export type ApnsStats = {
  sessions: number;
  sessionsOpened: number;
  /** Pushes answered 200, per team whose provider token authenticated them. */
  acceptedByTeam: Record<string, number>;
} & ProviderTokenStats;

type SessionState = {
  /** The TLS socket under the session, for faults that must drop it without a GOAWAY. */
  socket: TLSSocket | null;
  /** Set once this session sent GOAWAY: streams above it are refused. */
  lastStreamId: number | null;
  /** Streams accepted and not yet closed. */
  open: number;
  /** The team whose token this connection carried first: APNs takes no other team's on it. */
  teamId: string | null;
};

export const DEFAULT_HOLD_MS = 300;
// APNs states its stream limit per connection in SETTINGS and may change it, so a provider must
// read it rather than assume one; 500 is only this sandbox's default.
export const DEFAULT_MAX_CONCURRENT_STREAMS = 500;
// Bounded: a stalled provider cannot hold a stream open for long.
const STREAM_TIMEOUT_MS = 30_000;
// Oversized bodies are drained for the 413, but only this far; past it the stream is reset.
const DRAIN_LIMIT = 64 * 1024;
const DEVICE_PATH = /^\/3\/device\/([^/?#]*)$/;
const MAX_NAME_BYTES = 24;
const DEVICE_TOKEN_BYTES = 32;

export class ApnsService {
  readonly #store: ReceivedStore;
  readonly #server: Http2SecureServer;
  readonly #tokens = new ProviderTokens();
  readonly #holdMs: number;
  readonly #sessions = new Map<Http2Session, SessionState>();
  /** Device tokens whose one 429 ("slow") has been served. */
  readonly #throttled = new CappedSet<string>();
  readonly #holds = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  #sessionsOpened = 0;
  #acceptedByTeam: Record<string, number> = {};
  #faults: ApnsFaults = {};
  #receivedSinceFaults = 0;
  /** The session whose socket the next 'secureConnection' listener call belongs to. */
  #unpaired: ServerHttp2Session | null = null;
  #origin: string | null = null;

  constructor(store: ReceivedStore, tls: { cert: string; key: string }, opts: ApnsOptions = {}) {
    this.#store = store;
    this.#holdMs = opts.holdMs ?? DEFAULT_HOLD_MS;
    this.#server = createSecureServer({
      cert: tls.cert,
      key: tls.key,
      // APNs speaks HTTP/2 only; a client that cannot negotiate h2 over ALPN is turned away.
      allowHTTP1: false,
      settings: { maxConcurrentStreams: opts.maxConcurrentStreams ?? DEFAULT_MAX_CONCURRENT_STREAMS },
    });
    this.#server.on("session", (session) => this.#onSession(session));
    // Node emits 'session' from its own 'secureConnection' listener, registered first; this one
    // runs right after it for the same socket, which pairs the two without reaching into Node's
    // internals (session.socket is a proxy that refuses destroy()).
    this.#server.on("secureConnection", (socket: TLSSocket) => {
      const session = this.#unpaired;
      this.#unpaired = null;
      const state = session === null ? undefined : this.#sessions.get(session);
      if (state !== undefined) state.socket = socket;
    });
    this.#server.on("stream", (stream, headers) => this.#onStream(stream, headers));
  }

  /** Starts listening and returns the origin, e.g. "https://127.0.0.1:8792". */
  async listen(host: string, port: number): Promise<string> {
    this.#server.listen(port, host);
    await once(this.#server, "listening");
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("APNs server has no TCP address");
    this.#origin = `https://${urlHost(host)}:${address.port}`;
    return this.#origin;
  }

  get origin(): string {
    if (this.#origin === null) throw new Error("APNs service is not listening");
    return this.#origin;
  }

  registerKey(key: ApnsKey): void {
    this.#tokens.register(key);
  }

  /**
   * A 32-byte device token (64 hex digits) whose bytes start with `name` in ASCII, so the name's
   * words pick the outcome. The random tail is redrawn until it adds no outcome word of its own.
   */
  createDeviceToken(name = ""): string {
    if (!/^[\x20-\x7e]*$/.test(name) || name.length > MAX_NAME_BYTES) {
      throw new Error(`name must be printable ASCII of at most ${MAX_NAME_BYTES} bytes`);
    }
    const prefix = Buffer.from(name, "latin1");
    for (;;) {
      const bytes = Buffer.concat([prefix, randomBytes(DEVICE_TOKEN_BYTES - prefix.length)]);
      if (outcomeWord(bytes.toString("latin1")) === outcomeWord(name)) return bytes.toString("hex");
    }
  }

  /** Arms faults (one-shot, or goawayEvery repeating), counted over requests received from now on (any session). */
  setFaults(faults: ApnsFaults): void {
    this.#faults = { ...faults };
    this.#receivedSinceFaults = 0;
  }

  expireTokens(): void {
    this.#tokens.expireAll();
  }

  stats(): ApnsStats {
    return {
      sessions: this.#sessions.size,
      sessionsOpened: this.#sessionsOpened,
      acceptedByTeam: { ...this.#acceptedByTeam },
      ...this.#tokens.stats(),
    };
  }

  /** Drops every connection at once (a pooled provider would otherwise keep close() waiting). */
  close(): Promise<void> {
    for (const hold of this.#holds) {
      clearTimeout(hold.timer);
      hold.resolve();
    }
    this.#holds.clear();
    for (const [session, state] of this.#sessions) {
      if (state.socket !== null) state.socket.destroy();
      session.destroy();
    }
    return new Promise((resolve, reject) => {
      if (!this.#server.listening) return resolve();
      this.#server.close((error) => (error ? reject(error) : resolve()));
    });
  }

  #onSession(session: ServerHttp2Session): void {
    this.#sessions.set(session, { socket: null, lastStreamId: null, open: 0, teamId: null });
    this.#sessionsOpened += 1;
    this.#unpaired = session;
    // Peers vanish and faults destroy sessions on purpose; neither is the sandbox's error.
    session.on("error", () => {});
    session.once("close", () => this.#sessions.delete(session));
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    // Resets by the peer, or by our own faults: the stream is simply not answered.
    stream.on("error", () => {});
    const session = stream.session;
    const state = session === undefined ? undefined : this.#sessions.get(session);
    const id = stream.id;
    if (session === undefined || state === undefined || id === undefined) return void stream.close(constants.NGHTTP2_REFUSED_STREAM);
    // RFC 9113 §6.8: streams above the GOAWAY's last stream id were not processed; saying so
    // with REFUSED_STREAM tells the provider they are safe to retry elsewhere.
    if (state.lastStreamId !== null && id > state.lastStreamId) return void stream.close(constants.NGHTTP2_REFUSED_STREAM);

    this.#receivedSinceFaults += 1;
    if (this.#faults.destroyAfter === this.#receivedSinceFaults) {
      delete this.#faults.destroyAfter;
      // A connection lost mid-flight: no GOAWAY, no RST_STREAM, no answers.
      if (state.socket !== null) state.socket.destroy();
      else session.destroy();
      return;
    }
    const every = this.#faults.goawayEvery;
    if (this.#faults.goawayAfter === this.#receivedSinceFaults || (every !== undefined && this.#receivedSinceFaults % every === 0)) {
      delete this.#faults.goawayAfter;
      state.lastStreamId = id;
      session.goaway(constants.NGHTTP2_NO_ERROR, id);
    }

    state.open += 1;
    stream.once("close", () => {
      state.open -= 1;
      // After GOAWAY, close once the streams it promised to process are done.
      if (state.lastStreamId !== null && state.open === 0 && !session.closed) session.close();
    });
    stream.setTimeout(STREAM_TIMEOUT_MS, () => stream.close(constants.NGHTTP2_CANCEL));
    this.#handle(stream, headers, state).catch(() => {
      if (!stream.closed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    });
  }

  async #handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: SessionState): Promise<void> {
    const body = await readStreamBody(stream, MAX_VOIP_PAYLOAD_BYTES);
    if (body === null) return;

    const sent = Object.fromEntries(APNS_HEADER_NAMES.map((name) => [name, header(headers, name)])) as ApnsHeaders;
    // "If you don't specify an apns-id field in your request, APNs creates a new UUID and returns it."
    const apnsId = sent["apns-id"] !== null && isCanonicalUuid(sent["apns-id"]) ? sent["apns-id"] : randomUUID();
    const reply = (status: number, reason?: string, extra: Record<string, unknown> = {}) => respond(stream, status, apnsId, reason, extra);

    if (headers[":method"] !== "POST") return void reply(405, "MethodNotAllowed");
    const path = DEVICE_PATH.exec(header(headers, ":path") ?? "");
    if (path === null) return void reply(404, "BadPath");
    const auth = this.#tokens.check(header(headers, "authorization") ?? undefined, session);
    if (!auth.ok) return void reply(auth.status, auth.reason);
    // "APNs doesn't support authentication tokens from multiple developer accounts over a single
    // connection." Apple documents no reason for it; providers report InvalidProviderToken.
    session.teamId ??= auth.teamId;
    if (session.teamId !== auth.teamId) return void reply(403, "InvalidProviderToken");

    // Past authentication, every answered request is recorded; unanswered ones (the provider
    // reset the stream, a fault dropped the connection) never reached a verdict and are not.
    const deviceToken = path[1]!;
    let payload: Record<string, unknown> | null = null;
    const answer = (status: number, outcome: string, reason?: string, extra?: Record<string, unknown>) => {
      if (reply(status, reason, extra)) {
        const credential = { teamId: auth.teamId, keyId: auth.keyId };
        this.#store.record({ channel: "apns", to: deviceToken, status, outcome, headers: sent, payload, credential });
        if (status === 200) this.#acceptedByTeam[auth.teamId] = (this.#acceptedByTeam[auth.teamId] ?? 0) + 1;
      }
    };

    const tokenProblem = checkDeviceToken(deviceToken);
    if (tokenProblem !== null) return answer(tokenProblem.status, "bad-token", tokenProblem.reason);
    const headerProblem = checkHeaders(sent);
    if (headerProblem !== null) return answer(headerProblem.status, "rejected", headerProblem.reason);
    const checked = checkPayload(body.bytes, body.oversized, sent["apns-push-type"]);
    if ("reason" in checked) return answer(checked.status, "rejected", checked.reason);
    payload = checked.payload;

    switch (outcomeWord(deviceTokenText(deviceToken))) {
      case "bounce":
        // "The device token is inactive for the specified topic"; timestamp is when APNs last
        // confirmed that, in milliseconds since the epoch.
        return answer(410, "gone", "Unregistered", { timestamp: Date.now() });
      case "bad":
        return answer(400, "bad-token", "BadDeviceToken");
      case "slow":
        if (!this.#throttled.has(deviceToken)) {
          this.#throttled.add(deviceToken);
          return answer(429, "throttled", "TooManyRequests");
        }
        return answer(200, "accepted");
      case "down":
        return answer(503, "unavailable", "ServiceUnavailable");
      case "hold":
        await this.#hold();
        return answer(200, "accepted");
      case null:
        return answer(200, "accepted");
    }
  }

  #hold(): Promise<void> {
    return new Promise((resolve) => {
      const hold = {
        timer: setTimeout(() => {
          this.#holds.delete(hold);
          resolve();
        }, this.#holdMs),
        resolve,
      };
      this.#holds.add(hold);
    });
  }
}

/** Answers with Apple's shape: `apns-id` always, a `{"reason": ...}` body on errors. False when the stream is gone. */
function respond(
  stream: ServerHttp2Stream,
  status: number,
  apnsId: string,
  reason: string | undefined,
  extra: Record<string, unknown>,
): boolean {
  if (stream.closed || stream.destroyed || stream.headersSent) return false;
  if (reason === undefined) {
    stream.respond({ ":status": status, "apns-id": apnsId }, { endStream: true });
    return true;
  }
  const text = JSON.stringify({ reason, ...extra });
  stream.respond({
    ":status": status,
    "apns-id": apnsId,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  stream.end(text);
  return true;
}

type StreamBody = { bytes: Buffer; oversized: boolean };

/** The body's first `limit + 1` bytes at most; null when the stream ends without one (reset, timeout, fault). */
function readStreamBody(stream: ServerHttp2Stream, limit: number): Promise<StreamBody | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let seen = 0;
    stream.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT) return void stream.close(constants.NGHTTP2_CANCEL);
      if (kept <= limit) {
        const take = chunk.subarray(0, limit + 1 - kept);
        chunks.push(take);
        kept += take.length;
      }
    });
    stream.once("end", () => resolve({ bytes: Buffer.concat(chunks), oversized: seen > limit }));
    stream.once("close", () => resolve(null));
  });
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name];
  return typeof value === "string" ? value : null;
}
