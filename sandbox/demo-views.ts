// The three views of one demo message, each from its own evidence and nothing else: lasthop's
// (its state and timeline), the simulators' (what arrived at the last hop and what the hosted
// providers' webhooks said), the event-stream receiver's (the message.* events it was posted).
// Each reads to the same vocabulary (demo-mix.ts Outcome), so the tables can be compared.
import type { Outcome, Plan } from "./demo-mix.ts";

/** GET /v1/messages/:id, the fields the demo reads. */
export type MessageView = { id: string; status: string; route?: string; events?: Array<{ type: string }> };

/** An arrival in GET /_sandbox/received (store.ts Received, the fields the demo reads). */
export type Arrival = { channel: string; to: string; status: number; outcome: string; provider?: string; payload?: unknown };

/** A webhook the sandbox posted (GET /_sandbox/webhooks/sent). */
export type SentWebhook = { provider: string; event: string; recipient: string; status: number | null };

const TERMINAL: ReadonlySet<string> = new Set(["delivered", "bounced", "failed", "expired", "suppressed"]);

/** lasthop's view: a complaint is an engagement on a delivered message, so the timeline says it. */
export function lasthopOutcome(view: { status: string; events?: Array<{ type: string }> } | undefined): Outcome {
  if (!view) return "pending";
  if (view.events?.some((e) => e.type === "complained")) return "complained";
  if (TERMINAL.has(view.status) || view.status === "accepted") return view.status as Outcome;
  return "pending";
}

/**
 * Whether a message is done for the demo: it reached what its case expects, or an end it can
 * no longer leave (a delivered message that should be complained about still waits).
 */
export function settled(plan: Plan, outcome: Outcome): boolean {
  if (outcome === plan.expected) return true;
  if (outcome === "pending" || outcome === "accepted") return false;
  return !(plan.expected === "complained" && outcome === "delivered");
}

/** The simulators' view: what reached the last hop for this recipient, and what a provider said after. */
export function simulatorOutcome(plan: Plan, arrivals: readonly Arrival[], webhooks: readonly SentWebhook[]): Outcome {
  const channel = plan.body.channel as string;
  const mine = arrivals.filter((a) => a.channel === channel && arrivedFor(plan, a));
  // Nothing reached a last hop: lasthop held it back (or has not sent it yet).
  if (mine.length === 0) return "suppressed";
  if (channel === "email" && plan.provider) return espOutcome(plan, webhooks);
  if (channel === "email") {
    if (mine.some((a) => a.status === 250)) return "accepted";
    return mine.some((a) => a.status >= 500) ? "bounced" : "pending";
  }
  if (channel === "sms") {
    // The SMSC (or the aggregator) decided the receipt when it took the message.
    return mine.some((a) => a.outcome === "bounce") ? "bounced" : "delivered";
  }
  // Push: the last answer counts; a 429 is followed by the retry's answer.
  const last = mine.at(-1)!;
  if (last.outcome === "accepted") return "accepted";
  if (last.outcome === "gone") return "bounced";
  return last.outcome === "throttled" ? "pending" : "failed";
}

/** What the simulators' outcome was read from, for a message that is not as expected: each answer, each webhook and its reply. */
export function simulatorEvidence(plan: Plan, arrivals: readonly Arrival[], webhooks: readonly SentWebhook[]): string {
  const answers = arrivals.filter((a) => a.channel === plan.body.channel && arrivedFor(plan, a)).map((a) => `${a.status} ${a.outcome}`);
  const posted = plan.provider
    ? webhooks
        .filter((w) => w.provider === plan.provider && w.recipient.toLowerCase() === plan.recipient.toLowerCase())
        .map((w) => `${w.event} webhook answered ${w.status ?? "nothing yet"}`)
    : [];
  return [...answers, ...posted].join(", ") || "nothing arrived";
}

function arrivedFor(plan: Plan, a: Arrival): boolean {
  const channel = plan.body.channel;
  if (channel === "sms") return plan.marker !== undefined && JSON.stringify(a.payload ?? "").includes(plan.marker);
  if (channel === "email") {
    const provider = plan.provider ?? "smtp";
    return a.provider === provider && a.to.toLowerCase().split(", ").includes(plan.recipient.toLowerCase());
  }
  return a.to.toLowerCase() === plan.recipient.toLowerCase();
}

/** A hosted provider took it: its webhooks (answered 2xx by lasthop) say what became of it. */
function espOutcome(plan: Plan, webhooks: readonly SentWebhook[]): Outcome {
  const mine = webhooks.filter((w) => w.provider === plan.provider && w.recipient.toLowerCase() === plan.recipient.toLowerCase());
  if (mine.some((w) => w.status === null)) return "pending";
  const events = new Set(mine.filter((w) => w.status !== null && w.status >= 200 && w.status < 300).map((w) => w.event));
  if (events.has("complaint")) return "complained";
  if (events.has("bounce")) return "bounced";
  return events.has("delivered") ? "delivered" : "accepted";
}

/** The receiver's view: the message.* event types it was posted for the message, in arrival order. */
export function receiverOutcome(types: readonly string[] | undefined): Outcome {
  if (!types || types.length === 0) return "pending";
  if (types.includes("message.complained")) return "complained";
  const ends = types.map((t) => t.slice("message.".length)).filter((t) => TERMINAL.has(t));
  if (ends.length > 0) return ends.at(-1) as Outcome;
  return types.includes("message.accepted") ? "accepted" : "pending";
}

/** The receiver's deliveries as message id -> event types (each event once: deliveries are at least once). */
export function eventsByMessage(deliveries: ReadonlyArray<{ body: string }>): Map<string, string[]> {
  const byMessage = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const delivery of deliveries) {
    let event: { type?: unknown; data?: { id?: unknown; message?: { id?: unknown } } };
    try {
      event = JSON.parse(delivery.body);
    } catch {
      continue;
    }
    const id = event.data?.message?.id;
    if (typeof event.type !== "string" || !event.type.startsWith("message.") || typeof id !== "string") continue;
    const eventId = typeof event.data?.id === "string" ? event.data.id : null;
    if (eventId !== null) {
      if (seen.has(eventId)) continue;
      seen.add(eventId);
    }
    const list = byMessage.get(id) ?? [];
    list.push(event.type);
    byMessage.set(id, list);
  }
  return byMessage;
}
