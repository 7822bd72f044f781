/**
 * DELETE /v1/recipients/{channel}/{recipient}: a recipient's messages, timelines, index rows,
 * event-stream deliveries and MO messages go; the suppression stays under the hash and still
 * stops sends; the erasure is audited by the hash; and afterwards no row of any Durable Object
 * of any namespace holds the address or number.
 */
import { env, listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { erasedRecipient } from "../../src/core/retention.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { adminAccount, api, effectsDone, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";
import { installHooks } from "./hooks-fake.ts";

let bridge: ReturnType<typeof installBridge>;
let hooks: ReturnType<typeof installHooks>;
beforeAll(() => {
  bridge = installBridge();
  hooks = installHooks();
});
afterAll(() => {
  hooks.restore();
  bridge.restore();
});

async function emailAccount(): Promise<AdminAccount> {
  const account = await adminAccount("Erasure Co");
  const res = await api("/v1/email/settings", {
    method: "PUT",
    key: account.key,
    json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["erase.example"], relay: { mode: "direct" } },
  });
  expect(res.status).toBe(200);
  return account;
}

const mail = (to: string) => ({ channel: "email", from: "news@erase.example", to, subject: "Your order", text: "hello", tags: ["orders"] });

/** Every Durable Object namespace in wrangler.toml (BRIDGE, a container, keeps nothing). */
const STORES = [
  "MESSAGE",
  "RECIPIENT",
  "ACCOUNT",
  "TOKENS",
  "REFS",
  "CONFIG",
  "DIRECTORY",
  "LIMITER",
  "REPLAYS",
  "WEBHOOK_ENDPOINTS",
  "CIRCUITS",
] as const;

/** Every row of every table of every Durable Object of every namespace the Worker binds, as text. */
async function everyStoredRow(): Promise<string[]> {
  const rows: string[] = [];
  for (const name of STORES) {
    const namespace = env[name] as unknown as DurableObjectNamespace;
    for (const id of await listDurableObjectIds(namespace)) {
      const dump = await runInDurableObject(namespace.get(id), (_instance: unknown, state: DurableObjectState) => {
        const out: string[] = [];
        const tables = state.storage.sql
          .exec<{ name: string }>(
            `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`,
          )
          .toArray();
        for (const { name: table } of tables)
          for (const row of state.storage.sql.exec(`SELECT * FROM "${table}"`)) out.push(`${table}: ${JSON.stringify(row)}`);
        return out;
      });
      rows.push(...dump.map((row) => `${name} ${row}`));
    }
  }
  return rows;
}

