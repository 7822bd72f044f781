/**
 * What one send attempt came to, as every channel sender reports it. `accepted` is
 * custody by the next hop, never delivery; `retry` is transient (the queue tries again).
 */
export type SendOutcome =
  | { kind: "accepted"; detail: Record<string, unknown> }
  | { kind: "bounced"; detail: Record<string, unknown> }
  | { kind: "failed"; detail: Record<string, unknown> }
  | { kind: "retry"; retryAfter?: number; detail: Record<string, unknown> };
