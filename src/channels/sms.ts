import { BRIDGE_SMPP_PATH, bridgeServes } from "../core/bridge.ts";
import type { OutcomeDetail, SendOutcome } from "../core/outcome.ts";
import { candidateRoutes, type SmsRoute } from "../core/sms/account.ts";
import { referenceFor } from "../core/sms/segment.ts";
import { sendBatchToBridge } from "./bridge.ts";
import type { SmsJob } from "./job.ts";
import { sendTwilio } from "./sms-rest.ts";
import { sendVonage } from "./sms-vonage.ts";

type Pending = { index: number; job: SmsJob; routes: SmsRoute[]; at: number; passed: Array<{ route: string; reason: unknown }> };

/** Consecutive 5xx (or unreachable) answers after which a REST route counts as down, and for how long. */
const CIRCUIT_THRESHOLD = 3;
const CIRCUIT_OPEN_MS = 30_000;

/**
 * Per isolate: each isolate learns on its own that a route is down, at the cost of a few
 * requests. Kept in memory on purpose: a shared DO would add a hop to every send.
 */
const circuits = new Map<string, { failures: number; openUntil: number }>();

function circuitOpen(key: string, now = Date.now()): boolean {
  return (circuits.get(key)?.openUntil ?? 0) > now;
}

function observe(key: string, outcome: SendOutcome): void {
  const status = Number(outcome.detail.status ?? 0);
  const unhealthy = outcome.kind === "retry" && (status >= 500 || outcome.detail.reason === "network_error");
  if (!unhealthy) return void circuits.delete(key);
  const state = circuits.get(key) ?? { failures: 0, openUntil: 0 };
  state.failures += 1;
  if (state.failures >= CIRCUIT_THRESHOLD) state.openUntil = Date.now() + CIRCUIT_OPEN_MS;
  circuits.set(key, state);
}

/** A route that certainly did not submit the message and is down: the next route may take it. */
function passesOn(outcome: SendOutcome): boolean {
  if (outcome.kind !== "retry" || outcome.detail.submitted !== "no") return false;
  const status = Number(outcome.detail.status ?? 0);
  return outcome.detail.reason === "route_down" || status === 502 || status === 503;
}

/**
 * Sends SMS jobs over each account's ordered routes. SMPP jobs for one bridge route travel in
 * one bridge request; REST jobs go one fetch each. A route that is down (no bind up, REST
 * 502/503 or an open circuit) passes the message to the next route; an answer
 * that leaves it unclear whether the route took the message (timeouts, 500) does not, and
 * pins the message to that route: a message is never submitted on two routes.
 */
export async function sendSmsBatch(jobs: SmsJob[], env: Env): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = new Array(jobs.length);
  let pending: Pending[] = [];
  jobs.forEach((job, index) => {
    const config = job.config.sections.sms;
    if (!config) {
      outcomes[index] = { kind: "failed", detail: { reason: "channel_not_configured", hint: "the account has no SMS settings" } };
      return;
    }
    const routes = candidateRoutes(config, job.request.route, job.route);
    if (routes.length === 0) {
      outcomes[index] = { kind: "failed", detail: { reason: "no_route", wanted: job.request.route ?? null, pinned: job.route ?? null } };
      return;
    }
    pending.push({ index, job, routes, at: 0, passed: [] });
  });

  while (pending.length > 0) {
    const results = await attempt(pending, env);
    const next: Pending[] = [];
    pending.forEach((entry, i) => {
      const route = entry.routes[entry.at]!;
      const outcome = results[i]!;
      if (passesOn(outcome) && entry.at + 1 < entry.routes.length) {
        entry.passed.push({ route: route.name, reason: outcome.detail.reason });
        entry.at += 1;
        next.push(entry);
        return;
      }
      outcomes[entry.index] = withRoute(outcome, route, entry);
    });
    pending = next;
  }
  return outcomes;
}

/** One round: every pending job on its current route. */
async function attempt(pending: Pending[], env: Env): Promise<SendOutcome[]> {
  const results: SendOutcome[] = new Array(pending.length);
  const smpp = new Map<string, number[]>();
  const work: Promise<void>[] = [];
  pending.forEach((entry, i) => {
    const route = entry.routes[entry.at]!;
    if (route.type === "smpp") {
      if (!bridgeServes(env, "sms")) {
        results[i] = {
          kind: "retry",
          detail: { reason: "route_down", submitted: "no", hint: "the bridge does not serve sms in this deployment" },
        };
        return;
      }
      const bridgeRoute = route.bridgeRoute ?? route.name;
      smpp.set(bridgeRoute, [...(smpp.get(bridgeRoute) ?? []), i]);
      return;
    }
    const key = `${entry.job.account}:${route.name}`;
    if (circuitOpen(key)) {
      results[i] = { kind: "retry", detail: { reason: "route_down", submitted: "no", hint: "repeated 5xx from this route" } };
      return;
    }
    work.push(
      (route.type === "vonage" ? sendVonage(route, entry.job, env) : sendTwilio(route, entry.job, env)).then((outcome) => {
        observe(key, outcome);
        results[i] = outcome;
      }),
    );
  });
  for (const [bridgeRoute, indexes] of smpp) {
    const items = indexes.map((i) => {
      const { job } = pending[i]!;
      return {
        id: job.id,
        route: bridgeRoute,
        from: job.request.from,
        to: job.request.to,
        body: job.request.body,
        reference: referenceFor(job.id),
      };
    });
    work.push(
      sendBatchToBridge(
        env,
        BRIDGE_SMPP_PATH,
        { items },
        items.map((item) => item.id),
      ).then((outcomes) => {
        indexes.forEach((i, k) => {
          results[i] = outcomes[k]!;
        });
      }),
    );
  }
  await Promise.all(work);
  return results;
}

/** The outcome as the MessageDO records it: which route (and bridge route) it was, and what it passed over. */
function withRoute(outcome: SendOutcome, route: SmsRoute, entry: Pending): SendOutcome {
  const first = outcome.detail.smscIds?.[0];
  const detail: OutcomeDetail = {
    ...outcome.detail,
    route: route.name,
    routeType: route.type,
    ...(route.type === "smpp" ? { bridgeRoute: route.bridgeRoute ?? route.name } : {}),
    ...(first !== undefined && outcome.kind === "accepted" ? { providerMessageId: first } : {}),
    ...(entry.passed.length > 0 ? { failedOver: entry.passed } : {}),
  };
  return { ...outcome, detail };
}
