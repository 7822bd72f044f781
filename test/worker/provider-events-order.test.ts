// Order and replay: a provider delivers one message's events in any order, each up to ten
// times. Whatever it does, the message ends as the unique events in order make it: the same
// state, the same timeline ids, the same suppression and the same counters.
import { env, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ProviderEvent } from "../../src/core/provider-event.ts";
import { mergeBuckets } from "../../src/state/account.ts";
import { counterStubs, messageStub, recipientStub, refStub } from "../../src/state/stubs.ts";
import { applyProviderEvent } from "../../src/queues/events.ts";
import type { MessageView } from "../../src/state/types.ts";
import { effectsDone } from "./helpers.ts";

const provider = "sendgrid";

/** One external message's events, as SendGrid would report them (ids stable per run). */
function eventsFor(run: string): ProviderEvent[] {
  const base = {
    account: `order-${run}`,
    provider,
    channel: "email" as const,
    recipient: `r-${run}@example.com`,
    providerMessageId: `sg-${run}`,
  };
  const at = (s: number) => new Date(Date.UTC(2026, 11, 5, 12, 0, s)).toISOString();
  return [
    { ...base, id: `sendgrid:${run}:processed`, type: "accepted", occurredAt: at(0), detail: { providerType: "processed" } },
    { ...base, id: `sendgrid:${run}:deferred`, type: "deferred", occurredAt: at(1), detail: { providerType: "deferred" } },
    { ...base, id: `sendgrid:${run}:delivered`, type: "delivered", occurredAt: at(2), detail: { providerType: "delivered" } },
    { ...base, id: `sendgrid:${run}:open`, type: "opened", occurredAt: at(3), detail: { providerType: "open" } },
    {
      ...base,
      id: `sendgrid:${run}:click`,
      type: "clicked",
      occurredAt: at(4),
      detail: { providerType: "click", url: "https://example.com" },
    },
    {
      ...base,
      id: `sendgrid:${run}:spamreport`,
      type: "complained",
      occurredAt: at(5),
      detail: { providerType: "spamreport", feedbackType: "abuse" },
    },
  ];
}

/** What the stores say about run `run`'s message, its own ids written as `<run>` and `<message>`. */
async function outcome(run: string) {
  const events = eventsFor(run);
  const first = events[0]!;
  const message = await waitForMessage(run);
  await effectsDone(message.id, first.account);
  const suppression = await recipientStub(env, first.account, "email", first.recipient).check();
  const buckets = mergeBuckets(
    await Promise.all(counterStubs(env, first.account).map((s) => s.stats("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"))),
  );
  const counts = buckets.reduce<Record<string, number>>((sum, b) => {
    for (const [k, n] of Object.entries(b.counts)) sum[k] = (sum[k] ?? 0) + n;
    return sum;
  }, {});
  const anonymous = (text: string) => text.replaceAll(message.id, "<message>").replaceAll(run, "<run>");
  return {
    status: message.status,
    timeline: message.events.map((e: { id: string }) => anonymous(e.id)).sort(),
    suppression: suppression ? { reason: suppression.reason, sourceEventId: anonymous(suppression.sourceEventId ?? "") } : null,
    counts,
  };
}

/** The external message of run `run`, found through its RefDO (the only index of external ids). */
async function waitForMessage(run: string) {
  const first = eventsFor(run)[0]!;
  const id = await runInDurableObject(
    refStub(env, first.account, provider, first.providerMessageId),
    (_i: unknown, state: DurableObjectState) => {
      return state.storage.sql.exec<{ message_id: string }>("SELECT message_id FROM external").one().message_id;
    },
  );
  const view = (await messageStub(env, first.account, id).get()) as MessageView | null;
  if (!view) throw new Error(`no external message for run ${run}`);
  return view;
}

describe("provider events: order and replay", () => {
  it("100 shuffles with 1–10 deliveries of each event end exactly as the unique events in order", async () => {
    const reference = "ref";
    for (const event of eventsFor(reference)) await applyProviderEvent(env, event);
    const expected = await outcome(reference);
    expect(expected.status).toBe("delivered");
    expect(expected.suppression?.reason).toBe("complaint");

    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 6, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        async (copies, randomness) => {
          const run = `p${n++}`;
          const deliveries = eventsFor(run).flatMap((event, i) => Array.from({ length: copies[i]! }, () => event));
          // Fisher–Yates driven by fast-check's stream, so a failure shrinks and replays.
          const order = [...deliveries];
          const it = randomness[Symbol.iterator]();
          for (let i = order.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [order[i], order[j]] = [order[j]!, order[i]!];
          }
          // A few at a time, as a queue batch would apply them.
          for (let i = 0; i < order.length; i += 4) await Promise.all(order.slice(i, i + 4).map((event) => applyProviderEvent(env, event)));
          expect(await outcome(run)).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });
});
