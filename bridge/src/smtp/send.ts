/**
 * The SMTP relay: one batch of messages from the edge → DKIM → route → pooled SMTP → one
 * outcome per item, in item order. Items go out concurrently within the caps:
 *
 *   per account      at most `maxPerAccount` deliveries at once
 *   per destination  at most `maxPerDomain` deliveries at once (the recipient's domain in direct
 *                    mode, the smarthost in smarthost mode), and at most as many connections per
 *                    destination host (the pool's cap)
 *
 * Items over a cap wait in a bounded FIFO queue, for at most `timeoutMs` per cap (then `retry`,
 * reason `queue_timeout`: nothing was sent). Every SMTP reply is mapped with the shared
 * `smtpOutcome` (src/core/smtp.ts): 2xx after DATA → accepted (custody by the receiving MTA,
 * never delivery), 4xx → retry, 5xx → bounced with the class from core. Where no reply exists,
 * the bridge answers for the server in the same vocabulary: a null MX is 556 5.1.10, NXDOMAIN
 * is 550 5.1.2, a message over the advertised SIZE is 552 5.3.4 — all fed through `smtpOutcome`.
 *
 * At-least-once: a connection lost after the message's final "." and before the server's reply
 * is a `retry`, although the server may have taken the message. Only the edge can decide to
 * send it again, and the receiving side de-duplicates by Message-ID if it does at all.
 */
import { isIP } from "node:net";
import type { Logger } from "pino";
import { itemResultOf, type ItemResult, type SmtpBatch } from "../../../src/core/bridge.ts";
import type { SendOutcome } from "../../../src/core/outcome.ts";
import { queueIdOf, smtpOutcome } from "../../../src/core/smtp.ts";
import { reasonLabel, type Metrics } from "../metrics.ts";
import { DkimError, signMessage } from "./dkim.ts";
import { SignerUnavailableError, type Signer } from "./sign-pool.ts";
import {
  dnsCode,
  dnsRetry,
  isPermanentDnsError,
  noHostOutcome,
  recipientDomain,
  routeDomain,
  withDeadline,
  type SmtpResolver,
} from "./dns.ts";
import { policyAllowsMx, tlsFailureOf, type StsFailure } from "../../../src/core/mta-sts.ts";
import type { StsLookup, StsPolicies } from "./mta-sts.ts";
import { KeyedLimiter, LimiterClosedError, QueueFullError, QueueTimeoutError } from "./limits.ts";
import {
  AuthError,
  ConnectError,
  endpointKey,
  PoolClosedError,
  PoolQueueFullError,
  PoolWaitTimeoutError,
  TlsRequiredError,
  type Endpoint,
  type Lease,
  type SmtpPool,
} from "./pool.ts";

export type SmtpItem = SmtpBatch["items"][number];

/** Addresses of one MX host tried before moving to the next host. */
export const MAX_ADDRESSES_PER_HOST = 2;

export type SmtpSenderOptions = {
  pool: SmtpPool;
  resolver: SmtpResolver;
  directPort: number;
  maxPerDomain: number;
  maxPerAccount: number;
  timeoutMs: number;
  log: Logger;
  metrics?: Metrics;
  /** Where DKIM signatures are made: the bridge's thread pool (sign-pool.ts); default, this thread. */
  signer?: Signer;
  /** MTA-STS policies of recipient domains (direct mode); without it, no MTA-STS. */
  sts?: StsPolicies;
  /** Each direct session under a policy, for TLS-RPT (RFC 8460): success, or the failure's result type. */
  onTlsSession?: (session: TlsSession) => void;
};

/** One session (or attempt at one) to an MX host of a domain with an MTA-STS policy. */
export type TlsSession = {
  domain: string;
  policyId: string;
  /** `none`: the policy announced could not be had (a fetch or policy failure), so none applied. */
  mode: "enforce" | "testing" | "none";
  /** Empty for a failure of the policy itself (no MX host was involved yet). */
  mxHost: string;
  receivingIp?: string;
  /** The source address the session left from (the message's IP pool), when one was asked for. */
  sendingIp?: string;
  result: "success" | StsFailure;
  reason?: string;
};

type SmtpErrorLike = Error & { code?: string; responseCode?: number; response?: string; command?: string };

