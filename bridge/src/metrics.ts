/**
 * Prometheus metrics (prom-client), served at GET /metrics. One registry per bridge instance
 * (not the global one) so tests can run several bridges in one process.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export type Metrics = {
  registry: Registry;
  /** Batch requests from the edge being handled right now (what graceful shutdown waits for). */
  inFlight: Gauge;
  /** Items handed to a next hop, counted once per item however many attempts it took. */
  sent: Counter<"channel">;
  outcomes: Counter<"channel" | "kind" | "reason">;
  apnsSessions: Gauge<"origin">;
  /** Time for one item, from the bridge taking it to its outcome (queueing, token, retries included). */
  requestDuration: Histogram<"channel">;
  tokenRefreshes: Counter;
  /** Open SMTP connections per destination (host:port), read from the pool at scrape time. */
  smtpConnections: Gauge<"host">;
  /** One SMTP attempt per item: from taking a pooled connection to the final reply, by result kind. */
  smtpTransactionDuration: Histogram<"kind">;
  /**
   * Messages that reached the end of DATA on the inbound SMTP server, by the reply they got:
   * `accepted` (250, the edge took them), `not_ours` (550, the edge refused the recipient),
   * `deferred` (451, the edge failed or did not answer), `too_large` (552).
   */
  inboundMessages: Counter<"outcome">;
  /** Bytes of those messages, by the same outcome. */
  inboundBytes: Counter<"outcome">;
  /** RCPT TO refused on the inbound SMTP server: `domain` (not a bounce domain), `too_many`, `shutdown`. */
  inboundRcptRefused: Counter<"reason">;
  /** SMPP binds per route and state (down, binding, up), read from the routes at scrape time. */
  smppBinds: Gauge<"route" | "state">;
  /**
   * submit_sm PDUs by what came of them: `accepted` (ESME_ROK), `failed` (a permanent status),
   * `throttled` (ESME_RTHROTTLED / ESME_RMSGQFUL), `retry` (another temporary status),
   * `timeout` (no response in time), `connection_lost` (the session ended before the response).
   */
  smppSubmits: Counter<"route" | "result">;
  /** Time from writing a submit_sm to its submit_sm_resp. */
  smppSubmitLatency: Histogram<"route">;
  /** submit_sm that had to wait for the route's rate (spacing, 1-second window or a throttle pause). */
  smppThrottleWaits: Counter<"route">;
  /** Direct SMTP sessions to domains with an MTA-STS policy, by mode and TLS-RPT result type (or success). */
  tlsSessions: Counter<"mode" | "result">;
  /** TLS-RPT sessions the bridge gave up on: `overflow` (the edge was away too long), `rejected` (the edge refused the batch). */
  tlsReportsDropped: Counter<"why">;
  /**
   * deliver_sm/data_sm handled, by kind (dlr, mo) and outcome: `forwarded` (the edge took it),
   * `rejected` (the edge refused it for good; acknowledged), `deferred` (ESME_RX_T_APPN: the SMSC
   * redelivers), `invalid` (unreadable; acknowledged and dropped).
   */
  smppInbound: Counter<"route" | "kind" | "outcome">;
};

/** Bind counts per route and state, for the `bridge_smpp_binds` gauge. */
export type SmppBindCounts = Record<string, Record<"down" | "binding" | "up", number>>;

