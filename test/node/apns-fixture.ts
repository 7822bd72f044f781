/**
 * Test helpers for the bridge: a small APNs-like HTTP/2 TLS server and the bits to drive a
 * bridge against it. The fixture checks provider tokens with node:crypto directly (not jose,
 * which the bridge signs with), answers by device token, and can misbehave on purpose:
 * GOAWAY after n streams, or drop the socket after n requests. It records what it received
 * and, separately, which apns-ids it *answered*: the never-sent-twice rule is checked on that.
 */
import { createHash, generateKeyPairSync, verify as verifySignature, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2, { type Http2Session, type ServerHttp2Stream } from "node:http2";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SECRET } from "./fixtures/signed.ts";
import { makeCertificate } from "./fixtures/tls.ts";
import type { Config } from "../../bridge/src/config.ts";

export { SECRET, signedPost } from "./fixtures/signed.ts";

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

export const KEY_ID = "ABC123DEFG";
export const TEAM_ID = "TEAM123456";

/** How the fixture answers one device token (default: 200). */
export type Behavior = {
  status?: number;
  reason?: string;
  timestamp?: number;
  retryAfter?: string;
  holdMs?: number;
  /** Answer only when the test calls release(). */
  hold?: boolean;
  /** Send the response headers, then drop the connection ("drop") or never finish the body ("stall"). */
  afterHeaders?: "drop" | "stall";
};

export type FixtureOptions = {
  /** SETTINGS_MAX_CONCURRENT_STREAMS advertised to the client. */
  maxConcurrentStreams?: number;
  /** Once: at the n-th stream of a session, GOAWAY(last-stream-id = that stream) and refuse the streams above it. */
  goawayAfterStreams?: number;
  /** Once: at the n-th request (over all sessions), stop answering on that session and destroy its socket. */
  destroyAfterRequests?: number;
  /** Public key the provider tokens must verify with (403 InvalidProviderToken otherwise). */
  publicKey?: KeyObject;
};

export type Received = {
  apnsId: string;
  deviceToken: string;
  jwt: string;
  headers: http2.IncomingHttpHeaders;
  body: string;
  session: number;
};

export type ApnsFixture = {
  origin: string;
  caFile: string;
  caPem: string;
  received: Received[];
  answered: string[];
  behaviors: Map<string, Behavior>;
  /** Provider tokens the fixture answers with 403 ExpiredProviderToken. */
  expiredTokens: Set<string>;
  /** Answers the requests kept by `hold` behaviors; returns how many. */
  release(): number;
  stats: { sessions: number; maxActivePerSession: number; refusedStreams: number; pings: number; goaways: number; destroyed: number };
  reset(): void;
  close(): Promise<void>;
};

/** A hex device token (32 bytes) named after a label, so tests can read which is which. */
export function deviceToken(label: string): string {
  return createHash("sha256").update(label).digest("hex");
}

/** A fresh APNs-style key: PKCS#8 P-256, as Apple's .p8 files are. */
export function makeApnsKey(): { pem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { pem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), publicKey };
}

