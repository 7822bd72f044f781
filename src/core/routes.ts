/**
 * Routes in order, for any channel that has more than one way out (email: the relay and the
 * hosted providers; SMS: SMPP binds and REST aggregators): which outcome passes a message on to
 * the next route, which pins it, and each route's circuit. Pure: the state lives in CircuitDO.
 */
import type { OutcomeDetail, SendOutcome } from "./outcome.ts";

const PASSING = new Set(["route_down", "route_auth", "route_misconfigured", "circuit_open"]);

/**
 * A route that certainly did not take the message and is down (or refuses our credentials):
 * the next route may take it. Anything that may have reached the provider stays on its route.
 */
export function passesOn(outcome: SendOutcome): boolean {
  if (outcome.kind !== "retry" || outcome.detail.submitted !== "no") return false;
  const status = Number(outcome.detail.status ?? 0);
  const reason = outcome.detail.reason;
  return PASSING.has(reason ?? "") || status === 502 || status === 503;
}

/** Reasons that blame the route rather than the message (a timeout, a bridge that cannot be reached). */
const UNHEALTHY = new Set([
  "network_error",
  "timeout",
  "route_down",
  "route_auth",
  "route_misconfigured",
  "bridge_unreachable",
  "bridge_error",
]);

/**
 * What the outcome says of the route's health: false for a failure that points at the route
 * (5xx, unreachable, credentials refused), true for an answer that shows it working (an
 * acceptance, or a refusal of this one message), null when it says nothing (an open circuit).
 */
export function routeHealthy(outcome: SendOutcome): boolean | null {
  if (outcome.detail.reason === "circuit_open") return null;
  if (outcome.kind !== "retry") return true;
  const status = Number(outcome.detail.status ?? 0);
  const reason = outcome.detail.reason;
  return !(status >= 500 || (reason !== undefined && UNHEALTHY.has(reason)));
}

/** Failures in a row that open a circuit, and how long it stays open before one probe may pass. */
export const CIRCUIT_THRESHOLD = 3;
export const CIRCUIT_COOL_DOWN_MS = 30_000;
/** How long a half-open circuit's probe is lent to one sender before another may probe. */
export const CIRCUIT_PROBE_LEASE_MS = 30_000;

export type Circuit = {
  state: "closed" | "open" | "half_open";
  /** Failures in a row (reset by a success). */
  failures: number;
  /** When it last opened (epoch ms); 0 while closed. */
  openedAt: number;
  /** Half-open: the probe is out until then (epoch ms). */
  probeUntil: number;
};

export const closedCircuit: Circuit = { state: "closed", failures: 0, openedAt: 0, probeUntil: 0 };

/**
 * Whether a sender may use the route now, and the circuit after asking. Closed admits; open
 * admits nothing until the cool-down ends, then turns half-open and lends one probe; a probe
 * that never reports back expires and the next asker probes.
 */
export function admit(circuit: Circuit, now: number, coolDownMs = CIRCUIT_COOL_DOWN_MS): { admitted: boolean; next: Circuit } {
  if (circuit.state === "closed") return { admitted: true, next: circuit };
  if (circuit.state === "open" && now < circuit.openedAt + coolDownMs) return { admitted: false, next: circuit };
  if (circuit.state === "half_open" && now < circuit.probeUntil) return { admitted: false, next: circuit };
  return { admitted: true, next: { ...circuit, state: "half_open", probeUntil: now + CIRCUIT_PROBE_LEASE_MS } };
}

/** The circuit after a sender reported what the route did: a success closes it, failures open it. */
export function observe(circuit: Circuit, healthy: boolean, now: number, threshold = CIRCUIT_THRESHOLD): Circuit {
  if (healthy) return closedCircuit;
  const failures = circuit.failures + 1;
  // A failed probe reopens at once; a closed circuit opens at the threshold.
  if (circuit.state === "half_open" || failures >= threshold) return { state: "open", failures, openedAt: now, probeUntil: 0 };
  return { ...circuit, failures };
}

/**
 * The route an event pins its message to: the one that took it (`accepted`) or may have
 * (`submitted: "maybe"`). From then on the route plan (SMS and email) offers that route alone.
 */
export function pinnedRoute(type: string, detail: Pick<OutcomeDetail, "route" | "submitted">): string | null {
  return detail.route !== undefined && (type === "accepted" || detail.submitted === "maybe") ? detail.route : null;
}