/** `sessionCounts` and `smtpConnectionCounts` are read at scrape time, so the gauges never lag the pools. */
export function createMetrics(
  sessionCounts: () => Record<string, number> = () => ({}),
  smtpConnectionCounts: () => Record<string, number> = () => ({}),
  smppBindCounts: () => SmppBindCounts = () => ({}),
): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "bridge_" });
  const inFlight = new Gauge({ name: "bridge_in_flight", help: "Batch requests from the edge being handled now", registers: [registry] });
  const sent = new Counter({
    name: "bridge_sent_total",
    help: "Items sent to a next hop",
    labelNames: ["channel"] as const,
    registers: [registry],
  });
  const outcomes = new Counter({
    name: "bridge_outcomes_total",
    help: "Item outcomes by kind (accepted, bounced, failed, retry) and reason",
    labelNames: ["channel", "kind", "reason"] as const,
    registers: [registry],
  });
  const apnsSessions = new Gauge({
    name: "bridge_apns_sessions",
    help: "Open APNs HTTP/2 sessions per origin",
    labelNames: ["origin"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [origin, count] of Object.entries(sessionCounts())) this.set({ origin }, count);
    },
  });
  const requestDuration = new Histogram({
    name: "bridge_request_duration_seconds",
    help: "Time from taking an item to its outcome",
    labelNames: ["channel"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const tokenRefreshes = new Counter({
    name: "bridge_apns_provider_token_refreshes_total",
    help: "APNs provider tokens signed (first one, scheduled refreshes and ExpiredProviderToken refreshes)",
    registers: [registry],
  });
  const smtpConnections = new Gauge({
    name: "bridge_smtp_connections",
    help: "Open SMTP connections per destination host:port (busy and idle)",
    labelNames: ["host"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [host, count] of Object.entries(smtpConnectionCounts())) this.set({ host }, count);
    },
  });
  const smtpTransactionDuration = new Histogram({
    name: "bridge_smtp_transaction_duration_seconds",
    help: "Time of one SMTP transaction (MAIL FROM to the final reply, connection setup included when a new one was opened)",
    labelNames: ["kind"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const inboundMessages = new Counter({
    name: "bridge_inbound_messages_total",
    help: "Messages received by the inbound SMTP server, by outcome (accepted, not_ours, deferred, too_large)",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const inboundBytes = new Counter({
    name: "bridge_inbound_bytes_total",
    help: "Bytes of the messages received by the inbound SMTP server, by outcome",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  const inboundRcptRefused = new Counter({
    name: "bridge_inbound_rcpt_refused_total",
    help: "RCPT TO commands refused by the inbound SMTP server, by reason (domain, too_many, shutdown)",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  const smppBinds = new Gauge({
    name: "bridge_smpp_binds",
    help: "SMPP binds per route and state (down, binding, up)",
    labelNames: ["route", "state"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, states] of Object.entries(smppBindCounts())) {
        for (const [state, count] of Object.entries(states)) this.set({ route, state }, count);
      }
    },
  });
  const smppSubmits = new Counter({
    name: "bridge_smpp_submits_total",
    help: "submit_sm PDUs by result (accepted, failed, throttled, retry, timeout, connection_lost)",
    labelNames: ["route", "result"] as const,
    registers: [registry],
  });
  const smppSubmitLatency = new Histogram({
    name: "bridge_smpp_submit_response_seconds",
    help: "Time from writing a submit_sm to its submit_sm_resp",
    labelNames: ["route"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const smppThrottleWaits = new Counter({
    name: "bridge_smpp_throttle_waits_total",
    help: "submit_sm that waited for the route's rate (TPS spacing, 1-second window, throttle pause)",
    labelNames: ["route"] as const,
    registers: [registry],
  });
  const tlsSessions = new Counter({
    name: "bridge_smtp_tls_sessions_total",
    help: "Direct SMTP sessions under an MTA-STS policy, by mode and result (success or the TLS-RPT result type)",
    labelNames: ["mode", "result"] as const,
    registers: [registry],
  });
  const tlsReportsDropped = new Counter({
    name: "bridge_tls_report_sessions_dropped_total",
    help: "TLS-RPT sessions not handed to the edge: overflow (oldest dropped past the bound) or rejected (the edge refused the batch)",
    labelNames: ["why"] as const,
    registers: [registry],
  });
  const smppInbound = new Counter({
    name: "bridge_smpp_inbound_total",
    help: "deliver_sm/data_sm by kind (dlr, mo) and outcome (forwarded, rejected, deferred, invalid)",
    labelNames: ["route", "kind", "outcome"] as const,
    registers: [registry],
  });
  return {
    registry,
    inFlight,
    sent,
    outcomes,
    apnsSessions,
    requestDuration,
    tokenRefreshes,
    smtpConnections,
    smtpTransactionDuration,
    inboundMessages,
    inboundBytes,
    inboundRcptRefused,
    smppBinds,
    smppSubmits,
    smppSubmitLatency,
    smppThrottleWaits,
    smppInbound,
    tlsSessions,
    tlsReportsDropped,
  };
}

/**
 * The `reason` label: Apple's reason string when there is one (BadDeviceToken, …), else our
 * own (`timeout`, `transport`, …). Anything odd collapses to `other` so a peer cannot blow
 * up label cardinality.
 */
export function reasonLabel(detail: Record<string, unknown>): string {
  const reason = detail.apnsReason ?? detail.reason;
  if (reason === undefined) return "none";
  return typeof reason === "string" && /^[A-Za-z_]{1,64}$/.test(reason) ? reason : "other";
}