/** A reply line as the server sent it ("550 5.1.1 <x>: User unknown"), multi-line replies joined. */
function replyOf(response: string): { code: number; text: string } | undefined {
  const match = /^([2-5]\d\d)[ -]?/.exec(response.trim());
  return match ? { code: Number(match[1]), text: response.trim() } : undefined;
}

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 512);
}

/** Deferred by MTA-STS: no MX host of the domain passed its policy's checks. */
function stsRetry(error: string, remoteMta: string): SendOutcome {
  return { kind: "retry", detail: { reason: "mta_sts", error: error.slice(0, 512), remoteMta } };
}

/** A handshake that failed on the certificate (not a refused or dropped connection). */
function isTlsError(error: ConnectError): boolean {
  return error.code !== undefined && (tlsFailureOf(error.code) !== "validation-failure" || /^ERR_TLS|^ERR_SSL|ETLS/.test(error.code));
}

function connectionRetry(error: unknown, remoteMta?: string): SendOutcome {
  return { kind: "retry", detail: { reason: "connection", error: message(error), ...(remoteMta ? { remoteMta } : {}) } };
}

export class SmtpSender {
  readonly #options: SmtpSenderOptions;
  readonly #accounts: KeyedLimiter;
  readonly #domains: KeyedLimiter;
  readonly #signer: Signer;
  /** Smarthosts whose AUTH failure was already logged at error level (one line per endpoint; bounded). */
  readonly #reportedAuth = new Set<string>();

  constructor(options: SmtpSenderOptions) {
    this.#options = options;
    this.#accounts = new KeyedLimiter(options.maxPerAccount, "account");
    this.#domains = new KeyedLimiter(options.maxPerDomain, "destination");
    this.#signer = options.signer ?? { sign: signMessage };
  }

  send(items: SmtpItem[]): Promise<ItemResult[]> {
    return Promise.all(items.map((item) => this.#sendOne(item)));
  }

  /** Refuses the waiting items (retry) and closes the pool, letting busy transactions finish for up to `ms`. */
  async close(ms: number): Promise<void> {
    this.#accounts.close();
    this.#domains.close();
    await this.#options.pool.close(ms);
  }

  async #sendOne(item: SmtpItem): Promise<ItemResult> {
    const { metrics, log } = this.#options;
    const started = performance.now();
    metrics?.sent.inc({ channel: "email" });
    let outcome: SendOutcome;
    try {
      outcome = await this.#deliver(item);
    } catch (error) {
      log.error({ id: item.id, err: error }, "smtp delivery failed unexpectedly");
      outcome = { kind: "retry", detail: { reason: "internal", error: message(error) } };
    }
    // Which address the message left from (or would have): the pool's counters and reputation.
    if (item.sourceAddress) outcome = { ...outcome, detail: { ...outcome.detail, sourceAddress: item.sourceAddress } } as SendOutcome;
    metrics?.outcomes.inc({ channel: "email", kind: outcome.kind, reason: reasonLabel(outcome.detail) });
    metrics?.requestDuration.observe({ channel: "email" }, (performance.now() - started) / 1000);
    log.debug(
      { id: item.id, account: item.account, kind: outcome.kind, reason: outcome.detail.reason, remoteMta: outcome.detail.remoteMta },
      "smtp outcome",
    );
    return itemResultOf(item.id, outcome);
  }

  async #deliver(item: SmtpItem): Promise<SendOutcome> {
    let data: Buffer;
    try {
      data = await this.#signer.sign(item.raw, item.dkim);
    } catch (error) {
      // The signing threads died or are closing: nothing was sent, and it is never sent unsigned.
      if (error instanceof SignerUnavailableError) return { kind: "retry", detail: { reason: "dkim_unavailable", error: error.message } };
      if (!(error instanceof DkimError)) throw error;
      // The key came from the edge: a key that cannot sign will not sign on a retry either.
      return { kind: "failed", detail: { reason: "dkim", error: error.message } };
    }
    const domain = recipientDomain(item.rcptTo);
    if (!domain)
      return smtpOutcome({
        code: 553,
        enhancedCode: "5.1.3",
        text: `invalid recipient address ${JSON.stringify(item.rcptTo.slice(0, 256))}`,
      });
    // Its slot under the destination's throttle (the edge dated the grant ahead): wait for it.
    if (item.holdMs) await new Promise((resolve) => setTimeout(resolve, item.holdMs));
    const relay = item.relay;
    const destination = relay.mode === "smarthost" ? `smarthost:${relay.host.toLowerCase()}:${relay.port}` : domain;

    let releaseAccount: (() => void) | undefined;
    let releaseDomain: (() => void) | undefined;
    try {
      releaseAccount = await this.#accounts.acquire(item.account, this.#options.timeoutMs);
      releaseDomain = await this.#domains.acquire(destination, this.#options.timeoutMs);
      return relay.mode === "smarthost" ? await this.#smarthost(item, relay, data) : await this.#direct(item, domain, data);
    } catch (error) {
      if (error instanceof QueueFullError || error instanceof PoolQueueFullError)
        return { kind: "retry", detail: { reason: "queue_full", error: error.message } };
      if (error instanceof QueueTimeoutError || error instanceof PoolWaitTimeoutError)
        return { kind: "retry", detail: { reason: "queue_timeout", error: error.message } };
      if (error instanceof LimiterClosedError || error instanceof PoolClosedError)
        return { kind: "retry", detail: { reason: "shutdown", error: error.message } };
      throw error;
    } finally {
      releaseDomain?.();
      releaseAccount?.();
    }
  }

