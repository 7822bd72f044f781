/**
 * A customer's webhook receiver for the Worker tests, at https://hooks.test/<name>: records
 * every delivery (headers, raw body) and answers as told, in order (`then(500)`, `then(410)`,
 * `hang()`), 200 when nothing is queued. The endpoints' objects run in this isolate, so their
 * fetch reaches it. The sandbox's receiver (sandbox/hooks.ts) plays the same part end to end.
 */
import { Webhook } from "standardwebhooks";

export const HOOKS_HOST = "hooks.test";

export type Delivery = { name: string; headers: Record<string, string>; body: string; event: any };
type Answer = { status: number; headers?: Record<string, string>; hang?: boolean; hold?: Promise<void> };

export function installHooks() {
  const received: Delivery[] = [];
  const answers = new Map<string, Answer[]>();
  const inFlight = new Map<string, { now: number; max: number }>();
  const previous = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    // The URL first: a Request made of another host's request would take its body (a send's form).
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== HOOKS_HOST) return previous(input, init);
    const request = new Request(input, init);
    const name = url.pathname.slice(1);
    const body = await request.text();
    received.push({ name, headers: Object.fromEntries(request.headers), body, event: JSON.parse(body) });
    const answer = answers.get(name)?.shift() ?? { status: 200 };
    const flight = inFlight.get(name) ?? { now: 0, max: 0 };
    inFlight.set(name, flight);
    flight.now += 1;
    flight.max = Math.max(flight.max, flight.now);
    try {
      await answer.hold;
    } finally {
      flight.now -= 1;
    }
    if (answer.hang) {
      // Until the caller gives up: its abort signal is the only way out.
      await new Promise<void>((_, reject) => request.signal.addEventListener("abort", () => reject(request.signal.reason)));
    }
    return new Response(answer.status === 204 ? null : JSON.stringify({ status: answer.status }), {
      status: answer.status,
      headers: answer.headers,
    });
  };
  return {
    url: (name: string) => `https://${HOOKS_HOST}/${name}`,
    to: (name: string) => received.filter((d) => d.name === name),
    /** The most deliveries to `name` that were being answered at once. */
    maxInFlight: (name: string) => inFlight.get(name)?.max ?? 0,
    answer(name: string, ...queued: Answer[]) {
      answers.set(name, [...(answers.get(name) ?? []), ...queued]);
    },
    restore() {
      globalThis.fetch = previous;
    },
  };
}

/** Verifies a delivery with the standardwebhooks package, as a customer would; throws when it does not verify. */
export function verified(delivery: Delivery, secret: string): unknown {
  return new Webhook(secret).verify(delivery.body, delivery.headers);
}
