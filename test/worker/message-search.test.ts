/**
 * GET /v1/messages: the account's messages newest first, each filter on its own and combined,
 * pages that cover every match once, and bad input refused with the field named.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { messageStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { adminAccount, api, effectsDone, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

async function emailAccount(): Promise<AdminAccount> {
  const account = await adminAccount("Search Co");
  const res = await api("/v1/email/settings", {
    method: "PUT",
    key: account.key,
    json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["search.example"], relay: { mode: "direct" } },
  });
  expect(res.status).toBe(200);
  return account;
}

const mail = (to: string, tags: string[]) => ({ channel: "email", from: "news@search.example", to, subject: "Find me", text: "hi", tags });

async function search(account: AdminAccount, query: string) {
  return json(await api(`/v1/messages${query ? `?${query}` : ""}`, { key: account.key }));
}

describe("GET /v1/messages", () => {
  it("filters by recipient, channel, status, tag, route, provider and provider id; pages newest first", async () => {
    const account = await emailAccount();
    const alice = `alice-${unique()}@example.net`;
    const bob = `bounce-${unique()}@example.net`;
    const sent: Array<{ id: string; to: string; tags: string[] }> = [];
    for (const [to, tags] of [
      [alice, ["welcome"]],
      [bob, ["welcome", "weekly"]],
      [alice, ["weekly"]],
      [`carol-${unique()}@example.net`, []],
      [alice, ["weekly"]],
    ] as Array<[string, string[]]>) {
      const res = await send(mail(to, tags), { key: account.key });
      expect(res.status).toBe(202);
      sent.push({ id: res.body.id, to, tags });
    }
    for (const { id, to } of sent) {
      await waitForStatus(id, to === bob ? "bounced" : "accepted", account.key);
      await effectsDone(id, account.id);
    }
    const ids = (page: { body: { data: Array<{ id: string }> } }) => page.body.data.map((m) => m.id);

    const all = await search(account, "");
    expect(all.status).toBe(200);
    // Newest first by creation time (messages made in the same millisecond order by id).
    const times = all.body.data.map((m: { createdAt: string }) => m.createdAt);
    expect(times).toEqual([...times].sort().reverse());
    expect([...ids(all)].sort()).toEqual(sent.map((m) => m.id).sort());
    const newestFirst = ids(all).map((id) => sent.find((m) => m.id === id)!);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.data[0]).toMatchObject({ channel: "email", status: "accepted", route: "relay", provider: "relay", tags: ["weekly"] });
    expect(all.body.data[0].recipientKey).toBeUndefined();

    const mixedCase = alice.replace(/@.*/, (domain) => domain.toUpperCase());
    expect(ids(await search(account, `recipient=${encodeURIComponent(mixedCase)}`))).toEqual(
      newestFirst.filter((m) => m.to === alice).map((m) => m.id),
    );
    expect(ids(await search(account, "status=bounced"))).toEqual(sent.filter((m) => m.to === bob).map((m) => m.id));
    expect(ids(await search(account, "tag=weekly"))).toEqual(newestFirst.filter((m) => m.tags.includes("weekly")).map((m) => m.id));
    expect(ids(await search(account, `tag=weekly&recipient=${encodeURIComponent(alice)}&status=accepted`))).toEqual(
      newestFirst.filter((m) => m.tags.includes("weekly") && m.to === alice).map((m) => m.id),
    );
    expect(ids(await search(account, "channel=sms"))).toEqual([]);
    expect(ids(await search(account, "route=relay&provider=relay&channel=email"))).toHaveLength(4); // the bounce was never accepted by a route
    const one = all.body.data[0];
    expect(ids(await search(account, `providerMessageId=${encodeURIComponent(one.providerMessageId)}`))).toEqual([one.id]);
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(ids(await search(account, `from=${encodeURIComponent(future)}`))).toEqual([]);
    expect(ids(await search(account, `until=${encodeURIComponent(future)}&limit=1`))).toEqual([newestFirst[0]!.id]);

    // Pages of 2: every message once, in order.
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await search(account, `limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      paged.push(...ids(page));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(newestFirst.map((m) => m.id));
  });

  it("a message's index row follows its state", async () => {
    const account = await emailAccount();
    const res = await send(mail(`soft-${unique()}@example.net`, []), { key: account.key });
    await waitForStatus(res.body.id, "deferred", account.key);
    await waitFor(
      async () => (await search(account, "status=accepted")).body.data.some((m: { id: string }) => m.id === res.body.id),
      "the retry's acceptance in the index",
    );
    expect((await search(account, "status=deferred")).body.data).toEqual([]);
  });

  it("an event received before the last one but applied after it still moves the index row", async () => {
    // A provider's `delivered` that came before our send result is held, then applied with its
    // own (earlier) receivedAt: the row must still show `delivered`.
    const account = await emailAccount();
    const res = await send(mail(`late-${unique()}@example.net`, []), { key: account.key });
    const accepted = await waitForStatus(res.body.id, "accepted", account.key);
    await effectsDone(res.body.id, account.id);
    const earlier = new Date(Date.parse(accepted.updatedAt) - 50).toISOString();
    const applied = await messageStub(env, account.id, res.body.id).apply({
      id: `held-${unique()}`,
      type: "delivered",
      occurredAt: earlier,
      receivedAt: earlier,
      provider: "sendgrid",
      detail: {},
    });
    expect(applied).toMatchObject({ kind: "applied", state: "delivered" });
    await effectsDone(res.body.id, account.id);
    const row = (await search(account, `status=delivered`)).body.data.find((m: { id: string }) => m.id === res.body.id);
    expect(row).toMatchObject({ status: "delivered", updatedAt: accepted.updatedAt });
  });

  it.each([
    ["status=nearly", "status"],
    ["channel=pigeon", "channel"],
    ["limit=0", "limit"],
    ["limit=101", "limit"],
    ["from=yesterday", "from"],
    ["cursor=not-a-cursor", "cursor"],
    ["colour=red", ""],
  ])("%s → 400 naming %s", async (query, path) => {
    const account = await emailAccount();
    const res = await search(account, query);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    if (path) expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });
});
