/**
 * The bridge's HTTP API for the edge (node:http, no framework: five routes).
 *
 *   GET  /healthz         200 {ok: true, apns: {enabled, sessions: {origin: count}}, smtp: {connections: {host: count}},
 *                              smpp?: {enabled: true, routes: {name: {binds: [{host, port, systemId, mode, state}], up}}}}
 *                        (smpp only when SMPP_ROUTES is set)
 *   GET  /metrics         Prometheus text
 *   POST /v1/apns/send    Standard Webhooks-signed {items: [...]} → 200 {results: [...]}
 *   POST /v1/smtp/send    Standard Webhooks-signed {items: [...]} → 200 {results: [...]}
 *   POST /v1/smpp/send    Standard Webhooks-signed {items: [...]} → 200 {results: [...]} (503 without SMPP_ROUTES)
 *
 * A POST body is read whole (up to MAX_BODY_BYTES, else 413), its signature verified
 * BEFORE it is parsed (401 otherwise: an unauthenticated caller gets no parser and no APNs
 * or SMTP traffic), then validated with the shared `apnsBatch`/`smtpBatch` schema (400 with
 * one detail per issue; `smppBatch` for SMPP).
 * Errors are `{error: {code, message, details?}}` like the edge's API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { z } from "zod";
import { apnsBatch, BRIDGE_APNS_PATH, BRIDGE_SMPP_PATH, BRIDGE_SMTP_PATH, smppBatch, smtpBatch, type ApnsBatch, type SmppBatch, type SmtpBatch } from "../../src/core/bridge.ts";
import { verify, webhookHeaders } from "../../src/core/standard-webhooks.ts";
import type { ItemResult } from "./apns/send.ts";
import type { Metrics } from "./metrics.ts";

/** 1,000 APNs items of up to 5 KiB payload (VoIP) plus their fields fit; so do 200 typical messages. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export type ApnsService = {
  send(items: ApnsBatch["items"]): Promise<ItemResult[]>;
  sessionCounts(): Record<string, number>;
};

export type SmtpService = {
  send(items: SmtpBatch["items"]): Promise<ItemResult[]>;
  connectionCounts(): Record<string, number>;
};

export type SmppServiceApi = {
  send(items: SmppBatch["items"]): Promise<ItemResult[]>;
  health(): { routes: Record<string, unknown> };
};

export type ServerOptions = {
  secret: string;
  log: Logger;
  metrics: Metrics;
  /** null when APNs is not configured: the endpoint answers 503. */
  apns: ApnsService | null;
  /** The SMTP relay (always on in a bridge from app.ts; without it the endpoint answers 503). */
  smtp?: SmtpService | null;
  /** SMPP routes; null/absent when SMPP_ROUTES is not set: the endpoint answers 503. */
  smpp?: SmppServiceApi | null;
  /** Clock for signature tolerance (tests). */
  now?: () => number;
};

export type BridgeServer = {
  server: Server;
  /** Batch requests being handled. */
  inFlight(): number;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** From now on every response carries `Connection: close`, so connections end after their answer. */
  drain(): void;
};

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, details?: unknown[]): void {
  sendJson(res, status, { error: { code, message, ...(details ? { details } : {}) } });
}

