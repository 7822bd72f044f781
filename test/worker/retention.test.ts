/**
 * Retention: the account's policy through /v1/retention, the `scheduled` handler handing it to
 * every index shard, bodies dropped at `bodyDays` and whole messages at `timelineDays` (the API,
 * the search and the MessageDO agree), suppressions kept, the MO inbox expired, and the work
 * done in bounded batches that an alarm chains until nothing is due.
 */
import { createScheduledController, env, runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import type { AccountDO } from "../../src/state/account.ts";
import { counterStub, messageStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { adminAccount, api, effectsDone, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeAll(() => {
  bridge = installBridge();
});
afterAll(() => bridge.restore());

const DAY = 86_400_000;

async function emailAccount(): Promise<AdminAccount> {
  const account = await adminAccount("Retention Co");
  const res = await api("/v1/email/settings", {
    method: "PUT",
    key: account.key,
    json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["keep.example"], relay: { mode: "direct" } },
  });
  expect(res.status).toBe(200);
  return account;
}

async function storedRequest(account: string, id: string): Promise<Record<string, unknown> | null> {
  return runInDurableObject(messageStub(env, account, id), (_i: unknown, state: DurableObjectState) => {
    const row = state.storage.sql.exec<{ request: string }>("SELECT request FROM message").toArray()[0];
    return row ? (JSON.parse(row.request) as Record<string, unknown>) : null;
  });
}

function indexRow(id: string, createdAt: string) {
  return {
    id,
    createdAt,
    updatedAt: createdAt,
    channel: "email" as const,
    status: "delivered",
    recipientKey: `${id}@example.net`,
    to: `${id}@example.net`,
    tags: ["old"],
  };
}

async function indexedCount(shard: DurableObjectStub<AccountDO>): Promise<number> {
  return runInDurableObject(shard, (_i: unknown, state: DurableObjectState) => {
    const rows = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_index").one().n;
    const tags = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM message_tag").one().n;
    return rows + tags;
  });
}

describe("/v1/retention", () => {
  it("validates, stores and shows the policy, in the audit log", async () => {
    const account = await emailAccount();
    expect((await api("/v1/retention", { key: account.key })).status).toBe(404);
    const bad = await json(await api("/v1/retention", { method: "PUT", key: account.key, json: { timelineDays: 5, bodyDays: 9 } }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([expect.objectContaining({ path: "bodyDays" })]);
    const zero = await json(await api("/v1/retention", { method: "PUT", key: account.key, json: { timelineDays: 0 } }));
    expect(zero.status).toBe(400);
    const put = await json(await api("/v1/retention", { method: "PUT", key: account.key, json: { timelineDays: 10 } }));
    expect(put.status).toBe(200);
    expect(put.body).toEqual({ timelineDays: 10, bodyDays: 7 });
    expect((await json(await api("/v1/retention", { key: account.key }))).body).toEqual({ timelineDays: 10, bodyDays: 7 });
    const audit = await json(await api("/v1/audit", { key: account.key }));
    expect(audit.body.data.some((a: { action: string; target: string }) => a.action === "config.put" && a.target === "retention")).toBe(
      true,
    );
  });
});

describe("retention", () => {
  it("drops bodies, then whole messages, by the account's policy; suppressions stay", async () => {
    const account = await emailAccount();
    expect((await api("/v1/retention", { method: "PUT", key: account.key, json: { timelineDays: 10, bodyDays: 2 } })).status).toBe(200);
    const to = `keep-${unique()}@example.net`;
    const res = await send(
      { channel: "email", from: "news@keep.example", to, subject: "Secret plans", text: "the body", tags: ["t1"] },
      { key: account.key },
    );
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await waitForStatus(id, "accepted", account.key);
    await effectsDone(id, account.id);
    expect((await api(`/v1/suppressions/email/${encodeURIComponent(to)}`, { method: "PUT", key: account.key })).status).toBe(200);

    // The scheduled handler hands every account's policy to its shards (nothing is old yet).
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env);
    expect((await storedRequest(account.id, id))?.subject).toBe("Secret plans");

    const shard = counterStub(env, account.id, id) as unknown as DurableObjectStub<AccountDO>;
    // Three days on: the body is gone, the message and its timeline are not.
    await shard.retentionPass(Date.now() + 3 * DAY);
    const stripped = await storedRequest(account.id, id);
    expect(stripped).toEqual({ channel: "email", to, from: "news@keep.example", tags: ["t1"], bodyExpired: true });
    const view = await json(await api(`/v1/messages/${id}`, { key: account.key }));
    expect(view.status).toBe(200);
    expect(view.body.events.map((e: { type: string }) => e.type)).toContain("accepted");

    // Eleven days on: the message, its timeline and its search row are gone; the suppression is not.
    await shard.retentionPass(Date.now() + 11 * DAY);
    expect((await api(`/v1/messages/${id}`, { key: account.key })).status).toBe(404);
    expect(await storedRequest(account.id, id)).toBeNull();
    const found = await json(await api(`/v1/messages?recipient=${encodeURIComponent(to)}`, { key: account.key }));
    expect(found.body.data).toEqual([]);
    expect((await json(await api(`/v1/suppressions/email/${encodeURIComponent(to)}`, { key: account.key }))).body.reason).toBe("manual");
  });

  it("works in bounded batches, and the alarm chains them until nothing is due", async () => {
    const account = `retention-${unique()}`;
    const shard = counterStub(env, account, "a") as unknown as DurableObjectStub<AccountDO>;
    // A pass's size is small here (each purge makes a MessageDO, slow in tests); production's is RETENTION_BATCH.
    const batch = 20;
    const total = 2 * batch + 5;
    const old = new Date(Date.now() - 400 * DAY).toISOString();
    await runInDurableObject(shard, (instance: AccountDO) => {
      for (let i = 0; i < total; i++) instance.index(indexRow(`m${String(i).padStart(4, "0")}`, old));
      // The policy alone, without starting the alarm, so this test drives each pass itself.
      (instance as unknown as { retainer: { setPolicy(a: string, p: unknown, b?: number): void } }).retainer.setPolicy(
        account,
        {
          timelineDays: 30,
          bodyDays: 7,
        },
        batch,
      );
    });
    expect(await indexedCount(shard)).toBe(2 * total);
    const more: boolean[] = [];
    const left: number[] = [];
    for (let pass = 0; pass < 3; pass++) {
      more.push(await shard.retentionPass(Date.now()));
      left.push((await indexedCount(shard)) / 2);
    }
    expect(left).toEqual([total - batch, total - 2 * batch, 0]);
    expect(more).toEqual([true, true, false]);

    // Through retain(): the object's alarm runs pass after pass by itself.
    const other = counterStub(env, `${account}-alarm`, "a") as unknown as DurableObjectStub<AccountDO>;
    await runInDurableObject(other, (instance: AccountDO) => {
      for (let i = 0; i < total; i++) instance.index(indexRow(`n${String(i).padStart(4, "0")}`, old));
    });
    await other.retain(`${account}-alarm`, { timelineDays: 30, bodyDays: 7 }, batch);
    await waitFor(async () => (await indexedCount(other)) === 0, "the alarm's passes to expire every old row");
  });

  it("expires the MO inbox: bodies at bodyDays, entries at timelineDays", async () => {
    const account = `inbox-${unique()}`;
    const inbox = env.ACCOUNT.get(env.ACCOUNT.idFromName(account)) as unknown as DurableObjectStub<AccountDO>;
    const now = Date.now();
    for (const [id, daysAgo] of [
      ["fresh", 1],
      ["week", 8],
      ["month", 40],
    ] as const) {
      await inbox.recordInbound({
        id,
        route: "smpp",
        provider: "smpp",
        from: "+15550001111",
        to: "12345",
        body: `hello ${id}`,
        keyword: null,
        replyId: null,
        receivedAt: new Date(now - daysAgo * DAY).toISOString(),
      });
    }
    await runInDurableObject(inbox, (instance: AccountDO) => {
      (instance as unknown as { retainer: { setPolicy(a: string, p: unknown, b?: number): void } }).retainer.setPolicy(account, {
        timelineDays: 30,
        bodyDays: 7,
      });
    });
    await inbox.retentionPass(now);
    const page = await inbox.listInbound(undefined, 10);
    // Newest first: the order they were recorded in, reversed.
    expect(page.items.map((m) => [m.id, m.body])).toEqual([
      ["week", ""],
      ["fresh", "hello fresh"],
    ]);
  });
});
