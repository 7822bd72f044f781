import type { OutcomeDetail, SendOutcome } from "../core/outcome.ts";
import { passesOn } from "../core/routes.ts";

/**
 * What a sender asks of route circuits: whether a route may be used now (a half-open circuit
 * admits its one probe once), and what a send on it showed. The send consumer keeps them in
 * CircuitDO; `noCircuits` admits everything (an account with one route has nowhere to fail over to).
 */
export type Circuits = {
  admits(account: string, route: string): boolean;
  observe(account: string, route: string, outcome: SendOutcome): void;
};

export const noCircuits: Circuits = { admits: () => true, observe: () => {} };

type Named = { name: string; type: string };
export type Routed<R> = { outcome: SendOutcome; route: R; passed: Array<{ route: string; reason: unknown }> };

/**
 * Sends each job over its routes in order, one round per route position: every job still
 * pending goes to its current route together (so a round's relay or SMPP jobs share one bridge
 * request). A route that certainly did not take the job (`passesOn`: down, credentials refused,
 * circuit open) hands it to the next; any other outcome is final, so a job that may have been
 * taken is never offered to a second route. The last route's outcome is final whatever it is.
 */
export async function overRoutes<J extends { account: string }, R extends Named>(
  plans: ReadonlyArray<{ job: J; routes: readonly R[] }>,
  round: (legs: Array<{ job: J; route: R }>) => Promise<SendOutcome[]>,
  circuits: Circuits,
): Promise<Array<Routed<R>>> {
  const results: Array<Routed<R>> = new Array(plans.length);
  let pending = plans.map((plan, index) => ({ index, plan, at: 0, passed: [] as Routed<R>["passed"] }));
  while (pending.length > 0) {
    const outcomes: SendOutcome[] = new Array(pending.length);
    const legs: Array<{ job: J; route: R }> = [];
    const legOf: number[] = [];
    pending.forEach((entry, i) => {
      const route = entry.plan.routes[entry.at]!;
      if (!circuits.admits(entry.plan.job.account, route.name)) {
        outcomes[i] = {
          kind: "retry",
          detail: { reason: "circuit_open", submitted: "no", hint: `repeated failures on route ${route.name}` },
        };
        return;
      }
      legs.push({ job: entry.plan.job, route });
      legOf.push(i);
    });
    const sent = legs.length > 0 ? await round(legs) : [];
    sent.forEach((outcome, k) => {
      const i = legOf[k]!;
      circuits.observe(legs[k]!.job.account, legs[k]!.route.name, outcome);
      outcomes[i] = outcome;
    });
    const next: typeof pending = [];
    pending.forEach((entry, i) => {
      const route = entry.plan.routes[entry.at]!;
      const outcome = outcomes[i]!;
      if (passesOn(outcome) && entry.at + 1 < entry.plan.routes.length) {
        entry.passed.push({ route: route.name, reason: outcome.detail.reason });
        entry.at += 1;
        next.push(entry);
        return;
      }
      results[entry.index] = { outcome, route, passed: entry.passed };
    });
    pending = next;
  }
  return results;
}

/** The outcome as the MessageDO records it: the route that carried it, its type, and the routes it passed over. */
export function withRoute(outcome: SendOutcome, route: Named, passed: Routed<Named>["passed"], extra: OutcomeDetail = {}): SendOutcome {
  const detail: OutcomeDetail = {
    ...outcome.detail,
    route: route.name,
    routeType: route.type,
    ...extra,
    ...(passed.length > 0 ? { failedOver: passed } : {}),
  };
  return { ...outcome, detail };
}