  async #smarthost(item: SmtpItem, relay: Extract<SmtpItem["relay"], { mode: "smarthost" }>, data: Buffer): Promise<SendOutcome> {
    const tls = relay.secure ? "implicit" : relay.requireTLS ? "starttls-required" : "starttls";
    const endpoint: Endpoint = {
      key: endpointKey({
        mode: "smarthost",
        host: relay.host,
        port: relay.port,
        tls,
        ...(relay.auth ? { user: relay.auth.user, pass: relay.auth.pass } : {}),
        localAddress: item.sourceAddress,
      }),
      label: `${relay.host}:${relay.port}`,
      host: relay.host,
      port: relay.port,
      ...(isIP(relay.host) ? {} : { servername: relay.host }),
      tls: relay.secure ? "implicit" : "starttls",
      requireTLS: !relay.secure && relay.requireTLS,
      verify: true,
      ...(relay.auth ? { auth: relay.auth } : {}),
      ...(item.sourceAddress ? { localAddress: item.sourceAddress } : {}),
    };
    let lease: Lease;
    try {
      lease = await this.#options.pool.acquire(endpoint);
    } catch (error) {
      if (error instanceof TlsRequiredError)
        return { kind: "retry", detail: { reason: "tls_required", error: error.message, remoteMta: relay.host } };
      if (error instanceof AuthError) return this.#authFailure(endpoint, error, relay.host);
      if (error instanceof ConnectError) return connectionRetry(error, relay.host);
      throw error;
    }
    return this.#transact(item, lease, data, relay.host);
  }

  /** 5xx to AUTH: our credentials are wrong, which a retry will not fix; 4xx or no reply: retry. */
  #authFailure(endpoint: Endpoint, error: AuthError, remoteMta: string): SendOutcome {
    const detail = {
      error: message(error),
      remoteMta,
      ...(error.responseCode ? { smtpCode: error.responseCode } : {}),
      ...(error.response ? { response: error.response.slice(0, 512) } : {}),
    };
    if (error.responseCode !== undefined && error.responseCode >= 500) {
      if (!this.#reportedAuth.has(endpoint.key)) {
        if (this.#reportedAuth.size >= 1_000) this.#reportedAuth.clear();
        this.#reportedAuth.add(endpoint.key);
        this.#options.log.error(
          { host: endpoint.label, smtpCode: error.responseCode },
          "the smarthost refused our credentials: check the account's relay auth",
        );
      }
      return { kind: "failed", detail: { reason: "auth", ...detail } };
    }
    return { kind: "retry", detail: { reason: "auth", ...detail } };
  }

  async #direct(item: SmtpItem, domain: string, data: Buffer): Promise<SendOutcome> {
    const { resolver, directPort, timeoutMs } = this.#options;
    const route = await routeDomain(domain, resolver, timeoutMs);
    if (route.kind === "outcome") return route.outcome;
    // A TLS report must reach its domain even when TLS to it is what is broken (RFC 8460 §3).
    const sts: StsLookup = this.#options.sts && !item.tlsReport ? await this.#options.sts.lookup(domain) : {};
    const policy = sts.policy?.mode === "enforce" || sts.policy?.mode === "testing" ? { ...sts.policy, mode: sts.policy.mode } : undefined;
    const report = (session: Omit<TlsSession, "domain" | "policyId" | "mode">) => {
      if (policy)
        this.#options.onTlsSession?.({
          domain,
          policyId: sts.id ?? "",
          mode: policy.mode,
          ...session,
          ...(item.sourceAddress ? { sendingIp: item.sourceAddress } : {}),
        });
    };
    // A policy announced but not fetched, or not valid: a failed session for TLS-RPT (RFC 8460
    // §4.3), and the delivery goes on under the cached policy, if any, else as without one.
    if (sts.failure)
      this.#options.onTlsSession?.({
        domain,
        policyId: sts.id ?? "",
        mode: policy?.mode ?? "none",
        mxHost: "",
        result: sts.failure.resultType,
        reason: sts.failure.reason,
      });
    let failure: SendOutcome | undefined;
    let stsFailure: SendOutcome | undefined;
    let dnsFailure: unknown;
    for (const host of route.hosts) {
      // RFC 8461 §4.1: under a policy only its MX hosts are candidates; in testing mode the
      // others are still tried (and reported).
      if (policy && !policyAllowsMx(policy, host)) {
        const reason = `${host} is not an MX host of ${domain}'s MTA-STS policy`;
        report({ mxHost: host, result: "validation-failure", reason });
        if (policy.mode === "enforce") {
          stsFailure = stsRetry(reason, host);
          continue;
        }
      }
      const enforced = policy?.mode === "enforce";
      let addresses: string[];
      if (isIP(host)) addresses = [host];
      else {
        try {
          addresses = await withDeadline(resolver.resolveAddresses(host), timeoutMs, `address lookup for ${host}`);
        } catch (error) {
          // A permanent "no such host" only rules this MX out; a DNS failure makes the whole
          // attempt a retry unless another host takes the message.
          if (!isPermanentDnsError(error)) dnsFailure = error;
          this.#options.log.debug({ id: item.id, host, code: dnsCode(error) }, "smtp mx host has no usable address");
          continue;
        }
      }
      for (const address of addresses.slice(0, MAX_ADDRESSES_PER_HOST)) {
        // Enforce: a verified session (PKIX chain, the MX host's name, TLS 1.2+) or none, in a
        // pool of its own. Otherwise opportunistic TLS (RFC 7435), checked after the fact in testing mode.
        const endpoint: Endpoint = {
          key: endpointKey({
            mode: enforced ? "direct-sts" : "direct",
            host,
            port: directPort,
            tls: "starttls",
            localAddress: item.sourceAddress,
          }),
          label: `${host}:${directPort}`,
          host: address,
          port: directPort,
          ...(isIP(host) ? {} : { servername: host }),
          tls: "starttls",
          requireTLS: enforced,
          verify: enforced,
          ...(item.sourceAddress ? { localAddress: item.sourceAddress } : {}),
        };
        let lease: Lease;
        try {
          lease = await this.#options.pool.acquire(endpoint);
        } catch (error) {
          if (enforced && (error instanceof TlsRequiredError || (error instanceof ConnectError && isTlsError(error)))) {
            // The MX host cannot prove it is the host the policy names: the next one, else defer.
            const result: StsFailure = error instanceof TlsRequiredError ? "starttls-not-supported" : tlsFailureOf(error.code);
            report({ mxHost: host, receivingIp: address, result, reason: error.message });
            stsFailure = stsRetry(`${host}: ${result}: ${error.message}`, host);
            continue;
          }
          if (!(error instanceof ConnectError)) throw error;
          // Not reachable (refused, timed out, no greeting, 421 greeting): the next address, then the next MX.
          this.#options.log.debug({ id: item.id, host, address, error: error.message }, "smtp mx host not reachable, trying the next");
          failure = connectionRetry(error, host);
          continue;
        }
        if (policy) {
          const verdict = enforced ? ({ ok: true } as const) : lease.verifyTls(host);
          if (verdict.ok) report({ mxHost: host, receivingIp: address, result: "success" });
          else {
            const result: StsFailure = verdict.code === "STARTTLS_NOT_SUPPORTED" ? "starttls-not-supported" : tlsFailureOf(verdict.code);
            report({ mxHost: host, receivingIp: address, result, reason: verdict.reason });
          }
        }
        // Once a session is up, its answer is final for this attempt (RFC 5321 §5.1: only
        // connection failures move on to the next MX).
        return this.#transact(item, lease, data, host);
      }
    }
    // Under an enforced policy no host could be used: defer (RFC 8461 §5.1), never bounce.
    if (stsFailure) return stsFailure;
    if (failure) return failure;
    if (dnsFailure !== undefined) return dnsRetry(domain, dnsFailure);
    return noHostOutcome(domain, route.implicit ? "no MX and no address record (A/AAAA)" : "no MX host has an address record (A/AAAA)");
  }

  /** MAIL FROM, RCPT TO, DATA on a leased connection, then the lease goes back (or the connection is dropped). */
  async #transact(item: SmtpItem, lease: Lease, data: Buffer, remoteMta: string): Promise<SendOutcome> {
    const started = performance.now();
    let reusable = false;
    let clean = false;
    try {
      const result = await this.#exchange(item, lease, data, remoteMta);
      reusable = result.reusable && !lease.connection.destroyed;
      clean = reusable && result.outcome.kind === "accepted";
      this.#options.metrics?.smtpTransactionDuration.observe({ kind: result.outcome.kind }, (performance.now() - started) / 1000);
      this.#options.log.debug(
        { id: item.id, connection: lease.connectionId, reused: lease.reused, remoteMta, kind: result.outcome.kind },
        "smtp transaction",
      );
      return result.outcome;
    } finally {
      lease.release(reusable, clean);
    }
  }

  /** The transaction and the mapping of its answer; `reusable` says whether the session is still good. */
  async #exchange(item: SmtpItem, lease: Lease, data: Buffer, remoteMta: string): Promise<{ outcome: SendOutcome; reusable: boolean }> {
    const { timeoutMs } = this.#options;
    const conn = lease.connection;
    let response: string;
    try {
      response = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          // nodemailer forgets a send on close(): settle it here.
          reject(Object.assign(new Error(`no answer from ${remoteMta} within ${timeoutMs} ms`), { code: "ETIMEDOUT" }));
          conn.close();
        }, timeoutMs);
        conn.send(
          // SIZE= is declared when the server offers SIZE, and nodemailer refuses, before MAIL FROM,
          // a message over the SIZE the server advertised. BODY=8BITMIME when the message has 8-bit bytes.
          { from: item.mailFrom, to: [item.rcptTo], size: data.length, use8BitMime: data.some((byte) => byte > 0x7f) },
          data,
          (error, info) => {
            clearTimeout(timer);
            if (error) reject(error);
            else resolve(info?.response ?? "");
          },
        );
      });
    } catch (error) {
      const e = error as SmtpErrorLike;
      const reply = e.response ? replyOf(e.response) : undefined;
      if (e.code === "EMESSAGE" && e.command === "MAIL FROM" && !reply) {
        // The server's EHLO advertised a SIZE below this message: nothing was sent.
        return {
          reusable: true,
          outcome: smtpOutcome({
            code: 552,
            enhancedCode: "5.3.4",
            text: `message of ${data.length} bytes not sent: ${e.message}`,
            remoteMta,
          }),
        };
      }
      if (reply) {
        // The server refused MAIL FROM, RCPT TO, DATA, or the message after DATA: its reply decides.
        // After 421 it closes the session; otherwise the session is still good (RSET before reuse).
        return { reusable: reply.code !== 421, outcome: smtpOutcome({ ...reply, remoteMta }) };
      }
      if (e.code === "EENVELOPE") {
        // An address nodemailer will not put on the wire (CR, LF, <, >): our input, not the server.
        return { reusable: true, outcome: { kind: "failed", detail: { reason: "invalid_envelope", error: message(e) } } };
      }
      // Connection lost or timed out mid-transaction. When that happens after the final "." the
      // server may already hold the message: `retry` is the at-least-once side of that window.
      return { reusable: false, outcome: connectionRetry(e, remoteMta) };
    }
    const reply = replyOf(response);
    if (!reply)
      return {
        reusable: false,
        outcome: connectionRetry(new Error(`unreadable reply after DATA: ${JSON.stringify(response.slice(0, 200))}`), remoteMta),
      };
    return { reusable: true, outcome: smtpOutcome({ ...reply, remoteMta }, queueIdOf(response)) };
  }
}
