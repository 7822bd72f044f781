/**
 * MTA-STS lookups for direct delivery (RFC 8461): the `_mta-sts` TXT record through the bridge's
 * resolver, the policy file over HTTPS (a certificate valid for `mta-sts.<domain>`, no redirects,
 * text/plain, at most 64 KiB), and a cache by domain that keeps a policy for its max_age. The
 * parsing and the cache's rules are src/core/mta-sts.ts; this file is only the I/O around them.
 *
 * The TXT record is asked again at most every `recheckMs` per domain (a policy's id changes
 * rarely, and a message per second to a domain should not be a DNS query per second). Concurrent
 * deliveries to one domain share one lookup.
 */
import { request } from "node:https";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import type { Logger } from "pino";
import {
  cachePolicy,
  parseStsPolicy,
  parseStsRecord,
  STS_POLICY_MAX_BYTES,
  stsRecordName,
  stsStep,
  tlsFailureOf,
  type CachedStsPolicy,
  type StsFailure,
  type StsPolicy,
  type StsRecord,
} from "../../../src/core/mta-sts.ts";
import { dnsCode, isPermanentDnsError, type SmtpResolver } from "./dns.ts";
import type { SharedStsCache } from "./sts-edge.ts";

/** What applies to a delivery to a domain: its policy (if any), and what went wrong finding it. */
export type StsLookup = {
  policy?: StsPolicy;
  /** The TXT record's id the policy was fetched under (TLS-RPT's policy string names it). */
  id?: string;
  /** A failure to report (TLS-RPT): a policy announced but not fetched or not valid. */
  failure?: { resultType: StsFailure; reason: string };
};

export type StsOptions = {
  resolver: SmtpResolver;
  /** 443 in production; tests serve the policy on a port of their own. */
  port: number;
  /** Extra trusted CA (PEM) beside Node's roots. */
  ca?: string;
  timeoutMs: number;
  /** How long a domain's TXT answer is trusted before it is asked again. */
  recheckMs?: number;
  maxDomains?: number;
  now?: () => number;
  log?: Logger;
  /**
   * The policy cache every bridge instance sees (the edge): asked before a fetch, given what this
   * one fetched. The rules stay stsStep's; this only saves fetches.
   */
  shared?: SharedStsCache;
};

const DEFAULT_RECHECK_MS = 5 * 60_000;
const DEFAULT_MAX_DOMAINS = 10_000;

class FetchError extends Error {
  readonly resultType: StsFailure;
  constructor(resultType: StsFailure, message: string) {
    super(message);
    this.resultType = resultType;
  }
}

export class StsPolicies {
  readonly #options: StsOptions;
  readonly #cache = new Map<string, CachedStsPolicy>();
  readonly #checked = new Map<string, { at: number; lookup: StsLookup }>();
  readonly #inflight = new Map<string, Promise<StsLookup>>();
  readonly #ca: string[] | undefined;

  constructor(options: StsOptions) {
    this.#options = options;
    this.#ca = options.ca ? [...rootCertificates, options.ca] : undefined;
  }

