import { isDeliveryState, stateRank, terminalStates, type DeliveryState, type EventType } from "./model.ts";

/**
 * The message state machine: a state never moves to a lower rank, and a terminal state
 * never moves at all. Late or engagement events are still recorded by the caller; they
 * just leave the state where it is.
 *
 * @example
 * nextState("delivered", "accepted") // "delivered": the late `accepted` changes nothing
 */
export function nextState(current: DeliveryState, event: EventType): DeliveryState {
  if (!isDeliveryState(event) || terminalStates.has(current)) return current;
  return stateRank[event] > stateRank[current] ? event : current;
}

export function isTerminal(state: DeliveryState): boolean {
  return terminalStates.has(state);
}

/**
 * Counters a feedback event adds besides its state change (a soft bounce and a complaint move no
 * state, or not always): `bounce_hard` or `bounce_soft` by the bounce's class (undetermined is
 * soft: it suppresses nothing), `complained` for a complaint.
 */
export function feedbackOutcome(type: EventType, detail: Record<string, unknown>): "bounce_hard" | "bounce_soft" | "complained" | null {
  if (type === "bounced") return detail.class === "hard" ? "bounce_hard" : "bounce_soft";
  if (type === "complained") return "complained";
  return null;
}
