// The message search figure's Worker (bench/search.ts): `POST /fill` writes synthetic index rows
// into one account's shards in bulk, through AccountDO's own index(); `GET /v1/messages` is
// lasthop's own search (validation, recipient keys, the fan-out to every shard, the merge).
import type { IndexRow } from "../../src/core/message-search.ts";
import { searchMessages } from "../../src/api/messages.ts";
import { AccountDO } from "../../src/state/account.ts";
import { counterStubs } from "../../src/state/stubs.ts";

const BASE = Date.parse("2026-01-01T00:00:00Z");
const STATUSES = ["accepted", "accepted", "accepted", "delivered", "delivered", "delivered", "delivered", "bounced", "deferred", "failed"];

/** Message i of an account: deterministic, so every run indexes the same rows. */
export function syntheticRow(i: number): IndexRow {
  const created = new Date(BASE + i * 1000).toISOString();
  const tags = [...(i % 10 === 0 ? ["weekly"] : []), ...(i % 100 === 0 ? ["welcome"] : [])];
  return {
    id: `${i.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`,
    createdAt: created,
    updatedAt: created,
    channel: "email",
    status: STATUSES[i % STATUSES.length]!,
    recipientKey: `user${i % 50_000}@example.com`,
    to: `user${i % 50_000}@example.com`,
    tags,
    route: i % 3 === 0 ? "sendgrid" : "relay",
    provider: i % 3 === 0 ? "sendgrid" : "relay",
    providerMessageId: `pm-${i}`,
  };
}

export class BenchAccountDO extends AccountDO {
  /** Rows [from, to) whose id maps to this shard, in one transaction. */
  async fill(from: number, to: number, shard: number, shards: number): Promise<number> {
    let n = 0;
    this.ctx.storage.transactionSync(() => {
      for (let i = from; i < to; i++) {
        if (i % shards !== shard) continue;
        this.index(syntheticRow(i));
        n += 1;
      }
    });
    return n;
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const account = url.searchParams.get("account") ?? "bench";
    if (request.method === "POST" && url.pathname === "/fill") {
      const from = Number(url.searchParams.get("from"));
      const to = Number(url.searchParams.get("to"));
      // The rows go to the counter shards the way lasthop spreads messages: one per shard here.
      const shards = counterStubs(env, account).slice(1);
      const counts = await Promise.all(
        shards.map((stub, shard) => (stub as unknown as DurableObjectStub<BenchAccountDO>).fill(from, to, shard, shards.length)),
      );
      return Response.json({ indexed: counts.reduce((a, b) => a + b, 0) });
    }
    if (request.method === "GET" && url.pathname === "/v1/messages") {
      const query = Object.fromEntries([...url.searchParams].filter(([name]) => name !== "account"));
      return Response.json(await searchMessages(env, account, query));
    }
    return new Response("not found", { status: 404 });
  },
};
