/**
 * Sends one batch of APNs notifications through the session pool and maps each answer to an
 * outcome with the shared `apnsOutcome`. Items go out concurrently (the pool multiplexes
 * them); results come back in item order.
 */
import type { Logger } from "pino";
import { apnsHeaders, apnsOutcome, type ApnsNotification } from "../../../src/core/apns.ts";
import { itemResultOf, type ItemResult } from "../../../src/core/bridge.ts";
import type { SendOutcome } from "../../../src/core/outcome.ts";
import { reasonLabel, type Metrics } from "../metrics.ts";
import { TransportError, type Http2Pool, type PoolResponse } from "./pool.ts";
import type { ProviderTokens } from "./token.ts";

export type ApnsSenderOptions = {
  pool: Pick<Http2Pool, "request">;
  tokens: Pick<ProviderTokens, "get" | "invalidate">;
  productionOrigin: string;
  sandboxOrigin: string;
  log: Logger;
  metrics?: Metrics;
};

type ApnsError = { reason?: string; timestamp?: number };

function errorBody(response: PoolResponse): ApnsError | null {
  if (!response.body) return null;
  try {
    const parsed: unknown = JSON.parse(response.body);
    return parsed && typeof parsed === "object" ? (parsed as ApnsError) : null;
  } catch {
    return null;
  }
}

function header(response: PoolResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class ApnsSender {
  readonly #options: ApnsSenderOptions;
  /** The last token we logged InvalidProviderToken for: one loud line per token, not one per item. */
  #reportedInvalid: string | undefined;

  constructor(options: ApnsSenderOptions) {
    this.#options = options;
  }

  send(items: ApnsNotification[]): Promise<ItemResult[]> {
    return Promise.all(items.map((item) => this.#sendOne(item)));
  }

  async #sendOne(item: ApnsNotification): Promise<ItemResult> {
    const { metrics } = this.#options;
    const started = performance.now();
    metrics?.sent.inc({ channel: "apns" });
    const outcome = await this.#attempt(item);
    metrics?.outcomes.inc({ channel: "apns", kind: outcome.kind, reason: reasonLabel(outcome.detail) });
    metrics?.requestDuration.observe({ channel: "apns" }, (performance.now() - started) / 1000);
    return itemResultOf(item.id, outcome);
  }

  async #attempt(item: ApnsNotification): Promise<SendOutcome> {
    const { tokens, log } = this.#options;
    const origin = item.sandbox ? this.#options.sandboxOrigin : this.#options.productionOrigin;
    const path = `/3/device/${item.token}`;
    const body = JSON.stringify(item.payload);
    try {
      let token = await tokens.get();
      let response = await this.#options.pool.request(origin, path, apnsHeaders(item, `bearer ${token}`), body);
      let reason = errorBody(response)?.reason;
      // The token aged out on APNs' side (clock skew, a long pause): sign a new one and try
      // this item once more. APNs refused it, so re-sending cannot deliver it twice.
      if (response.status === 403 && reason === "ExpiredProviderToken" && tokens.invalidate(token)) {
        token = await tokens.get();
        response = await this.#options.pool.request(origin, path, apnsHeaders(item, `bearer ${token}`), body);
        reason = errorBody(response)?.reason;
      }
      if (reason === "InvalidProviderToken" && this.#reportedInvalid !== token) {
        this.#reportedInvalid = token;
        log.error({ origin, apnsReason: reason }, "APNs refused the provider token: check APNS_KEY/APNS_KEY_ID/APNS_TEAM_ID");
      }
      const outcome = apnsOutcome(
        response.status,
        errorBody(response),
        header(response, "retry-after"),
        header(response, "apns-id") ?? item.id,
      );
      if (response.incomplete) outcome.detail.incompleteBody = true;
      log.debug({ id: item.id, origin, status: response.status, kind: outcome.kind }, "apns answer");
      return outcome;
    } catch (error) {
      if (error instanceof TransportError) {
        log.debug({ id: item.id, origin, reason: error.reason, error: error.message }, "apns transport failure");
        return { kind: "retry", detail: { reason: error.reason === "timeout" ? "timeout" : "transport", error: error.message } };
      }
      // Signing the provider token failed (a key jose cannot use): nothing was sent.
      log.error({ id: item.id, error: (error as Error).message }, "apns send failed before sending");
      return { kind: "retry", detail: { reason: "provider_token", error: (error as Error).message } };
    }
  }
}