describe("DELETE /v1/recipients/{channel}/{recipient}", () => {
  it("erases an address from every store, keeps its suppression as a hash, and audits it", async () => {
    const account = await emailAccount();
    const hook = `erase-${unique()}`;
    const endpoint = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(hook) }, key: account.key }));
    expect(endpoint.status).toBe(201);
    const victim = `Victim.${unique()}@Example.NET`;
    const other = `other-${unique()}@example.net`;

    const ids: string[] = [];
    for (const to of [victim, victim, other]) {
      const res = await send(mail(to), { key: account.key });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    for (const id of ids) {
      await waitForStatus(id, "accepted", account.key);
      await effectsDone(id, account.id);
    }
    const put = await api(`/v1/suppressions/email/${encodeURIComponent(victim)}`, { method: "PUT", key: account.key });
    expect(put.status).toBe(200);
    // The event stream has delivered events naming the victim in full (message.accepted, recipient.suppressed).
    await waitFor(
      () => hooks.to(hook).filter((d) => d.body.includes(victim.split("@")[0]!)).length >= 3,
      "the endpoint to have received the victim's events",
    );
    const before = await everyStoredRow();
    const needle = victim.split("@")[0]!.toLowerCase();
    expect(before.some((row) => row.toLowerCase().includes(needle))).toBe(true);

    const erased = await json(await api(`/v1/recipients/email/${encodeURIComponent(victim)}`, { method: "DELETE", key: account.key }));
    expect(erased.status).toBe(200);
    expect(erased.body).toEqual({ done: true, messages: 2, inbound: 0, suppressions: 1 });

    const traces = (await everyStoredRow()).filter((row) => row.toLowerCase().includes(needle));
    expect(traces).toEqual([]);

    // The victim's messages are gone from the API; the other recipient's are untouched.
    expect((await api(`/v1/messages/${ids[0]}`, { key: account.key })).status).toBe(404);
    expect((await api(`/v1/messages/${ids[1]}`, { key: account.key })).status).toBe(404);
    expect((await json(await api(`/v1/messages/${ids[2]}`, { key: account.key }))).body.status).toBe("accepted");
    const found = await json(await api(`/v1/messages?recipient=${encodeURIComponent(victim)}`, { key: account.key }));
    expect(found.body.data).toEqual([]);
    const kept = await json(await api(`/v1/messages?recipient=${encodeURIComponent(other)}`, { key: account.key }));
    expect(kept.body.data.map((m: { id: string }) => m.id)).toEqual([ids[2]]);

    // The suppression stands, by hash: the entry says so, the list shows the hash, a send is suppressed.
    const hash = await erasedRecipient(victim.replace(/@.*/, "@example.net"));
    const entry = await json(await api(`/v1/suppressions/email/${encodeURIComponent(victim)}`, { key: account.key }));
    expect(entry.status).toBe(200);
    expect(entry.body).toMatchObject({ recipient: hash, reason: "manual" });
    const list = await json(await api("/v1/suppressions?channel=email", { key: account.key }));
    expect(list.body.data.map((e: { recipient: string }) => e.recipient)).toEqual([hash]);

    const audit = await json(await api("/v1/audit", { key: account.key }));
    const entryOf = audit.body.data.find((a: { action: string }) => a.action === "recipient.erase");
    expect(entryOf).toMatchObject({ target: hash, change: { channel: "email", messages: 2, inbound: 0, done: true } });

    const again = await send(mail(victim), { key: account.key });
    expect(again.status).toBe(202);
    expect(again.body.status).toBe("suppressed");

    // Erasing again is harmless; lifting the suppression by the address still works.
    const repeat = await json(await api(`/v1/recipients/email/${encodeURIComponent(victim)}`, { method: "DELETE", key: account.key }));
    expect(repeat.body).toMatchObject({ done: true, messages: 1, suppressions: 1 });
    expect((await api(`/v1/suppressions/email/${encodeURIComponent(victim)}`, { method: "DELETE", key: account.key })).status).toBe(204);
    const after = await json(await api("/v1/suppressions?channel=email", { key: account.key }));
    expect(after.body.data).toEqual([]);
  });

  it("erases a number: its MO messages, and its opt-out pairs kept as hashes", async () => {
    const account = await adminAccount("Erasure SMS Co");
    const number = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
    const inbox = env.ACCOUNT.get(env.ACCOUNT.idFromName(account.id));
    for (const id of ["mo-1", "mo-2"])
      await inbox.recordInbound({
        id: `${id}-${unique()}`,
        route: "smpp",
        provider: "smpp",
        from: number,
        to: "12345",
        body: id === "mo-1" ? "STOP" : "hello again",
        keyword: id === "mo-1" ? "STOP" : null,
        replyId: null,
        receivedAt: new Date().toISOString(),
      });
    const pair = `${number}:12345`;
    for (const key of [number, pair])
      expect((await api(`/v1/suppressions/sms/${encodeURIComponent(key)}`, { method: "PUT", key: account.key })).status).toBe(200);
    const digits = number.slice(1);
    expect((await everyStoredRow()).some((row) => row.includes(digits))).toBe(true);

    const erased = await json(await api(`/v1/recipients/sms/${encodeURIComponent(number)}`, { method: "DELETE", key: account.key }));
    expect(erased.body).toEqual({ done: true, messages: 0, inbound: 2, suppressions: 2 });
    expect((await everyStoredRow()).filter((row) => row.includes(digits))).toEqual([]);
    expect((await json(await api("/v1/sms/inbound", { key: account.key }))).body.data).toEqual([]);
    // Both entries stand, by hash: the number's own and its opt-out of sender 12345.
    for (const key of [number, pair]) {
      const entry = await json(await api(`/v1/suppressions/sms/${encodeURIComponent(key)}`, { key: account.key }));
      expect(entry.body.recipient).toBe(await erasedRecipient(key));
    }
  });

  it("refuses a bad recipient or channel and a key without the scope, changing nothing", async () => {
    const account = await emailAccount();
    const bad = await json(await api("/v1/recipients/email/not-an-address", { method: "DELETE", key: account.key }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: "validation_failed", details: [{ path: "recipient" }] });
    expect((await api("/v1/recipients/pigeon/x@example.net", { method: "DELETE", key: account.key })).status).toBe(404);
    const readOnly = await json(
      await api("/v1/api-keys", { method: "POST", key: account.key, json: { name: "reader", scopes: ["read"] } }),
    );
    expect(readOnly.status).toBe(201);
    const refused = await api("/v1/recipients/email/x@example.net", { method: "DELETE", key: readOnly.body.key });
    expect(refused.status).toBe(403);
    const audit = await json(await api("/v1/audit", { key: account.key }));
    expect(audit.body.data.some((a: { action: string }) => a.action === "recipient.erase")).toBe(false);
  });
});
