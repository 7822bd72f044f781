// Exactly-once counters: a count whose answer is lost is retried by the outbox and counted once;
// the marks that make it so stay bounded by their window, however many events go through.
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { EventsQueueBody } from "../../../src/queues/events.ts";
import { consumeEvents } from "../../../src/queues/events.ts";
import { COUNT_DEDUPE_MS, CountLedger, MARK_BUCKET_MS } from "../../../src/state/count-ledger.ts";
import type { MessageDO } from "../../../src/state/message.ts";
import { accountStub, counterStub, messageStub } from "../../../src/state/stubs.ts";
import { ACCOUNT_A } from "../../fixtures.ts";
import { counters, minus } from "../counters.ts";
import { api, effectsDone, send, waitForStatus, webpush } from "../helpers.ts";
import { installPushService } from "../push-service.ts";

/** The ACCOUNT namespace as seen by a caller whose every count reaches its shard and whose answer never comes back. */
function answersLost(real: DurableObjectNamespace) {
  let counted = 0;
  const namespace = {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id) as unknown as { countMany: (...args: unknown[]) => Promise<boolean> };
      return {
        countMany: async (...args: unknown[]) => {
          await stub.countMany(...args);
          counted++;
          throw new Error("network connection lost (the count was made)");
        },
      };
    },
  };
  return { namespace, made: () => counted };
}

describe("exactly-once counters", () => {
  it("a count whose answer was lost is retried by the outbox and counted once; the index row moves with it", async () => {
    const push = installPushService();
    try {
      const res = await send(await webpush("lost-answer"));
      await waitForStatus(res.body.id, "accepted");
      await effectsDone(res.body.id);
      const id = res.body.id as string;
      const before = await counters(ACCOUNT_A);
      const stub = messageStub(env, ACCOUNT_A, id);

      const lost = await runInDurableObject(stub, async (instance: MessageDO) => {
        const real = (instance as any).env;
        const fault = answersLost(real.ACCOUNT);
        (instance as any).env = { ...real, ACCOUNT: fault.namespace };
        try {
          await instance.apply({
            id: "lost-answer:delivered",
            type: "delivered",
            occurredAt: new Date().toISOString(),
            provider: "test",
            detail: {},
          });
        } finally {
          (instance as any).env = real;
        }
        return fault.made();
      });
      expect(lost).toBe(1);
      // The shard took the count; the MessageDO does not know, and keeps it first in its outbox.
      expect(minus(await counters(ACCOUNT_A), before)).toEqual({ delivered: 1 });
      const waiting = await runInDurableObject(
        stub,
        (_i: unknown, state: DurableObjectState) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n,
      );
      expect(waiting).toBeGreaterThan(0);

      // The outbox's alarm runs the count again, with the same seq: nothing more is counted.
      expect(await runDurableObjectAlarm(stub)).toBe(true);
      await effectsDone(id);
      expect(minus(await counters(ACCOUNT_A), before)).toEqual({ delivered: 1 });
      const search = await api(`/v1/messages?status=delivered&limit=100`);
      const found = ((await search.json()) as { data: Array<{ id: string; status: string }> }).data.find((m) => m.id === id);
      expect(found?.status).toBe("delivered");
    } finally {
      push.restore();
    }
  });

  it("a queue redelivery of an event for no message counts it unlinked once", async () => {
    const account = "exactly-once-unlinked";
    const event = {
      id: `evt-${crypto.randomUUID()}`,
      account,
      messageId: "no-such-message",
      type: "delivered",
      occurredAt: new Date().toISOString(),
      provider: "bridge",
      detail: {},
    } as EventsQueueBody;
    const before = await accountStub(env, account).stats("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
    expect(before).toEqual([]);
    const acked: string[] = [];
    const batch = () =>
      ({
        queue: "lasthop-events",
        messages: [
          { id: "m", timestamp: new Date(), attempts: 1, body: event, ack: () => acked.push("ack"), retry: () => acked.push("retry") },
        ],
        ackAll() {},
        retryAll() {},
      }) as unknown as MessageBatch<EventsQueueBody>;
    await consumeEvents(batch(), env);
    await consumeEvents(batch(), env);
    expect(acked).toEqual(["ack", "ack"]);
    const after = await accountStub(env, account).stats("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z");
    expect(after.map((b) => b.counts)).toEqual([{ unlinked: 1 }]);
  });

  it("the marks stay bounded: a shard keeps the messages counted within the window, not every event", async () => {
    // Ten days of 2,000 messages a day, five counts each, on one shard's ledger with the clock driven.
    const perDay = 2_000;
    const days = 10;
    const sizes = await runInDurableObject(counterStub(env, "ledger-bound", "m"), (_i: unknown, state: DurableObjectState) => {
      const ledger = new CountLedger(state.storage.sql);
      const start = Date.UTC(2026, 0, 1);
      const sizes: number[] = [];
      let counted = 0;
      for (let day = 0; day < days; day++) {
        for (let m = 0; m < perDay; m++) {
          const at = start + day * 86_400_000 + Math.floor((m / perDay) * 86_400_000);
          for (let seq = 1; seq <= 5; seq++) {
            // Each count, then its retry (a lost answer): only the first counts.
            if (ledger.claim({ subject: `d${day}m${m}`, seq }, at)) counted++;
            expect(ledger.claim({ subject: `d${day}m${m}`, seq }, at)).toBe(false);
          }
        }
        sizes.push(ledger.size());
      }
      expect(counted).toBe(perDay * days * 5);
      return sizes;
    });
    const window = (COUNT_DEDUPE_MS / 86_400_000) * perDay;
    // One mark per message of the last window, kept by the hour: at most an hour's more (plus the
    // few the next claims will prune).
    for (const size of sizes) expect(size).toBeLessThanOrEqual(window + (MARK_BUCKET_MS / 86_400_000) * perDay + perDay * 0.01);
    expect(sizes.at(-1)).toBeGreaterThanOrEqual(window);
  });
});
