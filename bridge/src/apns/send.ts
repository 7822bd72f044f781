/**
 * Sends one batch of APNs notifications through the session pool and maps each answer to an
 * outcome with the shared `apnsOutcome`. Items go out concurrently (the pool multiplexes
 * them); results come back in item order.
 *
 * An item that names one of the batch's credentials goes out with that credential's provider
 * token (an account's own, minted at the edge) on the sessions of its team and key; the token
 * lives as long as the batch. Only items without one use the bridge's own key (APNS_KEY).
 */
import type { Logger } from "pino";
import { apnsHeaders, apnsOutcome, type ApnsNotification } from "../../../src/core/apns.ts";
import { itemResultOf, type ApnsCredential, type ItemResult } from "../../../src/core/bridge.ts";
import type { SendOutcome } from "../../../src/core/outcome.ts";
import { reasonLabel, type Metrics } from "../metrics.ts";
import { TransportError, type Http2Pool, type PoolResponse } from "./pool.ts";
import type { ProviderTokens } from "./token.ts";

export type ApnsSenderOptions = {
  pool: Pick<Http2Pool, "request">;
  /** The bridge's own key; null when it has none (then only items with a credential can be sent). */
  tokens: Pick<ProviderTokens, "get" | "invalidate"> | null;
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

  send(items: Array<ApnsNotification & { credential?: number }>, credentials: readonly ApnsCredential[] = []): Promise<ItemResult[]> {
    return Promise.all(items.map((item) => this.#sendOne(item, item.credential === undefined ? undefined : credentials[item.credential])));
  }

  async #sendOne(item: ApnsNotification, credential: ApnsCredential | undefined): Promise<ItemResult> {
    const { metrics } = this.#options;
    const started = performance.now();
    metrics?.sent.inc({ channel: "apns" });
    const outcome = credential ? await this.#attemptWith(item, credential) : await this.#attempt(item);
    metrics?.outcomes.inc({ channel: "apns", kind: outcome.kind, reason: reasonLabel(outcome.detail) });
    metrics?.requestDuration.observe({ channel: "apns" }, (performance.now() - started) / 1000);
    return itemResultOf(item.id, outcome);
  }

  /** An item of an account with its own key: its token, on its team and key's sessions; an expired token is the edge's to replace. */
  async #attemptWith(item: ApnsNotification, credential: ApnsCredential): Promise<SendOutcome> {
    const { log } = this.#options;
    const origin = item.sandbox ? this.#options.sandboxOrigin : this.#options.productionOrigin;
    try {
      const response = await this.#options.pool.request(
        origin,
        `/3/device/${item.token}`,
        apnsHeaders(item, `bearer ${credential.token}`),
        JSON.stringify(item.payload),
        `${credential.teamId}.${credential.keyId}`,
      );
      const reason = errorBody(response)?.reason;
      if (reason === "InvalidProviderToken" && this.#reportedInvalid !== credential.token) {
        this.#reportedInvalid = credential.token;
        log.warn(
          { origin, apnsReason: reason, teamId: credential.teamId, keyId: credential.keyId },
          "APNs refused an account's provider token",
        );
      }
      return this.#outcome(item, origin, response);
    } catch (error) {
      return this.#transportFailure(item, origin, error);
    }
  }

  #outcome(item: ApnsNotification, origin: string, response: PoolResponse): SendOutcome {
    const outcome = apnsOutcome(
      response.status,
      errorBody(response),
      header(response, "retry-after"),
      header(response, "apns-id") ?? item.id,
    );
    if (response.incomplete) outcome.detail.incompleteBody = true;
    this.#options.log.debug({ id: item.id, origin, status: response.status, kind: outcome.kind }, "apns answer");
    return outcome;
  }

  #transportFailure(item: ApnsNotification, origin: string, error: unknown): SendOutcome {
    const { log } = this.#options;
    if (error instanceof TransportError) {
      log.debug({ id: item.id, origin, reason: error.reason, error: error.message }, "apns transport failure");
      return { kind: "retry", detail: { reason: error.reason === "timeout" ? "timeout" : "transport", error: error.message } };
    }
    // Signing the provider token failed (a key jose cannot use): nothing was sent.
    log.error({ id: item.id, error: (error as Error).message }, "apns send failed before sending");
    return { kind: "retry", detail: { reason: "provider_token", error: (error as Error).message } };
  }

  async #attempt(item: ApnsNotification): Promise<SendOutcome> {
    const { tokens, log } = this.#options;
    const origin = item.sandbox ? this.#options.sandboxOrigin : this.#options.productionOrigin;
    const path = `/3/device/${item.token}`;
    const body = JSON.stringify(item.payload);
    if (!tokens) {
      return {
        kind: "failed",
        detail: {
          reason: "configuration",
          hint: "this bridge has no APNs key of its own (APNS_KEY, APNS_KEY_ID, APNS_TEAM_ID) and the item carries no account credential",
        },
      };
    }
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
      return this.#outcome(item, origin, response);
    } catch (error) {
      return this.#transportFailure(item, origin, error);
    }
  }
}
