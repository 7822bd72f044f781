/**
 * Wires one bridge instance from a validated configuration: logger, metrics, the APNs pool
 * and provider token, the SMTP relay (pool and sender), the HTTP server, the inbound SMTP
 * server and the SMPP routes when they are configured. main.ts adds the process concerns (environment, signals, exit
 * codes); tests start bridges in-process through `startBridge`.
 */
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { Http2Pool } from "./apns/pool.ts";
import { ApnsSender } from "./apns/send.ts";
import { ProviderTokens } from "./apns/token.ts";
import { APNS_PRODUCTION_ORIGIN, APNS_SANDBOX_ORIGIN } from "../../src/core/apns.ts";
import { smtpDefaults, type Config } from "./config.ts";
import { createLogger } from "./log.ts";
import { createMetrics, type Metrics } from "./metrics.ts";
import { createBridgeServer } from "./server.ts";
import { systemResolver, type SmtpResolver } from "./smtp/dns.ts";
import { InboundSmtpServer } from "./smtp/inbound.ts";
import { SmtpPool } from "./smtp/pool.ts";
import { SmtpSender } from "./smtp/send.ts";
import { StsPolicies } from "./smtp/mta-sts.ts";
import { edgeStsCache } from "./smtp/sts-edge.ts";
import { TlsReports, tlsSessionReport } from "./smtp/tls-reports.ts";
import { SignPool } from "./smtp/sign-pool.ts";
import { SmppService, type SmppHealth } from "./smpp/service.ts";

export type Bridge = {
  url: string;
  metrics: Metrics;
  pool: Http2Pool | null;
  tokens: ProviderTokens | null;
  /** The SMTP relay's connection pool (always present: the relay needs no credentials). */
  smtpPool: SmtpPool;
  /** Where the inbound SMTP server listens; null when it is not configured (INBOUND_DOMAINS, EDGE_URL). */
  inbound: { host: string; port: number } | null;
  /** The SMPP routes (binds, windows, DLR/MO forwarding); null when SMPP_ROUTES is not set. */
  smpp: { service: SmppService; health(): SmppHealth; close(ms: number): Promise<void> } | null;
  /** Batch requests being handled now. */
  inFlight(): number;
  /**
   * Graceful stop: refuse new connections, let in-flight batches finish (bounded by
   * `shutdownTimeoutMs`), then close the APNs sessions and the SMTP connections. The inbound SMTP
   * server stops at once too: inbound messages in flight get the edge's answer within the same
   * bound, then its connections get 421. SMPP: after the in-flight batches, each session waits
   * for its outstanding submit responses and the DLR/MO hand-offs in flight (same bound), then
   * unbinds and closes. Safe to call more than once.
   */
  close(): Promise<void>;
};

export type BridgeOptions = {
  log?: Logger;
  /** Clock for provider tokens and signature tolerance (tests). */
  now?: () => number;
  /** DNS for direct (MX) SMTP delivery; default: node:dns/promises. Tests inject their own. */
  smtpResolver?: SmtpResolver;
};

function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, ms));
  });
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}

