import { BRIDGE_SMPP_PATH, bridgeServes } from "../core/bridge.ts";
import type { SendOutcome } from "../core/outcome.ts";
import { candidateRoutes, type SmsRoute } from "../core/sms/account.ts";
import { referenceFor } from "../core/sms/segment.ts";
import { sendBatchToBridge } from "./bridge.ts";
import { noCircuits, overRoutes, withRoute, type Circuits } from "./failover.ts";
import type { SmsJob } from "./job.ts";
import { parseDevHosts, routeUrlRefusal } from "../core/webhook-url.ts";
import { sendTwilio } from "./sms-rest.ts";
import { sendVonage } from "./sms-vonage.ts";

/**
 * Sends SMS jobs over each account's ordered routes (`overRoutes`). SMPP jobs for one bridge
 * route travel in one bridge request; REST jobs go one fetch each. A route that is down (no
 * bind up, REST 502/503 or an open circuit) passes the message to the next route; an answer
 * that leaves it unclear whether the route took the message (timeouts, 500) does not, and
 * pins the message to that route: a message is never submitted on two routes.
 */
export async function sendSmsBatch(jobs: SmsJob[], env: Env, circuits: Circuits = noCircuits): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = new Array(jobs.length);
  const plans: Array<{ index: number; job: SmsJob; routes: SmsRoute[] }> = [];
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
    plans.push({ index, job, routes });
  });
  const routed = await overRoutes(plans, (legs) => attempt(legs, env), circuits);
  routed.forEach(({ outcome, route, passed }, k) => {
    const first = outcome.detail.smscIds?.[0];
    outcomes[plans[k]!.index] = withRoute(outcome, route, passed, {
      ...(route.type === "smpp" ? { bridgeRoute: route.bridgeRoute ?? route.name } : {}),
      ...(first !== undefined && outcome.kind === "accepted" ? { providerMessageId: first } : {}),
    });
  });
  return outcomes;
}

/** One round: every pending job on its current route. */
async function attempt(pending: Array<{ job: SmsJob; route: SmsRoute }>, env: Env): Promise<SendOutcome[]> {
  const results: SendOutcome[] = new Array(pending.length);
  const smpp = new Map<string, number[]>();
  const work: Promise<void>[] = [];
  const devHosts = parseDevHosts(env.WEBHOOK_DEV_HOSTS);
  pending.forEach(({ job, route }, i) => {
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
    // The account's own base URL: held to the outbound URL rules before anything is sent.
    const refusal = routeUrlRefusal(route.baseUrl, devHosts);
    if (refusal) {
      results[i] = refusal;
      return;
    }
    work.push(
      (route.type === "vonage" ? sendVonage(route, job, env) : sendTwilio(route, job, env)).then((outcome) => {
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
