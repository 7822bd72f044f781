// Order and replay: a provider delivers one message's events in any order, each up to ten
// times. Whatever it does, the message ends as the unique events in order make it: the same
// state, the same timeline ids, the same suppression and the same counters.
import { env, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ProviderEvent } from "../../src/core/provider-event.ts";
import { messageStub, recipientStub, refStub } from "../../src/state/stubs.ts";
import { applyProviderEvent } from "../../src/queues/events.ts";
import type { MessageView } from "../../src/state/types.ts";
import { counters, minus } from "./counters.ts";
import { effectsDone } from "./helpers.ts";
import { within } from "../wait.ts";

const provider = "sendgrid";
/** One account for every run (runs are sequential): counters are compared as each run's change. */
const ACCOUNT = "order-property";
const BATCH = 4;

/** One external message's events, as SendGrid would report them (ids stable per run). */
function eventsFor(run: string): ProviderEvent[] {
  const base = {
    account: ACCOUNT,
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

/** Applies `deliveries` in order, a few at a time, and says what the stores then hold about run `run`'s message. */
async function outcome(run: string, deliveries: ProviderEvent[]) {
  const before = await counters(ACCOUNT);
  // A few at a time, as a queue batch would apply them.
  for (let i = 0; i < deliveries.length; i += BATCH) {
    await Promise.all(deliveries.slice(i, i + BATCH).map((event) => within(applyProviderEvent(env, event), `apply ${event.id}`, 10_000)));
  }
  const first = deliveries[0]!;
  const message = await waitForMessage(run);
  await effectsDone(message.id, ACCOUNT);
  const suppression = await recipientStub(env, ACCOUNT, "email", first.recipient).check();
  const anonymous = (text: string) => text.replaceAll(message.id, "<message>").replaceAll(run, "<run>");
  return {
    status: message.status,
    timeline: message.events.map((e: { id: string }) => anonymous(e.id)).sort(),
    suppression: suppression ? { reason: suppression.reason, sourceEventId: anonymous(suppression.sourceEventId ?? "") } : null,
    counts: minus(await counters(ACCOUNT), before),
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
    const expected = await outcome("ref", eventsFor("ref"));
    expect(expected.status).toBe("delivered");
    expect(expected.suppression?.reason).toBe("complaint");
    // The complaint counts once (it moves no state), however often and in whatever order it came.
    expect(expected.counts).toEqual({ accepted: 1, delivered: 1, complained: 1 });

    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 6, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        async (copies, randomness) => {
          const run = `p${n++}`;
          const deliveries = eventsFor(run).flatMap((event, i) => Array.from({ length: copies[i]! }, () => event));
          // Fisher–Yates driven by fast-check's stream, so a failure shrinks and replays.
          const it = randomness[Symbol.iterator]();
          for (let i = deliveries.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
          }
          expect(await outcome(run, deliveries)).toEqual(expected);
        },
      ),
      { numRuns: 100, endOnFailure: true },
    );
  });
});
