// The cost instrumentation (src/state/meter.ts): what it counts when METER is "1", and that it is
// nothing at all otherwise. The whole-stack count of a message is in test/node/e2e.test.ts.
import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { meterSnapshot, metered, meteredSql, QUEUE_OP_BYTES, queueOps } from "../../src/state/meter.ts";
import { accountStub } from "../../src/state/stubs.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { api, json } from "./helpers.ts";

const on = () => ({ ...env, METER: "1" }) as Env;
const delta = (before: Record<string, number>, key: string) => (meterSnapshot()[key] ?? 0) - (before[key] ?? 0);

describe("cost meter", () => {
  it("is off unless METER is 1: the env is returned as it is, and the admin route answers 404 meter_off", async () => {
    expect(metered(env)).toBe(env);
    const sql = {} as SqlStorage;
    expect(meteredSql(env, sql)).toBe(sql);
    const res = await json(await api("/v1/admin/meter", { key: env.ADMIN_API_KEY }));
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("meter_off");
    expect((await api("/v1/admin/meter", { key: "not-the-admin" })).status).toBe(401);
  });

  it("counts a Durable Object request per RPC call, per binding and method", async () => {
    const before = meterSnapshot();
    const stats = await accountStub(metered(on()), ACCOUNT_A).stats("2020-01-01T00:00:00.000Z", "2020-01-02T00:00:00.000Z");
    expect(stats).toEqual([]);
    expect(delta(before, "do.ACCOUNT")).toBe(1);
    expect(delta(before, "do.ACCOUNT.stats")).toBe(1);
  });

  it("counts Queue writes per 64 KB of each message, for send and sendBatch", async () => {
    expect(queueOps({ a: 1 })).toBe(1);
    expect(queueOps("x".repeat(QUEUE_OP_BYTES + 1))).toBe(2);
    // A queue of our own, so no consumer in this test runtime sees these bodies.
    const sent: unknown[] = [];
    const queue = { send: async (b: unknown) => void sent.push(b), sendBatch: async (m: { body: unknown }[]) => void sent.push(...m) };
    const wrapped = metered({ METER: "1", Q: queue } as unknown as { METER: string; Q: Queue });
    const before = meterSnapshot();
    await wrapped.Q.send({ small: true });
    await wrapped.Q.sendBatch([{ body: "y".repeat(QUEUE_OP_BYTES * 2 + 5) }, { body: { n: 1 } }]);
    expect(delta(before, "queue.write")).toBe(1 + 3 + 1);
    expect(sent).toHaveLength(3);
  });

  it("counts the SQLite rows an object writes and reads", async () => {
    await runInDurableObject(accountStub(env, `${ACCOUNT_A}:meter-test`), async (_instance, state) => {
      const sql = meteredSql(on(), state.storage.sql);
      sql.exec(`CREATE TABLE IF NOT EXISTS meter_probe (n INTEGER)`);
      await Promise.resolve();
      const before = meterSnapshot();
      for (let n = 0; n < 3; n++) sql.exec(`INSERT INTO meter_probe (n) VALUES (?)`, n);
      expect(sql.exec<{ n: number }>(`SELECT n FROM meter_probe`).toArray()).toHaveLength(3);
      await Promise.resolve(); // the counts are taken once the statement's turn ends
      expect(delta(before, "sql.write")).toBe(3);
      expect(delta(before, "sql.read")).toBeGreaterThanOrEqual(3);
    });
  });
});
