/**
 * The bridge's HTTP API for the edge: a Hono app on node:http (@hono/node-server), five routes.
 *
 *   GET  /healthz         200 {ok: true, apns: {enabled, sessions: {origin: count}}, smtp: {connections: {host: count}},
 *                              smpp?: {enabled: true, routes: {name: {binds: [{host, port, systemId, mode, state}], up}}}}
 *                        (smpp only when SMPP_ROUTES is set)
 *   GET  /metrics         Prometheus text
 *   POST /v1/apns/send    Standard Webhooks-signed {items: [...]} → 200 {results: [...]}
 *   POST /v1/smtp/send    Standard Webhooks-signed {items: [...]} → 200 {results: [...]}
 *   POST /v1/smpp/send    Standard Webhooks-signed {items: [...]} → 200 {results: [...]} (503 without SMPP_ROUTES)
 *
 * A POST body is read whole (up to MAX_BODY_BYTES, else 413: Hono's bodyLimit, declared or
 * streamed), its signature verified BEFORE it is parsed, with the key of its path (401 otherwise:
 * an unauthenticated caller, or a body signed for another door, gets no parser and no APNs, SMTP
 * or SMPP traffic), then 503 when that service is not
 * configured, then read as JSON (415/400) and validated with the shared
 * `apnsBatch`/`smtpBatch`/`smppBatch` schema (400 with one detail per issue).
 * Errors, the JSON reader and the signature check are the edge's own (src/core/http.ts):
 * `{error: {code, message, details}}`.
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Logger } from "pino";
import type { z } from "zod";
import {
  apnsBatch,
  BRIDGE_APNS_PATH,
  BRIDGE_SMPP_PATH,
  BRIDGE_SMTP_PATH,
  smppBatch,
  smtpBatch,
  type ApnsBatch,
  type ItemResult,
  type SmppBatch,
  type SmtpBatch,
} from "../../src/core/bridge.ts";
import { ApiError, assertSigned, errorBody, payloadTooLarge, readJson, validationError } from "../../src/core/http.ts";
import type { Metrics } from "./metrics.ts";

/** 1,000 APNs items of up to 5 KiB payload (VoIP) plus their fields fit; so do 200 typical messages. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export type ApnsService = {
  /** `batch`: the whole batch, whose `credentials` the items name. */
  send(items: ApnsBatch["items"], batch: ApnsBatch): Promise<ItemResult[]>;
  sessionCounts(): Record<string, number>;
  /** Whether the bridge has its own key (APNS_KEY) for items that carry no credential. */
  defaultKey?: boolean;
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

export function createBridgeServer(options: ServerOptions): BridgeServer {
  const { log, metrics } = options;
  let inFlight = 0;
  let draining = false;
  let idleWaiters: Array<() => void> = [];
  /** Responses not yet sent, so drain() can mark those already in progress too. */
  const pending = new Set<ServerResponse>();

  /** Batch requests are counted from their first byte to their answer: graceful shutdown waits for them. */
  const counted: MiddlewareHandler = async (_c, next) => {
    inFlight++;
    metrics.inFlight.inc();
    try {
      await next();
    } finally {
      inFlight--;
      metrics.inFlight.dec();
      if (inFlight === 0) {
        for (const wake of idleWaiters) wake();
        idleWaiters = [];
      }
    }
  };

  const limit = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw payloadTooLarge(MAX_BODY_BYTES);
    },
  });

  const app = new Hono();

  app.get("/healthz", (c) =>
    c.json({
      ok: true,
      // enabled: the bridge's own key is set; accounts' credentials are carried either way.
      apns: { enabled: options.apns !== null && options.apns.defaultKey !== false, sessions: options.apns?.sessionCounts() ?? {} },
      smtp: { connections: options.smtp?.connectionCounts() ?? {} },
      // Only when SMPP_ROUTES is set: the body of a bridge without SMPP stays as it was.
      ...(options.smpp ? { smpp: { enabled: true, routes: options.smpp.health().routes } } : {}),
    }),
  );
  app.get("/metrics", async (c) => c.body(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }));
  for (const path of ["/healthz", "/metrics"]) {
    app.all(path, () => {
      throw new ApiError(405, "method_not_allowed", "use GET");
    });
  }

  /** One signed batch route: signature, then whether the service runs, then JSON and schema. */
  function batchRoute<B extends { items: unknown[] }>(route: {
    path: string;
    channel: string;
    /** How the schema is named in a 400's message. */
    what: string;
    schema: z.ZodType<B>;
    service: { send(items: B["items"], batch: B): Promise<ItemResult[]> } | null | undefined;
    notConfigured: () => ApiError;
  }): void {
    const { path, channel, what, schema, service } = route;
    app.post(path, counted, limit, async (c) => {
      const raw = await c.req.text();
      await assertSigned(options.secret, path, c.req.raw.headers, raw, options.now?.());
      if (!service) throw route.notConfigured();
      const batch = schema.safeParse(readJson(c.req.raw.headers, raw));
      if (!batch.success) throw validationError(batch.error, `the batch does not match the ${what} batch schema`);
      const started = performance.now();
      const results = await service.send(batch.data.items, batch.data);
      const kinds: Record<string, number> = {};
      for (const r of results) kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
      log.info({ items: results.length, ...kinds, ms: Math.round(performance.now() - started) }, `${channel} batch`);
      return c.json({ results });
    });
    app.all(path, () => {
      throw new ApiError(405, "method_not_allowed", "use POST");
    });
  }

  batchRoute({
    path: BRIDGE_APNS_PATH,
    channel: "apns",
    what: "APNs",
    schema: apnsBatch,
    service: options.apns,
    notConfigured: () =>
      new ApiError(503, "apns_not_configured", "APNs is not configured on this bridge (APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID)"),
  });
  batchRoute({
    path: BRIDGE_SMTP_PATH,
    channel: "smtp",
    what: "SMTP",
    schema: smtpBatch,
    service: options.smtp,
    notConfigured: () => new ApiError(503, "smtp_not_configured", "the SMTP relay is not running on this bridge"),
  });
  batchRoute({
    path: BRIDGE_SMPP_PATH,
    channel: "smpp",
    what: "SMPP",
    schema: smppBatch,
    service: options.smpp,
    notConfigured: () => new ApiError(503, "smpp_not_configured", "SMPP is not configured on this bridge (SMPP_ROUTES, EDGE_URL)"),
  });

  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.status === 401) log.warn({ path: c.req.path, reason: err.message }, "refused an unauthenticated request");
      // The rest of an oversized body is not read: end the connection after the answer.
      const headers = err.status === 413 ? { ...err.headers, connection: "close" } : err.headers;
      return c.json(err.body(), err.status, headers);
    }
    log.error({ err, path: c.req.path }, "request failed");
    return c.json(errorBody("internal_error", "the bridge failed to handle the request"), 500);
  });

  // Our own Request/Response stay Node's: the adapter's lighter globals would change them for the whole process.
  const listener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  const server = createServer((req, res) => {
    if (draining) res.setHeader("connection", "close");
    pending.add(res);
    res.on("close", () => pending.delete(res));
    void listener(req, res);
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
