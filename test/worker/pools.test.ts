/**
 * IP pools, warm-up and destination throttles inside workerd: the `delivery` section through
 * its API, the pool object's rules on a clock the test drives (caps across calls as across
 * bridges, the rate over a minute, the slow-down and recovery, the reputation alert), and the
 * send path: relay mail bound to its pool's address, held back by a cap or a throttle as a
 * deferral (never a failure), a 421 slowing its destination. The bridge's binding itself is
 * proven against a real SMTP peer in test/node/bridge-source-address.test.ts.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deliverySection } from "../../src/core/ip-pools.ts";
import { utcDay } from "../../src/core/warmup.ts";
import { poolConfig } from "../../src/state/pool-gate.ts";
import { poolStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { installDoh } from "./doh-fake.ts";
import { installHooks } from "./hooks-fake.ts";
import { adminAccount, api, effectsDone, getMessage, json, postEvents, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

const today = utcDay(Date.now());

async function pooledAccount(delivery: Record<string, unknown>): Promise<AdminAccount> {
  const account = await adminAccount("Pools Co");
  const email = await json(
    await api("/v1/email/settings", {
      method: "PUT",
      key: account.key,
      json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["pools.example"], relay: { mode: "direct" } },
    }),
  );
  expect(email.status, JSON.stringify(email.body)).toBe(200);
  const res = await json(await api("/v1/email/delivery", { method: "PUT", key: account.key, json: delivery }));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return account;
}

const mail = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@pools.example",
  to,
  subject: "Pooled",
  text: "Hello",
  ...extra,
});

async function sendOk(account: AdminAccount, body: Record<string, unknown>): Promise<string> {
  const res = await send(body, { key: account.key });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const events = async (id: string, key: string) => (await getMessage(id, key)).body.events as Array<{ type: string; detail: any }>;

describe("the delivery section", () => {
  it("is validated with paths, read back, and deleted; a bad write changes nothing", async () => {
    const account = await pooledAccount({ pools: [{ name: "tx", addresses: [{ ip: "127.0.0.2" }] }], defaultPool: "tx" });
    const bad = await json(
      await api("/v1/email/delivery", {
        method: "PUT",
        key: account.key,
        json: { pools: [{ name: "tx", addresses: [{ ip: "nope" }] }], poolRules: [{ tag: "x", pool: "missing" }] },
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    const paths = (bad.body.error.details as Array<{ path: string }>).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["pools.0.addresses.0.ip"]));
    const read = await json(await api("/v1/email/delivery", { key: account.key }));
    expect(read.body.pools[0].addresses[0].ip).toBe("127.0.0.2");
    expect(read.body.reputation).toEqual({ bounceRate: 0.05, complaintRate: 0.001, minSent: 500 });
    expect((await api("/v1/email/delivery", { method: "DELETE", key: account.key })).status).toBe(204);
    expect((await api("/v1/email/delivery", { key: account.key })).status).toBe(404);
    expect((await json(await api("/v1/email/pools", { key: account.key }))).body).toEqual({ data: [] });
  });
});

describe("the pool object, on the test's clock", () => {
  const section = deliverySection.parse({
    pools: [
      {
        name: "mkt",
        addresses: [{ ip: "192.0.2.1" }, { ip: "192.0.2.2", warmup: { startedOn: "2026-01-01", schedule: [3, 6] } }],
      },
    ],
    destinations: [{ name: "google", domains: ["gmail.com"], perMinute: 600, concurrency: 50 }],
    reputation: { bounceRate: 0.1, complaintRate: 0.01, minSent: 10 },
  });

  it("a warming address's cap holds across calls (as across bridges) and starts again the next UTC day", async () => {
    const account = `acct-${unique()}`;
    const config = poolConfig(account, section, "mkt");
    const pool = poolStub(env, account, "mkt");
    const day1 = Date.parse("2026-01-01T10:00:00Z");
    const used: string[] = [];
    for (let call = 0; call < 4; call++) {
      const { admissions } = await pool.admit(config, [{}, {}, {}], day1 + call);
      for (const a of admissions) if (a.go) used.push(a.sourceAddress!);
      for (const a of admissions) if (!a.go) expect(a).toMatchObject({ reason: "warmup", limit: "daily_cap" });
    }
    expect(used.filter((ip) => ip === "192.0.2.2")).toHaveLength(3);
    expect(used.filter((ip) => ip === "192.0.2.1")).toHaveLength(6);
    // Waiting until the next UTC day: 14 hours.
    const refused = (await pool.admit(config, [{}, {}], day1 + 10)).admissions.find((a) => !a.go);
    expect(refused).toMatchObject({ go: false, retryAfter: 14 * 3600 });
    const day2 = (await pool.admit(config, [{}, {}, {}, {}, {}, {}], Date.parse("2026-01-02T00:00:01Z"))).admissions;
    expect(day2.filter((a) => a.go && a.sourceAddress === "192.0.2.2")).toHaveLength(3);
    const view = await pool.view(config, Date.parse("2026-01-02T00:00:02Z"));
    expect(view.addresses.find((a) => a.ip === "192.0.2.2")).toMatchObject({ dailyCap: 6, warming: true, today: { used: 3 } });
    expect(view.addresses.find((a) => a.ip === "192.0.2.1")).toMatchObject({ dailyCap: null, warming: false });
  });

  it("with overflow, the warming address's excess leaves from a warm one instead of waiting", async () => {
    const account = `acct-${unique()}`;
    const overflowing = deliverySection.parse({ ...section, pools: [{ ...section.pools[0], overflow: true }] });
    const config = poolConfig(account, overflowing, "mkt");
    const { admissions } = await poolStub(env, account, "mkt").admit(
      config,
      Array.from({ length: 12 }, () => ({})),
      Date.parse("2026-01-01T10:00:00Z"),
    );
    expect(admissions.every((a) => a.go)).toBe(true);
    expect(admissions.filter((a) => a.go && a.sourceAddress === "192.0.2.2")).toHaveLength(3);
  });

  it("holds a destination to its rate over any minute, halves it on a throttling reply and recovers", async () => {
    const account = `acct-${unique()}`;
    const config = poolConfig(account, deliverySection.parse({ ...section, pools: [] }), "default");
    const pool = poolStub(env, account, "default");
    const start = Date.parse("2026-01-01T10:00:00Z");
    const granted: number[] = [];
    // Batches of 40 every 250 ms for two minutes, each reported back at once.
    for (let t = start; t < start + 120_000; t += 250) {
      const { lease, admissions } = await pool.admit(
        config,
        Array.from({ length: 40 }, () => ({ destination: "google" })),
        t,
      );
      for (const a of admissions) {
        // Sent at its slot: the bridge holds a grant dated ahead.
        if (a.go) granted.push(t + (a.holdMs ?? 0));
        else expect(a).toMatchObject({ reason: "throttled", limit: "rate" });
      }
      await pool.report(
        config,
        lease,
        admissions.filter((a) => a.go).map(() => ({ destination: "google", kind: "accepted" as const })),
        t,
      );
    }
    for (let s = start; s + 60_000 <= start + 120_000; s += 250) {
      const inMinute = granted.filter((t) => t >= s && t < s + 60_000).length;
      expect(inMinute).toBeLessThanOrEqual(612);
      expect(inMinute).toBeGreaterThanOrEqual(588);
    }
    const { lease } = await pool.admit(config, [{ destination: "google" }], start + 120_000);
    await pool.report(config, lease, [{ destination: "google", kind: "retry", throttled: true }], start + 120_000);
    expect((await pool.view(config, start + 120_001)).destinations[0]).toMatchObject({ perMinute: 600, ratePerMinute: 300 });
    expect((await pool.view(config, start + 180_001)).destinations[0]).toMatchObject({ ratePerMinute: 600 });
  });

  it("never has more in flight than the concurrency, until the batch reports back", async () => {
    const account = `acct-${unique()}`;
    const config = poolConfig(
      account,
      deliverySection.parse({ destinations: [{ name: "google", domains: ["gmail.com"], perMinute: 60_000, concurrency: 5 }] }),
      "default",
    );
    const pool = poolStub(env, account, "default");
    const t = Date.parse("2026-01-01T10:00:00Z");
    const first = await pool.admit(
      config,
      Array.from({ length: 8 }, () => ({ destination: "google" })),
      t,
    );
    expect(first.admissions.filter((a) => a.go)).toHaveLength(5);
    expect(first.admissions.find((a) => !a.go)).toMatchObject({ reason: "throttled", limit: "concurrency" });
    expect((await pool.admit(config, [{ destination: "google" }], t + 1)).admissions[0]!.go).toBe(false);
    await pool.report(config, first.lease, [], t + 2);
    expect((await pool.admit(config, [{ destination: "google" }], t + 3)).admissions[0]!.go).toBe(true);
  });
});

describe("the send path", () => {
  it("binds relay mail to its pool's address, by tag and by default, and counts it per address", async () => {
    const account = await pooledAccount({
      pools: [
        { name: "tx", addresses: [{ ip: "127.0.0.2" }] },
        { name: "mkt", addresses: [{ ip: "127.0.0.3" }, { ip: "127.0.0.4" }] },
      ],
      defaultPool: "tx",
      poolRules: [{ tag: "newsletter", pool: "mkt" }],
    });
    const receipt = await sendOk(account, mail(`buyer-${unique()}@example.net`));
    const news = await Promise.all([1, 2].map(() => sendOk(account, mail(`reader-${unique()}@example.net`, { tags: ["newsletter"] }))));
    for (const id of [receipt, ...news]) await waitForStatus(id, "accepted", account.key);
    const source = (id: string) => bridge.relayed.find((item) => item.id === id)?.sourceAddress;
    expect(source(receipt)).toBe("127.0.0.2");
    expect(news.map(source).sort()).toEqual(["127.0.0.3", "127.0.0.4"]);
    const accepted = (await events(receipt, account.key)).find((e) => e.type === "accepted")!;
    expect(accepted.detail).toMatchObject({ sourceAddress: "127.0.0.2", pool: "tx" });
    const pools = await json(await api("/v1/email/pools", { key: account.key }));
    const mkt = pools.body.data.find((p: { pool: string }) => p.pool === "mkt");
    expect(mkt.addresses.map((a: any) => a.today.sent)).toEqual([1, 1]);
    expect(pools.body.data.map((p: { pool: string }) => p.pool)).toEqual(["tx", "mkt", "default"]);
  });

  it("holds mail over a warm-up cap back as a deferral with its wait, never a failure, and sends nothing for it", async () => {
    const account = await pooledAccount({
      pools: [{ name: "new", addresses: [{ ip: "127.0.0.5", warmup: { startedOn: today, schedule: [1] } }] }],
      defaultPool: "new",
    });
    const [first, second] = [
      await sendOk(account, mail(`a-${unique()}@example.net`)),
      await sendOk(account, mail(`b-${unique()}@example.net`)),
    ];
    await waitForStatus(first, "accepted", account.key);
    // The cap opens again at the next UTC day, past the tests' EMAIL_MAX_AGE_SECONDS (8 s): the
    // message ends `expired` with the warm-up's deferral as its last reply (in production it waits).
    const held = await waitForStatus(second, "expired", account.key);
    const expired = held.events.find((e: { type: string }) => e.type === "expired");
    expect(expired.detail.lastError).toMatchObject({ reason: "warmup", limit: "daily_cap", pool: "new", submitted: "no" });
    expect(bridge.relayed.some((item) => item.id === second)).toBe(false);
  });

  it("holds or defers what a destination's rate holds back, each to its slot; a 421 halves the rate", async () => {
    const account = await pooledAccount({ destinations: [{ name: "google", domains: ["gmail.com"], perMinute: 60 }] });
    const ids = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map(() => sendOk(account, mail(`r-${unique()}@gmail.com`))));
    const other = await sendOk(account, mail(`r-${unique()}@example.net`));
    for (const id of [...ids, other]) await waitForStatus(id, "accepted", account.key);
    // One a second: a grant within 5 s is held by the bridge until its slot, the rest deferred to theirs.
    const waited = await Promise.all(
      ids.map(async (id) => {
        const deferred = (await events(id, account.key)).some((e) => e.type === "deferred" && e.detail.reason === "throttled");
        const held = bridge.relayed.some((item) => item.id === id && (item.holdMs ?? 0) >= 500);
        return deferred || held;
      }),
    );
    expect(waited.filter(Boolean).length).toBeGreaterThanOrEqual(4);
    expect(bridge.relayed.find((item) => item.id === other)?.holdMs).toBeUndefined();
    expect((await events(other, account.key)).some((e) => e.type === "deferred")).toBe(false);

    const slowed = await sendOk(account, mail(`throttle-${unique()}@gmail.com`));
    await waitFor(async () => {
      const pools = await json(await api("/v1/email/pools", { key: account.key }));
      return pools.body.data[0].destinations[0].ratePerMinute === 30 ? true : null;
    }, "the destination's rate halved after the 421");
    await waitForStatus(slowed, "accepted", account.key);
  });

  it("a domain no entry names is the destination its MX hosts point at (asked over DoH once per isolate)", async () => {
    const doh = installDoh();
    try {
      const domain = `workspace-${unique()}.example`;
      doh.records.push({ name: domain, type: "MX", value: "aspmx.l.google.com", priority: 1 });
      const account = await pooledAccount({ destinations: [{ name: "google", mx: ["*.google.com"], perMinute: 60 }] });
      const ids = await Promise.all([1, 2, 3, 4, 5, 6].map(() => sendOk(account, mail(`staff-${unique()}@${domain}`))));
      for (const id of ids) await waitForStatus(id, "accepted", account.key);
      // Google's rate of one a second applied: grants held to their slots (or deferred to them).
      const paced = bridge.relayed.filter((item) => ids.includes(item.id) && (item.holdMs ?? 0) >= 1_000);
      const deferred = (await Promise.all(ids.map((id) => events(id, account.key)))).flat().filter((e) => e.type === "deferred");
      expect(paced.length + deferred.length).toBeGreaterThanOrEqual(1);
      for (const d of deferred) expect(d.detail).toMatchObject({ reason: "throttled", destination: "google", submitted: "no" });
      expect(doh.queries.filter((q) => q.name === domain && q.type === "MX").length).toBeGreaterThanOrEqual(1);
    } finally {
      doh.restore();
    }
  });

  it("counts feedback that comes back later (a DSN, a complaint) against the address the message left from, once", async () => {
    const account = await pooledAccount({ pools: [{ name: "tx", addresses: [{ ip: "127.0.0.6" }] }], defaultPool: "tx" });
    const [bounced, complained] = await Promise.all([1, 2].map(() => sendOk(account, mail(`later-${unique()}@example.net`))));
    for (const id of [bounced!, complained!]) await waitForStatus(id, "accepted", account.key);
    const feedback = [
      {
        id: `dsn-${bounced}`,
        account: account.id,
        messageId: bounced,
        type: "bounced",
        occurredAt: new Date().toISOString(),
        provider: "bridge",
        detail: { class: "hard", reason: "userunknown" },
      },
      {
        id: `arf-${complained}`,
        account: account.id,
        messageId: complained,
        type: "complained",
        occurredAt: new Date().toISOString(),
        provider: "bridge",
        detail: { feedbackType: "abuse" },
      },
    ];
    // Sent twice, as a provider's retry would: counted once.
    for (let i = 0; i < 2; i++) expect((await postEvents(feedback)).status).toBe(202);
    await waitForStatus(bounced!, "bounced", account.key);
    await effectsDone(bounced!, account.id);
    await effectsDone(complained!, account.id);
    const pools = await json(await api("/v1/email/pools", { key: account.key }));
    const tx = pools.body.data.find((p: { pool: string }) => p.pool === "tx");
    expect(tx.addresses[0]).toMatchObject({ ip: "127.0.0.6", today: { sent: 2, bounced: 1, complaints: 1 } });
  });

  it("raises pool.reputation_alert once when the day's bounce rate passes the threshold", async () => {
    const hooks = installHooks();
    try {
      const account = await pooledAccount({
        pools: [{ name: "tx", addresses: [{ ip: "127.0.0.2" }] }],
        defaultPool: "tx",
        reputation: { bounceRate: 0.3, complaintRate: 0.5, minSent: 4 },
      });
      const endpoint = await json(
        await api("/v1/webhook-endpoints", {
          method: "POST",
          key: account.key,
          json: { url: hooks.url("alerts"), eventTypes: ["pool.reputation_alert"] },
        }),
      );
      expect(endpoint.status, JSON.stringify(endpoint.body)).toBe(201);
      const ok = await Promise.all([1, 2].map(() => sendOk(account, mail(`fine-${unique()}@example.net`))));
      for (const id of ok) await waitForStatus(id, "accepted", account.key);
      const bounced = await Promise.all([1, 2].map(() => sendOk(account, mail(`bounce-${unique()}@example.net`))));
      for (const id of bounced) await waitForStatus(id, "bounced", account.key);
      const [alert] = await waitFor(() => (hooks.to("alerts").length > 0 ? hooks.to("alerts") : null), "the alert delivered");
      expect(alert!.event).toMatchObject({
        type: "pool.reputation_alert",
        data: { id: `pool:tx:${today}:bounce_rate`, pool: "tx", kind: "bounce_rate", threshold: 0.3, counts: { sent: 4, bounced: 2 } },
      });
      // One more bounce the same day: no second alert of that kind.
      const again = await sendOk(account, mail(`bounce-${unique()}@example.net`));
      await waitForStatus(again, "bounced", account.key);
      expect(hooks.to("alerts").filter((d) => d.event.type === "pool.reputation_alert")).toHaveLength(1);
    } finally {
      hooks.restore();
    }
  });
});