function jwtProblem(jwt: string, publicKey: KeyObject): string | undefined {
  const parts = jwt.split(".");
  if (parts.length !== 3) return "not a JWT";
  const [h, p, s] = parts as [string, string, string];
  const header = JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
  if (header.alg !== "ES256" || header.kid !== KEY_ID) return "bad header";
  if (claims.iss !== TEAM_ID || typeof claims.iat !== "number") return "bad claims";
  const ok = verifySignature(
    "sha256",
    Buffer.from(`${h}.${p}`),
    { key: publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(s, "base64url"),
  );
  return ok ? undefined : "bad signature";
}

type SessionState = { id: number; streams: number; active: number; goawayLast?: number; doomed: boolean; remotePort?: number };

export async function startApnsFixture(options: FixtureOptions = {}): Promise<ApnsFixture> {
  const dir = mkdtempSync(join(tmpdir(), "lasthop-apns-fixture-"));
  const keyFile = join(dir, "key.pem");
  const caFile = join(dir, "cert.pem");
  const certificate = makeCertificate();
  writeFileSync(keyFile, certificate.key);
  writeFileSync(caFile, certificate.cert);
  const caPem = certificate.cert;

  const received: Received[] = [];
  const answered: string[] = [];
  const behaviors = new Map<string, Behavior>();
  const expiredTokens = new Set<string>();
  const stats = { sessions: 0, maxActivePerSession: 0, refusedStreams: 0, pings: 0, goaways: 0, destroyed: 0 };
  const sessions = new Set<Http2Session>();
  const sockets = new Map<number, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let held: Array<() => void> = [];
  let goawayDone = false;
  let destroyDone = false;
  let requests = 0;

  const server = http2.createSecureServer({
    key: readFileSync(keyFile),
    cert: caPem,
    settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? 50 },
  });
  // The raw TLS socket (by client port), so "socket loss" is a dropped connection, not a GOAWAY.
  server.on("secureConnection", (socket: Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.on("close", () => sockets.delete(port));
  });

  const states = new WeakMap<Http2Session, SessionState>();
  server.on("session", (session) => {
    stats.sessions++;
    sessions.add(session);
    const remotePort = session.socket?.remotePort;
    states.set(session, { id: stats.sessions, streams: 0, active: 0, doomed: false, ...(remotePort !== undefined ? { remotePort } : {}) });
    session.on("ping", () => stats.pings++);
    session.on("error", () => {});
    session.on("close", () => sessions.delete(session));
  });

  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  function dropConnection(session: Http2Session): void {
    stats.destroyed++;
    const port = states.get(session)?.remotePort;
    const socket = port !== undefined ? sockets.get(port) : undefined;
    if (socket) socket.destroy();
    else session.destroy();
  }

  function answer(stream: ServerHttp2Stream, apnsId: string, b: Behavior): void {
    if (stream.closed || stream.destroyed) return;
    // A session about to drop answers nothing more, so every answer written reaches the client.
    if (stream.session && states.get(stream.session)?.doomed) return;
    const status = b.status ?? 200;
    const headers: http2.OutgoingHttpHeaders = { ":status": status, "apns-id": apnsId };
    if (b.retryAfter) headers["retry-after"] = b.retryAfter;
    answered.push(apnsId);
    if (b.afterHeaders) {
      stream.respond(headers); // headers only: the body never completes
      if (b.afterHeaders === "drop") later(50, () => dropConnection(stream.session!));
      return;
    }
    if (status === 200) {
      stream.respond(headers, { endStream: true });
      return;
    }
    stream.respond({ ...headers, "content-type": "application/json" });
    stream.end(JSON.stringify({ reason: b.reason, ...(b.timestamp !== undefined ? { timestamp: b.timestamp } : {}) }));
  }

  server.on("stream", (stream, headers) => {
    stream.on("error", () => {});
    const session = stream.session!;
    const state = states.get(session)!;
    state.streams++;
    state.active++;
    stats.maxActivePerSession = Math.max(stats.maxActivePerSession, state.active);
    stream.on("close", () => state.active--);

    if (options.goawayAfterStreams !== undefined && !goawayDone && state.streams === options.goawayAfterStreams) {
      goawayDone = true;
      stats.goaways++;
      state.goawayLast = stream.id;
      session.goaway(NGHTTP2_NO_ERROR, stream.id!);
    }
    if (state.goawayLast !== undefined && stream.id! > state.goawayLast) {
      stats.refusedStreams++;
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }

    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const path = String(headers[":path"]);
      const apnsId = String(headers["apns-id"]);
      const jwt = String(headers.authorization ?? "").replace(/^bearer /, "");
      const token = path.replace(/^\/3\/device\//, "");
      received.push({ apnsId, deviceToken: token, jwt, headers, body: Buffer.concat(chunks).toString(), session: state.id });
      requests++;
      if (state.doomed) return; // the connection is about to drop: this one is never answered
      if (options.destroyAfterRequests !== undefined && !destroyDone && requests === options.destroyAfterRequests) {
        destroyDone = true;
        state.doomed = true;
        // Answers already written reach the client first; then the connection drops.
        later(100, () => dropConnection(session));
        return;
      }
      if (headers[":method"] !== "POST" || !path.startsWith("/3/device/"))
        return answer(stream, apnsId, { status: 404, reason: "BadPath" });
      if (expiredTokens.has(jwt)) return answer(stream, apnsId, { status: 403, reason: "ExpiredProviderToken" });
      if (options.publicKey && jwtProblem(jwt, options.publicKey))
        return answer(stream, apnsId, { status: 403, reason: "InvalidProviderToken" });
      const b = behaviors.get(token) ?? {};
      if (b.hold) held.push(() => answer(stream, apnsId, b));
      else if (b.holdMs) later(b.holdMs, () => answer(stream, apnsId, b));
      else answer(stream, apnsId, b);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    origin: `https://127.0.0.1:${port}`,
    caFile,
    caPem,
    received,
    answered,
    behaviors,
    expiredTokens,
    release() {
      const answers = held;
      held = [];
      for (const answerNow of answers) answerNow();
      return answers.length;
    },
    stats,
    reset() {
      held = [];
      received.length = 0;
      answered.length = 0;
      behaviors.clear();
      expiredTokens.clear();
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.destroy();
      await closed;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A bridge configuration for in-process tests, pointed at a fixture. */
export function testConfig(
  fixture: Pick<ApnsFixture, "origin" | "caPem"> | null,
  key: string,
  apns: Partial<NonNullable<Config["apns"]>> = {},
): Config {
  return {
    host: "127.0.0.1",
    port: 0,
    secret: SECRET,
    logLevel: "silent",
    shutdownTimeoutMs: 5_000,
    apns: fixture
      ? {
          key,
          keyId: KEY_ID,
          teamId: TEAM_ID,
          productionOrigin: fixture.origin,
          sandboxOrigin: fixture.origin,
          ...(fixture.caPem ? { ca: fixture.caPem } : {}),
          sessionsPerOrigin: 2,
          requestTimeoutMs: 5_000,
          pingIntervalMs: 60_000,
          tokenRefreshMs: 50 * 60_000,
          ...apns,
        }
      : null,
  };
}

/** One APNs batch item. */
export function item(label: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: crypto.randomUUID(),
    token: deviceToken(label),
    topic: "dev.lasthop.app",
    pushType: "alert",
    payload: { aps: { alert: label } },
    ...extra,
  };
}

/** Writes a file into a fresh temp dir; returns its path and a cleanup. */
export function tempFile(name: string, content: string): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "lasthop-bridge-"));
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