  /** The policy for mail to `domain` (lower-case A-label), looked up or from the cache. */
  lookup(domain: string): Promise<StsLookup> {
    if (domain.startsWith("[")) return Promise.resolve({}); // an address literal has no MX and no policy
    const now = this.#now();
    const checked = this.#checked.get(domain);
    if (checked && now - checked.at < (this.#options.recheckMs ?? DEFAULT_RECHECK_MS)) {
      const cached = this.#cache.get(domain);
      // The policy's own max_age still bounds it between TXT checks.
      if (!checked.lookup.policy || (cached && cached.expiresAt > now)) return Promise.resolve(checked.lookup);
    }
    let pending = this.#inflight.get(domain);
    if (!pending) {
      pending = this.#lookup(domain).finally(() => this.#inflight.delete(domain));
      this.#inflight.set(domain, pending);
    }
    return pending;
  }

  /** The cached policies (healthz, tests). */
  cached(domain: string): CachedStsPolicy | undefined {
    return this.#cache.get(domain);
  }

  async #lookup(domain: string): Promise<StsLookup> {
    const record = await this.#record(domain);
    let step = stsStep(record, this.#cache.get(domain), this.#now());
    if (step.kind === "fetch" && this.#options.shared) {
      // Another instance may have fetched this id already: a live policy under the same id is
      // what this one would fetch. Anything else (none, another id, expired) and we fetch.
      const shared = await this.#options.shared.get(domain);
      if (shared && shared.id === step.id) {
        const next = stsStep(record, shared, this.#now());
        if (next.kind === "use") {
          this.#remember(domain, shared);
          step = next;
        }
      }
    }
    let result: StsLookup;
    if (step.kind === "none") result = {};
    else if (step.kind === "use") result = this.#applied(step.cached);
    else {
      try {
        const policy = await this.#fetch(domain);
        const cached = cachePolicy(step.id, policy, this.#now());
        this.#remember(domain, cached);
        // Shared in the background: the delivery does not wait for the edge.
        void this.#options.shared?.offer(domain, cached).catch(() => {});
        result = this.#applied(cached);
      } catch (error) {
        const failure =
          error instanceof FetchError
            ? { resultType: error.resultType, reason: error.message }
            : { resultType: "sts-policy-fetch-error" as const, reason: String(error) };
        this.#options.log?.warn({ domain, ...failure }, "mta-sts: the announced policy could not be fetched");
        // §5.1: a failed fetch keeps the cached policy while it lasts; with none, deliver as without MTA-STS.
        result = step.fallback ? { ...this.#applied(step.fallback), failure } : { failure };
      }
    }
    this.#checked.set(domain, { at: this.#now(), lookup: result });
    this.#trim(this.#checked);
    return result;
  }

  #applied(cached: CachedStsPolicy): StsLookup {
    return cached.policy.mode === "none" ? {} : { policy: cached.policy, id: cached.id };
  }

  async #record(domain: string): Promise<StsRecord | { kind: "error" }> {
    const resolveTxt = this.#options.resolver.resolveTxt;
    if (!resolveTxt) return { kind: "none" };
    try {
      return parseStsRecord(await resolveTxt.call(this.#options.resolver, stsRecordName(domain)));
    } catch (error) {
      if (isPermanentDnsError(error)) return { kind: "none" };
      this.#options.log?.debug({ domain, code: dnsCode(error) }, "mta-sts: TXT lookup failed");
      return { kind: "error" };
    }
  }

  #remember(domain: string, cached: CachedStsPolicy): void {
    this.#cache.delete(domain);
    this.#cache.set(domain, cached);
    this.#trim(this.#cache);
  }

  #trim(map: Map<string, unknown>): void {
    const max = this.#options.maxDomains ?? DEFAULT_MAX_DOMAINS;
    for (const key of map.keys()) {
      if (map.size <= max) break;
      map.delete(key); // oldest first (insertion order)
    }
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  /** GET https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.3), bounded in time and size. */
  #fetch(domain: string): Promise<StsPolicy> {
    const { resolver, port, timeoutMs } = this.#options;
    const host = `mta-sts.${domain}`;
    return new Promise<StsPolicy>((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          path: "/.well-known/mta-sts.txt",
          method: "GET",
          servername: host,
          rejectUnauthorized: true,
          minVersion: "TLSv1.2",
          ...(this.#ca ? { ca: this.#ca } : {}),
          headers: { accept: "text/plain", "user-agent": "lasthop-bridge" },
          timeout: timeoutMs,
          // The bridge's resolver (configurable) names the host, as it names the MX hosts.
          lookup: (hostname, options, callback) => {
            const all = (options as { all?: boolean }).all === true;
            resolver.resolveAddresses(hostname).then(
              (addresses) => {
                const list = addresses.map((address) => ({ address, family: isIP(address) }));
                if (all) (callback as (e: null, a: typeof list) => void)(null, list);
                else callback(null, list[0]!.address, list[0]!.family);
              },
              (error: NodeJS.ErrnoException) => callback(error, "", 4),
            );
          },
        },
        (res) => {
          // §3.3: a redirect is not followed; anything but 200 is a failed fetch.
          if (res.statusCode !== 200) {
            res.resume();
            return reject(new FetchError("sts-policy-fetch-error", `${host} answered HTTP ${res.statusCode}`));
          }
          const type = (res.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
          if (type !== "text/plain") {
            res.resume();
            return reject(
              new FetchError("sts-policy-fetch-error", `${host} answered content-type ${JSON.stringify(type)}, not text/plain`),
            );
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > STS_POLICY_MAX_BYTES) {
              req.destroy();
              reject(new FetchError("sts-policy-fetch-error", `${host}: the policy is over ${STS_POLICY_MAX_BYTES} bytes`));
            } else chunks.push(chunk);
          });
          res.on("end", () => {
            const parsed = parseStsPolicy(Buffer.concat(chunks).toString("utf8"));
            if (parsed.ok) resolve(parsed.policy);
            else reject(new FetchError("sts-policy-invalid", `${host}: ${parsed.reason}`));
          });
          res.on("error", (error) => reject(new FetchError("sts-policy-fetch-error", `${host}: ${error.message}`)));
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", (error: NodeJS.ErrnoException) => {
        // A certificate that is not valid for mta-sts.<domain> is its own result type (RFC 8460).
        const tls = error.code !== undefined && tlsFailureOf(error.code) !== "validation-failure";
        reject(new FetchError(tls ? "sts-webpki-invalid" : "sts-policy-fetch-error", `${host}: ${error.message}`));
      });
      req.end();
    });
  }
}
