/**
 * The pool gate's crash points (src/state/pool-gate.ts): the pool object cannot be reached when
 * admitting (its mail is deferred as `pool_unavailable`, nothing submitted, nothing sent, and the
 * next round sends it), and cannot be reached when reporting after the send (the outcomes stand:
 * the messages the bridge took are not sent again; the lease lapses by itself). An account
 * without a delivery section never asks the pool object, so its mail goes either way.
 */
import { env } from "cloudflare:test";
import { expect, it } from "vitest";
import type { SmtpBatch } from "../../../src/core/bridge.ts";
import { deliverySection } from "../../../src/core/ip-pools.ts";
import type { SendOutcome } from "../../../src/core/outcome.ts";
import { poolPacing } from "../../../src/state/pool-gate.ts";
import type { PoolDO } from "../../../src/state/pool.ts";
import { unique } from "../helpers.ts";

type SmtpItem = SmtpBatch["items"][number];

const section = deliverySection.parse({ pools: [{ name: "tx", addresses: [{ ip: "192.0.2.10" }] }], defaultPool: "tx" });

function item(account: string, n: number): SmtpItem {
  return {
    id: crypto.randomUUID(),
    account,
    mailFrom: `bounce+${n}@bounces.pools.example`,
    rcptTo: `user${n}@receiver.example`,
    raw: `Subject: ${n}\r\n\r\nbody\r\n`,
    relay: { mode: "direct" },
  } as SmtpItem;
}

/** A POOLS namespace whose object fails the way the platform's do (a reset, an overload). */
function unreachable(failing: "admit" | "report"): DurableObjectNamespace<PoolDO> {
  const real = env.POOLS;
  return {
    idFromName: (name: string) => real.idFromName(name),
    get: (id: DurableObjectId) => {
      const stub = real.get(id) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      return new Proxy(stub, {
        get: (target, prop) =>
          prop === failing
            ? () => Promise.reject(new Error("Durable Object reset because its code was updated."))
            : (...args: unknown[]) => target[prop as string]!(...args),
      });
    },
  } as unknown as DurableObjectNamespace<PoolDO>;
}

/** The bridge, as the gate sees it: records what it was given and accepts it. */
function recordingSend() {
  const sent: SmtpItem[] = [];
  const send = async (items: SmtpItem[]): Promise<SendOutcome[]> => {
    sent.push(...items);
    return items.map((): SendOutcome => ({ kind: "accepted", detail: { providerMessageId: "250 2.0.0 queued" } }));
  };
  return { sent, send };
}

it("admit unreachable: the pool's mail is deferred (pool_unavailable, nothing submitted), the unpooled account's goes, and the next round sends it", async () => {
  const account = `acct-${unique()}`;
  const other = `acct-${unique()}`;
  const pooled = [item(account, 1), item(account, 2), item(account, 3)];
  const plain = item(other, 4);
  const round = [...pooled.map((i) => ({ item: i, delivery: section })), { item: plain, delivery: undefined }];

  const down = recordingSend();
  const deferred = await poolPacing({ POOLS: unreachable("admit"), DOH_URL: env.DOH_URL })(round, down.send);
  expect(down.sent.map((i) => i.id)).toEqual([plain.id]);
  expect(deferred.slice(0, 3)).toEqual(
    pooled.map(() => ({ kind: "retry", detail: expect.objectContaining({ reason: "pool_unavailable", submitted: "no", pool: "tx" }) })),
  );
  expect(deferred[3]).toMatchObject({ kind: "accepted" });

  // The queue retries the deferred ones; with the object back they leave, bound to the pool's address.
  const up = recordingSend();
  const retried = await poolPacing(env)(
    pooled.map((i) => ({ item: i, delivery: section })),
    up.send,
  );
  expect(up.sent.map((i) => [i.id, i.sourceAddress])).toEqual(pooled.map((i) => [i.id, "192.0.2.10"]));
  expect(retried.every((o) => o.kind === "accepted" && o.detail.pool === "tx")).toBe(true);
});

it("report unreachable after the send: the outcomes stand (what the bridge took is accepted, never sent twice)", async () => {
  const account = `acct-${unique()}`;
  const pooled = [item(account, 1), item(account, 2)];
  const bridge = recordingSend();
  const outcomes = await poolPacing({ POOLS: unreachable("report"), DOH_URL: env.DOH_URL })(
    pooled.map((i) => ({ item: i, delivery: section })),
    bridge.send,
  );
  expect(bridge.sent).toHaveLength(2);
  expect(outcomes.map((o) => o.kind)).toEqual(["accepted", "accepted"]);
});