/** Reads the body up to `limit` bytes; a larger one is refused before it is buffered. */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new HttpError(413, "payload_too_large", `the body is over ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new HttpError(413, "payload_too_large", `the body is over ${limit} bytes`));
        req.removeAllListeners("data");
        req.resume(); // discard the rest so the 413 can be written
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

export function createBridgeServer(options: ServerOptions): BridgeServer {
  const { log, metrics } = options;
  let inFlight = 0;
  let draining = false;
  let idleWaiters: Array<() => void> = [];
  /** Responses not yet sent, so drain() can mark those already in progress too. */
  const pending = new Set<ServerResponse>();

  /** Reads the body and checks its signature; false (401 sent) when it does not verify. */
  async function authenticated(req: IncomingMessage, res: ServerResponse): Promise<string | false> {
    const raw = await readBody(req, MAX_BODY_BYTES);
    const verdict = await verify(options.secret, webhookHeaders((name) => req.headers[name]), raw, options.now?.());
    if (!verdict.ok) {
      log.warn({ path: req.url, reason: verdict.reason }, "refused an unauthenticated request");
      sendError(res, 401, "unauthorized", verdict.reason);
      return false;
    }
    return raw;
  }

  /** Content type, JSON and schema of an authenticated body; undefined (415/400 sent) when wrong. */
  function parsed<T extends z.ZodType>(req: IncomingMessage, res: ServerResponse, raw: string, schema: T, what: string): z.infer<T> | undefined {
    const type = req.headers["content-type"];
    if (type !== undefined && !/^application\/json\b/i.test(type)) {
      sendError(res, 415, "unsupported_media_type", "the body must be application/json");
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      sendError(res, 400, "invalid_json", "the body is not valid JSON");
      return undefined;
    }
    const result = schema.safeParse(json);
    if (!result.success) {
      const details = result.error.issues.map((issue) => ({ path: issue.path.map(String).join("."), message: issue.message }));
      sendError(res, 400, "invalid_request", `the batch does not match the ${what} batch schema`, details);
      return undefined;
    }
    return result.data;
  }

  function answer(res: ServerResponse, channel: string, results: ItemResult[], started: number): void {
    const kinds: Record<string, number> = {};
    for (const r of results) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    log.info({ items: results.length, ...kinds, ms: Math.round(performance.now() - started) }, `${channel} batch`);
    sendJson(res, 200, { results });
  }

  async function apnsSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await authenticated(req, res);
    if (raw === false) return;
    if (!options.apns) return sendError(res, 503, "apns_not_configured", "APNs is not configured on this bridge (APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID)");
    const batch = parsed(req, res, raw, apnsBatch, "APNs");
    if (!batch) return;
    const started = performance.now();
    answer(res, "apns", await options.apns.send(batch.items), started);
  }

  async function smtpSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await authenticated(req, res);
    if (raw === false) return;
    if (!options.smtp) return sendError(res, 503, "smtp_not_configured", "the SMTP relay is not running on this bridge");
    const batch = parsed(req, res, raw, smtpBatch, "SMTP");
    if (!batch) return;
    const started = performance.now();
    answer(res, "smtp", await options.smtp.send(batch.items), started);
  }

  async function smppSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await authenticated(req, res);
    if (raw === false) return;
    if (!options.smpp) return sendError(res, 503, "smpp_not_configured", "SMPP is not configured on this bridge (SMPP_ROUTES, EDGE_URL)");
    const batch = parsed(req, res, raw, smppBatch, "SMPP");
    if (!batch) return;
    const started = performance.now();
    answer(res, "smpp", await options.smpp.send(batch.items), started);
  }

  /** One signed batch route: counted in flight (graceful shutdown waits for it). */
  async function batchRoute(req: IncomingMessage, res: ServerResponse, run: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<void> {
    if (req.method !== "POST") return sendError(res, 405, "method_not_allowed", "use POST");
    inFlight++;
    metrics.inFlight.inc();
    try {
      await run(req, res);
    } finally {
      inFlight--;
      metrics.inFlight.dec();
      if (inFlight === 0) {
        for (const wake of idleWaiters) wake();
        idleWaiters = [];
      }
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path === "/healthz") {
      if (req.method !== "GET" && req.method !== "HEAD") return sendError(res, 405, "method_not_allowed", "use GET");
      return sendJson(res, 200, {
        ok: true,
        apns: { enabled: options.apns !== null, sessions: options.apns?.sessionCounts() ?? {} },
        smtp: { connections: options.smtp?.connectionCounts() ?? {} },
        // Only when SMPP_ROUTES is set: the body of a bridge without SMPP stays as it was.
        ...(options.smpp ? { smpp: { enabled: true, routes: options.smpp.health().routes } } : {}),
      });
    }
    if (path === "/metrics") {
      if (req.method !== "GET") return sendError(res, 405, "method_not_allowed", "use GET");
      const text = await metrics.registry.metrics();
      res.writeHead(200, { "content-type": metrics.registry.contentType });
      res.end(text);
      return;
    }
    if (path === BRIDGE_APNS_PATH) return batchRoute(req, res, apnsSend);
    if (path === BRIDGE_SMTP_PATH) return batchRoute(req, res, smtpSend);
    if (path === BRIDGE_SMPP_PATH) return batchRoute(req, res, smppSend);
    sendError(res, 404, "not_found", `no route for ${req.method} ${path}`);
  }

  const server = createServer((req, res) => {
    if (draining) res.setHeader("connection", "close");
    pending.add(res);
    res.on("close", () => pending.delete(res));
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) {
        if (!res.headersSent) {
          res.setHeader("connection", "close"); // the rest of an oversized body is not read
          sendError(res, error.status, error.code, error.message);
        }
        return;
      }
      log.error({ err: error, path: req.url }, "request failed");
      if (!res.headersSent) sendError(res, 500, "internal_error", "the bridge failed to handle the request");
      else res.destroy();
    });
  });

  return {
    server,
    inFlight: () => inFlight,
    idle: () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    drain: () => {
      draining = true;
      for (const res of pending) if (!res.headersSent) res.setHeader("connection", "close");
    },
  };
}
