/**
 * Email routes inside workerd: an account's ordered routes over the relay (the fake bridge) and
 * hosted providers (fakes of SendGrid's and Postmark's send APIs), failover only when a route
 * certainly did not take the message, pinning when it may have, circuits in CircuitDO, rules,
 * the route on the message and in /v1/stats, and provider ids mapped so a webhook that does not
 * echo our id still finds the message. End to end through the sandbox's simulators: test/node.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CIRCUIT_COOL_DOWN_MS, CIRCUIT_THRESHOLD } from "../../src/core/routes.ts";
import type { RefDO } from "../../src/state/ref.ts";
import { circuitStub, refStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { espFake, FAKE_POSTMARK, FAKE_SENDGRID } from "./esp-fake.ts";
import { adminAccount, api, effectsDone, getMessage, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";
import { sendgridSigner } from "./provider-signers.ts";

let bridge: ReturnType<typeof installBridge>;
let esp: ReturnType<typeof espFake>;
beforeEach(() => {
  esp = espFake();
  bridge = installBridge({ other: esp.handle });
});
afterEach(() => bridge.restore());

const SENDGRID = { name: "sg", type: "sendgrid", baseUrl: `https://${FAKE_SENDGRID.host}` };
const POSTMARK = { name: "pm", type: "postmark", baseUrl: `https://${FAKE_POSTMARK.host}` };
const RELAY = { name: "relay", type: "relay" };

async function routedAccount(routing: Record<string, unknown>, providers: Record<string, unknown> = {}): Promise<AdminAccount> {
  const account = await adminAccount("Routes Co");
  for (const [provider, body] of Object.entries({
    sendgrid: { apiKey: FAKE_SENDGRID.apiKey },
    postmark: { serverToken: FAKE_POSTMARK.serverToken },
    ...providers,
  })) {
    const res = await json(await api(`/v1/providers/${provider}`, { method: "PUT", json: body, key: account.key }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
  const res = await json(
    await api("/v1/email/settings", {
      method: "PUT",
      key: account.key,
      json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["routes.example"], relay: { mode: "direct" }, ...routing },
    }),
  );
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return account;
}

const mail = (extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@routes.example",
  fromName: "Routes",
  to: `reader-${unique()}@example.net`,
  subject: "Route me",
  text: "Hello",
  html: "<p>Hello</p>",
  tags: ["weekly"],
  ...extra,
});

async function sendOk(account: AdminAccount, body: Record<string, unknown>): Promise<string> {
  const res = await send(body, { key: account.key });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const acceptedDetail = (m: { events: Array<{ type: string; detail: any }> }) => m.events.find((e) => e.type === "accepted")!.detail;

describe("routes in order", () => {
  it("the first route carries the message: route and provider id on the message, the provider got our id and List-Unsubscribe", async () => {
    const account = await routedAccount({ routes: [SENDGRID, RELAY] });
    const id = await sendOk(account, mail({ listUnsubscribe: true }));
    const m = await waitForStatus(id, "accepted", account.key);
    expect(m.route).toBe("sg");
    expect(acceptedDetail(m)).toMatchObject({ route: "sg", routeType: "sendgrid", status: 202 });
    expect(m.providerMessageId).toBe(acceptedDetail(m).providerMessageId);
    const [call] = esp.of("sendgrid", id);
    expect(JSON.stringify(call!.body)).toContain(`"lasthop_id":"${id}"`);
    expect(call!.body.headers["List-Unsubscribe"]).toMatch(/^<https:\/\/.+\/u\/.+>, <mailto:unsubscribe\+/);
    expect(call!.body.headers["List-Unsubscribe-Post"]).toBe("List-Unsubscribe=One-Click");
    expect(bridge.relayed.some((item) => item.id === id)).toBe(false);
  });

  it("503 from the first route passes the message to the next, which carries it once; failedOver says why", async () => {
    const account = await routedAccount({ routes: [SENDGRID, POSTMARK, RELAY] });
    esp.mode.sendgrid = "503";
    const id = await sendOk(account, mail());
    const m = await waitForStatus(id, "accepted", account.key);
    expect(m.route).toBe("pm");
    expect(acceptedDetail(m)).toMatchObject({ route: "pm", routeType: "postmark", failedOver: [{ route: "sg", reason: "route_down" }] });
    expect(esp.of("postmark", id)).toHaveLength(1);
    expect(bridge.relayed.filter((item) => item.id === id)).toHaveLength(0);
  });

  it("credentials refused (401) pass the message on too: the provider certainly did not take it", async () => {
    const account = await routedAccount({ routes: [SENDGRID, RELAY] }, { sendgrid: { apiKey: "SG.wrong-key-for-this-test.000000" } });
    const id = await sendOk(account, mail());
    const m = await waitForStatus(id, "accepted", account.key);
    expect(m.route).toBe("relay");
    expect(acceptedDetail(m).failedOver).toEqual([{ route: "sg", reason: "route_auth" }]);
    expect(bridge.relayed.filter((item) => item.id === id)).toHaveLength(1);
  });

  it("500 is ambiguous: the message is pinned to that route, retried there, and never handed to the next", async () => {
    const account = await routedAccount({ routes: [SENDGRID, RELAY] });
    esp.mode.sendgrid = "500";
    const id = await sendOk(account, mail());
    const deferred = await waitForStatus(id, "deferred", account.key);
    expect(deferred.route).toBe("sg");
    expect(deferred.events.at(-1).detail).toMatchObject({ route: "sg", submitted: "maybe", status: 500 });
    // The retry (EMAIL_RETRY_BASE_SECONDS 1) goes to SendGrid again, and only there: even a 503,
    // which passes an unpinned message on, now only defers it.
    esp.mode.sendgrid = "503";
    await waitFor(async () => {
      const m = (await getMessage(id, account.key)).body;
      return m.events.some((e: { type: string; detail: any }) => e.type === "deferred" && e.detail.reason === "route_down");
    }, `a 503 deferral of ${id} on its pinned route`);
    expect(bridge.relayed.filter((item) => item.id === id)).toHaveLength(0);
    esp.mode.sendgrid = "ok";
    const m = await waitForStatus(id, "accepted", account.key);
    expect(m.route).toBe("sg");
    expect(bridge.relayed.filter((item) => item.id === id)).toHaveLength(0);
  });
});

describe("circuits (CircuitDO, one per account and channel)", () => {
  it(`opens after ${CIRCUIT_THRESHOLD} failures in a row, skips the route while open, and a good probe closes it`, async () => {
    const account = await routedAccount({ routes: [SENDGRID, RELAY] });
    esp.mode.sendgrid = "503";
    for (let i = 0; i < CIRCUIT_THRESHOLD; i++) {
      const id = await sendOk(account, mail());
      expect((await waitForStatus(id, "accepted", account.key)).route).toBe("relay");
    }
    const routes = await json(await api("/v1/routes", { key: account.key }));
    expect(routes.status).toBe(200);
    expect(routes.body.email).toEqual([
      { name: "sg", type: "sendgrid", circuit: { state: "open", failures: CIRCUIT_THRESHOLD, openedAt: expect.any(String) } },
      { name: "relay", type: "relay", circuit: { state: "closed", failures: 0 } },
    ]);
    // While open, SendGrid is not asked at all.
    const before = esp.calls.length;
    const skipped = await sendOk(account, mail());
    const m = await waitForStatus(skipped, "accepted", account.key);
    expect(acceptedDetail(m).failedOver).toEqual([{ route: "sg", reason: "circuit_open" }]);
    expect(esp.calls.length).toBe(before);
    // After the cool-down one probe goes through; SendGrid answers again, so the circuit closes.
    const stub = circuitStub(env, account.id, "email");
    await runInDurableObject(stub, (_i: unknown, state: DurableObjectState) => {
      state.storage.sql.exec(`UPDATE circuit SET opened_at = opened_at - ?`, CIRCUIT_COOL_DOWN_MS);
    });
    esp.mode.sendgrid = "ok";
    const probe = await sendOk(account, mail());
    expect((await waitForStatus(probe, "accepted", account.key)).route).toBe("sg");
    const after = await json(await api("/v1/routes", { key: account.key }));
    expect(after.body.email[0].circuit).toEqual({ state: "closed", failures: 0 });
  });
});

describe("choosing a route", () => {
  it("`route` on a send takes that route alone; an unknown name is a 422 that changes nothing", async () => {
    const account = await routedAccount({ routes: [RELAY, SENDGRID, POSTMARK] });
    const id = await sendOk(account, mail({ route: "pm" }));
    expect((await waitForStatus(id, "accepted", account.key)).route).toBe("pm");
    const bad = await send(mail({ route: "mailgun" }), { key: account.key });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatchObject({ code: "route_not_configured", details: [{ path: "route" }] });
  });

  it("a pinned message that names a route is still not failed over", async () => {
    const account = await routedAccount({ routes: [SENDGRID, RELAY] });
    esp.mode.sendgrid = "503";
    const id = await sendOk(account, mail({ route: "sg" }));
    const deferred = await waitForStatus(id, "deferred", account.key);
    expect(deferred.events.at(-1).detail).toMatchObject({ route: "sg", reason: "route_down", submitted: "no" });
    expect(bridge.relayed.filter((item) => item.id === id)).toHaveLength(0);
  });

  it("tag rules: transactional → relay, marketing → postmark then sendgrid", async () => {
    const account = await routedAccount({
      routes: [RELAY, SENDGRID, POSTMARK],
      rules: [
        { tag: "transactional", routes: ["relay"] },
        { tag: "marketing", routes: ["pm", "sg"] },
      ],
    });
    const t = await sendOk(account, mail({ tags: ["transactional"] }));
    const m = await sendOk(account, mail({ tags: ["marketing"] }));
    expect((await waitForStatus(t, "accepted", account.key)).route).toBe("relay");
    expect((await waitForStatus(m, "accepted", account.key)).route).toBe("pm");
    esp.mode.postmark = "503";
    const m2 = await sendOk(account, mail({ tags: ["marketing"] }));
    expect((await waitForStatus(m2, "accepted", account.key)).route).toBe("sg");
  });

  it("a weighted split sends each message where its id draws, and /v1/stats splits the counts by route", async () => {
    const account = await routedAccount({
      routes: [RELAY, SENDGRID],
      split: [
        { route: "relay", weight: 70 },
        { route: "sg", weight: 30 },
      ],
    });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await sendOk(account, mail()));
    const routes = new Map<string, number>();
    for (const id of ids) {
      const m = await waitForStatus(id, "accepted", account.key);
      routes.set(m.route, (routes.get(m.route) ?? 0) + 1);
    }
    // Both routes carry some (P(all 40 on one side) < 1e-6); the 1,000-message figure is in test/core and the e2e.
    expect(routes.get("relay")! + routes.get("sg")!).toBe(40);
    expect(routes.get("sg")).toBeGreaterThan(0);
    expect(routes.get("relay")).toBeGreaterThan(routes.get("sg")!);
    for (const id of ids) await effectsDone(id, account.id);
    const stats = await json(await api("/v1/stats?channel=email", { key: account.key }));
    const bucket = stats.body.buckets.find((b: { channel: string }) => b.channel === "email");
    expect(bucket.counts.accepted).toBe(40);
    expect(bucket.routes).toEqual({ relay: { accepted: routes.get("relay") }, sg: { accepted: routes.get("sg") } });
  });
});

describe("feedback through the provider id", () => {
  async function sendgridEvents(account: AdminAccount, signer: Awaited<ReturnType<typeof sendgridSigner>>, events: unknown[]) {
    const body = JSON.stringify(events);
    const res = await api(`/v1/webhooks/sendgrid/${account.id}`, { method: "POST", body, headers: await signer.headers(body), key: null });
    expect(res.status).toBe(200);
  }
  const held = (account: AdminAccount, providerId: string) =>
    runInDurableObject(refStub(env, account.id, "sendgrid", providerId), (_i: unknown, state: DurableObjectState) => {
      // The table comes with the first event held (state/tables.ts): none yet is none held.
      const made = state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE name = 'held_event'").toArray().length > 0;
      return made ? state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM held_event").one().n : 0;
    });

  it("an event that outruns the send result is held, then folded into the message when the id is mapped", async () => {
    const signer = await sendgridSigner();
    const account = await routedAccount(
      { routes: [SENDGRID] },
      { sendgrid: { apiKey: FAKE_SENDGRID.apiKey, webhookPublicKey: signer.publicKey } },
    );
    const body = mail();
    const providerId = `early${unique()}${unique()}`;
    // SendGrid's delivered event, without our id, before lasthop has recorded the send.
    await sendgridEvents(account, signer, [
      {
        email: body.to,
        event: "delivered",
        timestamp: Math.floor(Date.now() / 1000),
        sg_event_id: `ev-${unique()}${unique()}`,
        sg_message_id: `${providerId}.filter0001.16648.5515E0B88.0`,
        response: "250 2.0.0 OK",
      },
    ]);
    await waitFor(async () => (await held(account, providerId)) === 1, "the early event held in its RefDO");
    esp.next.sendgridId = providerId;
    const id = await sendOk(account, body);
    const delivered = await waitForStatus(id, "delivered", account.key);
    expect(delivered.external).toBeUndefined();
    await waitFor(async () => (await held(account, providerId)) === 0, "the held event deleted once applied");
  });

  it("a held event whose hold ends with no mapping is external mail after all (its bounce suppresses)", async () => {
    const signer = await sendgridSigner();
    const account = await routedAccount(
      { routes: [SENDGRID] },
      { sendgrid: { apiKey: FAKE_SENDGRID.apiKey, webhookPublicKey: signer.publicKey } },
    );
    const to = `gone-${unique()}@example.net`;
    const providerId = `elsewhere${unique()}${unique()}`;
    await sendgridEvents(account, signer, [
      {
        email: to,
        event: "bounce",
        type: "bounce",
        status: "5.1.1",
        reason: "550 5.1.1 The email account that you tried to reach does not exist",
        timestamp: Math.floor(Date.now() / 1000),
        sg_event_id: `ev-${unique()}${unique()}`,
        sg_message_id: `${providerId}.filter0001.16648.5515E0B88.0`,
      },
    ]);
    await waitFor(async () => (await held(account, providerId)) === 1, "the event held in its RefDO");
    expect((await api(`/v1/suppressions/email/${encodeURIComponent(to)}`, { key: account.key })).status).toBe(404);
    // The hold (PROVIDER_EVENT_HOLD_SECONDS) ends: the alarm's sweep, with the clock past it.
    await runInDurableObject(refStub(env, account.id, "sendgrid", providerId), (instance: RefDO) => instance.sweep(Date.now() + 3_600_000));
    expect(await held(account, providerId)).toBe(0);
    const entry = await waitFor(async () => {
      const res = await json(await api(`/v1/suppressions/email/${encodeURIComponent(to)}`, { key: account.key }));
      return res.status === 200 ? res.body : null;
    }, `${to} suppressed`);
    expect(entry.reason).toBe("hard_bounce");
    expect((await getMessage(entry.messageId, account.key)).body.external).toEqual({ provider: "sendgrid" });
  });

  it("a SendGrid event that does not echo our id finds the message through the X-Message-Id mapping", async () => {
    const signer = await sendgridSigner();
    const account = await routedAccount(
      { routes: [SENDGRID] },
      { sendgrid: { apiKey: FAKE_SENDGRID.apiKey, webhookPublicKey: signer.publicKey } },
    );
    const body = mail();
    const id = await sendOk(account, body);
    const m = await waitForStatus(id, "accepted", account.key);
    await effectsDone(id, account.id); // the RefDO mapping is an outbox effect
    const events = JSON.stringify([
      {
        email: body.to,
        event: "delivered",
        timestamp: Math.floor(Date.now() / 1000),
        sg_event_id: `ev-${unique()}${unique()}`,
        sg_message_id: `${m.providerMessageId}.filter0001.16648.5515E0B88.0`,
        response: "250 2.0.0 OK",
      },
    ]);
    const res = await api(`/v1/webhooks/sendgrid/${account.id}`, {
      method: "POST",
      body: events,
      headers: await signer.headers(events),
      key: null,
    });
    expect(res.status).toBe(200);
    const delivered = await waitForStatus(id, "delivered", account.key);
    expect(delivered.external).toBeUndefined();
    expect((await getMessage(id, account.key)).body.route).toBe("sg");
  });
});
