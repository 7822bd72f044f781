/**
 * The bridge's SMPP side: one `SmppRoute` per entry of SMPP_ROUTES, bound from start to close.
 * `send` takes a batch of the edge's `smppItem`s (POST /v1/smpp/send) and answers one result per
 * item, in order; `health` and `bindCounts` feed /healthz and /metrics.
 *
 * A batch has one deadline (`batchTimeoutMs` from its start): no part is written after it, and
 * items still waiting for a bind, a window slot or the rate come back `retry` with
 * reason `batch_deadline`. A part already written still gets its full response timeout, so a
 * batch answers within batchTimeoutMs + responseTimeoutMs.
 */
import type { Logger } from "pino";
import { itemResultOf, type ItemResult } from "../../../src/core/bridge.ts";
import type { SmppConfig } from "../config.ts";
import { reasonLabel, type Metrics, type SmppBindCounts } from "../metrics.ts";
import { SmppRoute, type BindHealth, type RouteOutcome, type SmppItem } from "./route.ts";
import { keepRawMessages } from "./pdu.ts";

export type SmppHealth = { routes: Record<string, { binds: BindHealth[]; up: number }> };

export type SmppServiceOptions = SmppConfig & {
  secret: string;
  log: Logger;
  metrics: Metrics;
  /** Random in [0, 1) for reconnect jitter (tests). */
  random?: () => number;
};

export class SmppService {
  readonly routes: Map<string, SmppRoute>;
  readonly #options: SmppServiceOptions;
  #closing: Promise<void> | undefined;

  constructor(options: SmppServiceOptions) {
    keepRawMessages();
    this.#options = options;
    this.routes = new Map(
      options.routes.map((config) => [
        config.name,
        new SmppRoute({
          config,
          edgeUrl: options.edgeUrl,
          edgeTimeoutMs: options.edgeTimeoutMs,
          moReassemblyMs: options.moReassemblyMs,
          secret: options.secret,
          log: options.log,
          metrics: options.metrics,
          ...(options.random ? { random: options.random } : {}),
        }),
      ]),
    );
  }

  /** Starts binding every route (in the background: binds come up, or keep retrying, on their own). */
  start(): void {
    for (const route of this.routes.values()) route.start();
  }

  send(items: SmppItem[]): Promise<ItemResult[]> {
    const deadline = performance.now() + this.#options.batchTimeoutMs;
    return Promise.all(items.map((item) => this.#sendOne(item, deadline)));
  }

  async #sendOne(item: SmppItem, deadline: number): Promise<ItemResult> {
    const { metrics } = this.#options;
    const started = performance.now();
    const route = this.routes.get(item.route);
    let outcome: RouteOutcome;
    if (!route) {
      outcome = { kind: "failed", detail: { reason: "unknown_route", route: item.route } };
    } else if (this.#closing) {
      outcome = { kind: "retry", detail: { reason: "shutting_down", route: item.route, submitted: "no" } };
    } else {
      metrics.sent.inc({ channel: "sms" });
      try {
        outcome = await route.send(item, deadline);
      } catch (error) {
        // segmentSms refuses a body over 255 parts; the schema's 1,600 characters never get there.
        this.#options.log.error({ err: error, route: item.route }, "smpp: item failed before it was submitted");
        outcome = {
          kind: "failed",
          detail: { reason: "invalid_message", route: item.route, error: error instanceof Error ? error.message : String(error) },
        };
      }
    }
    metrics.outcomes.inc({ channel: "sms", kind: outcome.kind, reason: reasonLabel(outcome.detail) });
    metrics.requestDuration.observe({ channel: "sms" }, (performance.now() - started) / 1000);
    return itemResultOf(item.id, outcome);
  }

  health(): SmppHealth {
    const routes: SmppHealth["routes"] = {};
    for (const [name, route] of this.routes) {
      const binds = route.health();
      routes[name] = { binds, up: binds.filter((b) => b.state === "up").length };
    }
    return { routes };
  }

  bindCounts(): SmppBindCounts {
    const counts: SmppBindCounts = {};
    for (const [name, route] of this.routes) {
      const byState = { down: 0, binding: 0, up: 0 };
      for (const bind of route.health()) byState[bind.state]++;
      counts[name] = byState;
    }
    return counts;
  }

  /** Graceful stop of every route (see SmppRoute.close), bounded by `ms`. Safe to call more than once. */
  close(ms: number): Promise<void> {
    this.#closing ??= Promise.all([...this.routes.values()].map((route) => route.close(ms))).then(() => undefined);
    return this.#closing;
  }
}