export async function startBridge(config: Config, options: BridgeOptions = {}): Promise<Bridge> {
  const log = options.log ?? createLogger(config.logLevel);
  let pool: Http2Pool | null = null;
  let tokens: ProviderTokens | null = null;
  const smtpConfig = config.smtp ?? smtpDefaults();
  const smtpPool = new SmtpPool({
    heloName: smtpConfig.heloName,
    maxPerHost: smtpConfig.maxPerDomain,
    idleMs: smtpConfig.idleMs,
    timeoutMs: smtpConfig.timeoutMs,
    ...(smtpConfig.ca ? { ca: smtpConfig.ca } : {}),
    log,
  });
  let smppService: SmppService | null = null;
  const metrics = createMetrics(
    () => pool?.sessionCounts() ?? {},
    () => smtpPool.connectionCounts(),
    () => smppService?.bindCounts() ?? {},
  );
  if (config.smpp) {
    smppService = new SmppService({ ...config.smpp, secret: config.secret, log, metrics });
  }
  const smppActive = smppService;
  // DKIM signatures are made on threads of their own (sign-pool.ts); 0 threads signs inline.
  const dkimThreads = smtpConfig.dkimThreads ?? 0;
  const signPool = dkimThreads > 0 ? new SignPool({ threads: dkimThreads, log }) : null;
  const smtpResolver = options.smtpResolver ?? systemResolver(smtpConfig.timeoutMs, smtpConfig.dnsServers);
  // The edge, when the bridge has one: the shared MTA-STS cache and where TLS-RPT sessions go.
  const edgeUrl = config.inbound?.edgeUrl ?? config.smpp?.edgeUrl;
  const sts =
    smtpConfig.mtaSts !== false
      ? new StsPolicies({
          resolver: smtpResolver,
          port: smtpConfig.mtaStsPort ?? 443,
          timeoutMs: smtpConfig.timeoutMs,
          ...(smtpConfig.ca ? { ca: smtpConfig.ca } : {}),
          ...(edgeUrl ? { shared: edgeStsCache({ edgeUrl, secret: config.secret, log }) } : {}),
          log,
        })
      : undefined;
  // TLS-RPT: sessions go to the edge, which reports them daily (RFC 8460), when the bridge has one.
  const tlsReports = sts && edgeUrl ? new TlsReports({ edgeUrl, secret: config.secret, log, metrics }) : null;
  const smtp = new SmtpSender({
    ...(signPool ? { signer: signPool } : {}),
    ...(sts ? { sts } : {}),
    onTlsSession: (session) => {
      metrics.tlsSessions.inc({ mode: session.mode, result: session.result });
      if (session.result !== "success") log.warn(session, "mta-sts: a session failed its policy's checks");
      tlsReports?.add(tlsSessionReport(session, sts?.cached(session.domain)));
    },
    pool: smtpPool,
    resolver: smtpResolver,
    directPort: smtpConfig.directPort,
    maxPerDomain: smtpConfig.maxPerDomain,
    maxPerAccount: smtpConfig.maxPerAccount,
    timeoutMs: smtpConfig.timeoutMs,
    log,
    metrics,
  });
  let sender: ApnsSender | null = null;

  if (config.apns) {
    const apns = config.apns;
    pool = new Http2Pool({
      sessionsPerOrigin: apns.sessionsPerOrigin,
      requestTimeoutMs: apns.requestTimeoutMs,
      pingIntervalMs: apns.pingIntervalMs,
      ...(apns.ca ? { ca: apns.ca } : {}),
      log,
    });
    tokens = new ProviderTokens({
      key: apns.key,
      keyId: apns.keyId,
      teamId: apns.teamId,
      refreshAfterMs: apns.tokenRefreshMs,
      ...(options.now ? { now: options.now } : {}),
      onRefresh: (why) => {
        metrics.tokenRefreshes.inc();
        log.info({ why, keyId: apns.keyId, teamId: apns.teamId }, "apns provider token signed");
      },
    });
    sender = new ApnsSender({ pool, tokens, productionOrigin: apns.productionOrigin, sandboxOrigin: apns.sandboxOrigin, log, metrics });
  } else {
    // No key of its own: the bridge still carries what accounts sign with their own keys (the
    // edge mints their tokens), to Apple's origins with the default pool settings.
    pool = new Http2Pool({ sessionsPerOrigin: 2, requestTimeoutMs: 10_000, pingIntervalMs: 60_000, log });
    sender = new ApnsSender({
      pool,
      tokens: null,
      productionOrigin: APNS_PRODUCTION_ORIGIN,
      sandboxOrigin: APNS_SANDBOX_ORIGIN,
      log,
      metrics,
    });
  }

  const activePool = pool;
  const bridge = createBridgeServer({
    secret: config.secret,
    log,
    metrics,
    apns:
      sender && activePool
        ? {
            send: (items, batch) => sender.send(items, batch.credentials),
            sessionCounts: () => activePool.sessionCounts(),
            defaultKey: tokens !== null,
          }
        : null,
    smtp: { send: (items) => smtp.send(items), connectionCounts: () => smtpPool.connectionCounts() },
    smpp: smppActive ? { send: (items) => smppActive.send(items), health: () => smppActive.health() } : null,
    ...(options.now ? { now: options.now } : {}),
  });
  const { server } = bridge;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => log.error({ err: error }, "http server error"));
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  let inboundServer: InboundSmtpServer | null = null;
  let inbound: Bridge["inbound"] = null;
  if (config.inbound) {
    inboundServer = new InboundSmtpServer({
      ...config.inbound,
      secret: config.secret,
      heloName: smtpConfig.heloName,
      shutdownTimeoutMs: config.shutdownTimeoutMs,
      log,
      metrics,
    });
    try {
      inbound = await inboundServer.listen();
    } catch (error) {
      // Typically EADDRINUSE on INBOUND_SMTP_PORT: undo what started, the caller reports it.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([pool?.close(500), smtp.close(500), signPool?.close(), tlsReports?.close(0)]);
      throw error;
    }
    log.info(
      {
        host: inbound.host,
        port: inbound.port,
        domains: config.inbound.domains,
        edge: config.inbound.edgeUrl,
        tls: config.inbound.tls !== undefined,
      },
      "inbound smtp listening",
    );
  }

  if (smppActive) {
    smppActive.start(); // binds come up in the background and keep retrying on their own
    log.info({ routes: smppActive.health().routes, edge: config.smpp?.edgeUrl }, "smpp routes binding");
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const deadline = Date.now() + config.shutdownTimeoutMs;
      const remaining = () => deadline - Date.now();
      bridge.drain(); // answers from now on end their connection
      const inboundClosed = inboundServer?.close(remaining()); // no new sessions; messages in flight get their answer
      const allClosed = new Promise<void>((resolve) => server.close(() => resolve())); // stop accepting
      server.closeIdleConnections();
      if (!(await within(bridge.idle(), remaining()))) {
        log.warn({ inFlight: bridge.inFlight() }, "shutdown timeout: abandoning in-flight batches (the edge's queue retries them)");
      }
      // Answered connections close after their response (Connection: close); cut the rest.
      server.closeIdleConnections();
      if (!(await within(allClosed, Math.min(remaining(), 1_000)))) server.closeAllConnections();
      await Promise.all([
        pool?.close(Math.max(remaining(), 500)),
        // Signing threads end after the relay: what it still sends was signed before it closed.
        smtp.close(Math.max(remaining(), 500)).then(() => signPool?.close()),
        smppActive?.close(Math.max(remaining(), 500)),
        inboundClosed,
      ]);
      // The last sessions of this process, after the deliveries that made them.
      await tlsReports?.close(Math.max(remaining(), 500));
    })();
    return closing;
  };

  const smpp: Bridge["smpp"] = smppActive
    ? { service: smppActive, health: () => smppActive.health(), close: (ms) => smppActive.close(ms) }
    : null;
  return { url: `http://${host}:${address.port}`, metrics, pool, tokens, smtpPool, inbound, smpp, inFlight: bridge.inFlight, close };
}
