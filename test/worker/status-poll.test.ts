/**
 * The status poll (issue 19): the `scheduled` handler's 5-minute cron asks a REST SMS route's
 * Messages API about messages stuck in `accepted`, through the Worker's own handler with a fake
 * aggregator (test/worker/sms-fake.ts: Basic auth checked per account, Twilio's error bodies).
 * The clock is the controller's `scheduledTime`: "20 minutes later" is a run dated so, never a wait.
 * Each test has its own accounts (their own Twilio account sids and tokens).
 */
import { createScheduledController, env, runInDurableObject, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import worker from "../../src/index.ts";
import { POLL_CRON } from "../../src/core/poll/schedule.ts";
import { twilioSignature } from "../../src/core/sms/twilio.ts";
import { counterStubs, messageStub } from "../../src/state/stubs.ts";
import { TEST_SMS_REST_HOST, TEST_TWILIO } from "../fixtures.ts";
import { waitFor } from "../wait.ts";
import { adminAccount, api, effectsDone, eventsMarker, getMessage, json, send, unique, waitForStatus } from "./helpers.ts";
import { mailgunSignature } from "./provider-signers.ts";
import { installHooks } from "./hooks-fake.ts";
import { installSms } from "./sms-fake.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
let fake: ReturnType<typeof installSms>;
let known: Array<{ accountSid: string; authToken: string }>;
beforeEach(() => {
  known = [TEST_TWILIO];
  fake = installSms({ restAccounts: known });
});
afterEach(() => fake.restore());

/** One run of the poll, dated `at`. */
async function poll(at: number): Promise<void> {
  await worker.scheduled!(createScheduledController({ scheduledTime: at, cron: POLL_CRON }), env);
}

const hex = (n: number) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
const digits = () => String(1_000_000 + Math.floor(Math.random() * 8_999_999));

/** A fresh account whose one SMS route is a REST route with its own Twilio account. */
async function restAccount(opts: { knownToProvider?: boolean } = {}) {
  const a = await adminAccount();
  const twilio = { accountSid: `AC${hex(16)}`, authToken: `tok-${unique()}-${unique()}` };
  const sender = `+1555${digits()}`;
  const put = await json(
    await api("/v1/sms/settings", {
      method: "PUT",
      json: { routes: [{ name: "rest", type: "rest", baseUrl: `https://${TEST_SMS_REST_HOST}`, ...twilio }], senders: [sender] },
      key: a.key,
    }),
  );
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  if (opts.knownToProvider !== false) known.push(twilio);
  return { ...a, twilio, sender };
}
type RestAccount = Awaited<ReturnType<typeof restAccount>>;

/**
 * One SMS through the account's REST route, `accepted`, with its sid. Its receipt deadline
 * (SMS_DLR_WAIT_SECONDS, 4 s in these tests) is moved an hour on, so it stays `accepted` while
 * the test runs: the stored value moved, as the scheduled-send tests move `send_at`.
 */
async function stuck(a: RestAccount): Promise<{ id: string; sid: string }> {
  const res = await send({ channel: "sms", to: `+1415${digits()}`, from: a.sender, body: "Your code is 123456" }, { key: a.key });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const id = res.body.id as string;
  // Inside the object: the moment it is `accepted`, in the same turn, before its 4 s can run out.
  const stub = messageStub(env, a.id, id);
  await waitFor(
    () =>
      runInDurableObject(stub, (instance) => {
        const status = (instance as any).row()?.status;
        if (status !== "accepted") return false;
        (instance as any).meta.set("receipt_deadline", String(Date.now() + HOUR));
        return true;
      }),
    `message ${id} accepted`,
  );
  expect((await getMessage(id, a.key)).body.status).toBe("accepted");
  const sid = fake.rest.find((c) => c.statusCallback.includes(id))!.sid;
  return { id, sid };
}

/** The account's index row of the message moved back to `accepted`: the search row lagging a webhook's state change. */
async function lagIndex(account: string, id: string): Promise<void> {
  for (const shard of counterStubs(env, account))
    await runInDurableObject(shard, (instance) =>
      (instance as any).sql.exec(`UPDATE message_index SET status = 'accepted' WHERE id = ?`, id),
    );
}

async function callback(a: RestAccount, id: string, params: Record<string, string>) {
  const url = fake.rest.find((c) => c.statusCallback.includes(id))!.statusCallback;
  const entries = Object.entries({ AccountSid: a.twilio.accountSid, ApiVersion: "2010-04-01", ...params });
  const signature = await twilioSignature(a.twilio.authToken, url, entries);
  const res = await SELF.fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    body: new URLSearchParams(entries).toString(),
  });
  expect(res.status).toBe(204);
}

const asked = (sid: string) => fake.polls.filter((p) => p.sid === sid).length;
const typed = (events: any[], type: string): any[] => events.filter((e) => e.type === type);

describe("status poll (REST SMS, Twilio's Messages API)", () => {
  it("a stuck message is resolved by polling, with the route's credentials; a young one is not asked", async () => {
    const a = await restAccount();
    const old = await stuck(a);
    fake.answers.set(old.sid, { status: "delivered" });
    await poll(Date.now() + 5 * MIN);
    expect(asked(old.sid)).toBe(0);
    expect((await getMessage(old.id, a.key)).body.status).toBe("accepted");

    await poll(Date.now() + 20 * MIN);
    expect(fake.polls.filter((p) => p.sid === old.sid)).toEqual([
      { accountSid: a.twilio.accountSid, sid: old.sid, auth: `Basic ${btoa(`${a.twilio.accountSid}:${a.twilio.authToken}`)}` },
    ]);
    const view = (await getMessage(old.id, a.key)).body;
    expect(view.status).toBe("delivered");
    expect(view.events.at(-1)).toMatchObject({
      type: "delivered",
      provider: "twilio",
      detail: { status: "delivered", sid: old.sid, route: "rest", via: "poll" },
    });
    // Final: never asked again.
    await poll(Date.now() + 10 * HOUR);
    expect(asked(old.sid)).toBe(1);
  });

  it("undelivered with error_code 30005 bounces hard and suppresses, as its callback would", async () => {
    const a = await restAccount();
    const m = await stuck(a);
    const to = fake.rest.find((c) => c.sid === m.sid)!.to;
    fake.answers.set(m.sid, { status: "undelivered", errorCode: 30005 });
    await poll(Date.now() + 20 * MIN);
    const view = (await getMessage(m.id, a.key)).body;
    expect(view.status).toBe("bounced");
    expect(view.events.at(-1).detail).toMatchObject({ errorCode: 30005, class: "hard", reason: "unknown_destination", via: "poll" });
    await waitFor(async () => (await api(`/v1/suppressions/sms/${encodeURIComponent(to)}`, { key: a.key })).status === 200, "suppressed");
  });

  it("past stopAfterHours a message is no longer asked; the account's settings move both ages or turn polling off", async () => {
    const a = await restAccount();
    const m = await stuck(a);
    await poll(Date.now() + 73 * HOUR);
    expect(asked(m.sid)).toBe(0);

    const put = await json(
      await api("/v1/email/delivery", { method: "PUT", json: { statusPoll: { afterMinutes: 60, stopAfterHours: 100 } }, key: a.key }),
    );
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.statusPoll).toEqual({ enabled: true, afterMinutes: 60, stopAfterHours: 100 });
    await poll(Date.now() + 30 * MIN);
    expect(asked(m.sid)).toBe(0);
    await poll(Date.now() + 73 * HOUR);
    expect(asked(m.sid)).toBe(1);

    await api("/v1/email/delivery", { method: "PUT", json: { statusPoll: { enabled: false } }, key: a.key });
    await poll(Date.now() + 80 * HOUR);
    expect(asked(m.sid)).toBe(1);
  });

  it("a bad settings body is 400 validation_failed at statusPoll's path and changes nothing", async () => {
    const a = await restAccount();
    const res = await json(await api("/v1/email/delivery", { method: "PUT", json: { statusPoll: { afterMinutes: 1 } }, key: a.key }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(JSON.stringify(res.body.error.details)).toContain("afterMinutes");
    expect((await api("/v1/email/delivery", { key: a.key })).status).toBe(404);
  });

  it("still in flight (`sent`): recorded once, asked again only after as long as it had waited", async () => {
    const a = await restAccount();
    const m = await stuck(a);
    const t0 = Date.now();
    await poll(t0 + 20 * MIN);
    expect(asked(m.sid)).toBe(1);
    let view = (await getMessage(m.id, a.key)).body;
    expect(view.status).toBe("accepted");
    expect(typed(view.events, "accepted").at(-1).detail).toMatchObject({ status: "sent", via: "poll" });
    await poll(t0 + 25 * MIN);
    await poll(t0 + 35 * MIN);
    expect(asked(m.sid)).toBe(1);
    await poll(t0 + 41 * MIN);
    expect(asked(m.sid)).toBe(2);
    // The same `sent` seen again is the same event: nothing more on the timeline.
    view = (await getMessage(m.id, a.key)).body;
    expect(typed(view.events, "accepted").filter((e: any) => e.detail.status === "sent")).toHaveLength(1);
  });

  it("a provider error (500, 401) changes nothing and is asked again next run", async () => {
    const a = await restAccount({ knownToProvider: false });
    const m = await stuck(a);
    const t0 = Date.now();
    // Credentials the aggregator does not know: Twilio's 401 20003.
    await poll(t0 + 20 * MIN);
    expect(asked(m.sid)).toBe(1);
    expect((await getMessage(m.id, a.key)).body.status).toBe("accepted");

    known.push(a.twilio);
    fake.answers.set(m.sid, { httpStatus: 500, body: { code: 20500, message: "Internal Server Error", status: 500 } });
    await poll(t0 + 25 * MIN);
    expect(asked(m.sid)).toBe(2);
    const view = (await getMessage(m.id, a.key)).body;
    expect(view.status).toBe("accepted");
    expect(view.events.some((e: any) => e.detail?.via === "poll")).toBe(false);

    fake.answers.set(m.sid, { status: "delivered" });
    await poll(t0 + 30 * MIN);
    expect(asked(m.sid)).toBe(3);
    expect((await getMessage(m.id, a.key)).body.status).toBe("delivered");
  });

  it("poll then callback: the callback's `delivered` is the same event, applied and streamed once", async () => {
    const hooks = installHooks();
    onTestFinished(() => hooks.restore());
    const a = await restAccount();
    const endpoint = await json(
      await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(`poll-${a.id}`) }, key: a.key }),
    );
    expect(endpoint.status).toBe(201);
    const m = await stuck(a);
    fake.answers.set(m.sid, { status: "delivered" });
    await poll(Date.now() + 20 * MIN);
    expect((await getMessage(m.id, a.key)).body.status).toBe("delivered");
    await callback(a, m.id, { MessageSid: m.sid, SmsSid: m.sid, MessageStatus: "delivered", SmsStatus: "delivered" });
    await eventsMarker(m.id, a.id, a.key); // the callback's event was applied (as a duplicate) before it
    const view = (await getMessage(m.id, a.key)).body;
    expect(typed(view.events, "delivered")).toHaveLength(1);
    const deliveredOut = () => hooks.to(`poll-${a.id}`).filter((d) => d.event.type === "message.delivered");
    await waitFor(() => deliveredOut().length === 1, "message.delivered streamed");
    await waitFor(() => hooks.to(`poll-${a.id}`).some((d) => d.event.type === "message.opened"), "the marker streamed after it");
    expect(deliveredOut()).toHaveLength(1);
  });

  it("callback then poll: a poll that meets a message the callback already moved (its search row lagging) changes nothing", async () => {
    const a = await restAccount();
    const m = await stuck(a);
    await callback(a, m.id, { MessageSid: m.sid, MessageStatus: "sent" });
    await callback(a, m.id, { MessageSid: m.sid, MessageStatus: "delivered" });
    await waitForStatus(m.id, "delivered", a.key);
    const before = (await getMessage(m.id, a.key)).body;
    await lagIndex(a.id, m.id);
    fake.answers.set(m.sid, { status: "delivered" });
    await poll(Date.now() + 20 * MIN);
    expect(asked(m.sid)).toBe(1);
    const after = (await getMessage(m.id, a.key)).body;
    expect(after.events).toEqual(before.events);
    expect(typed(after.events, "delivered")).toHaveLength(1);
  });

  it("a run asks about at most 50 messages of one account; the rest at the next run", async () => {
    const a = await restAccount();
    // Sent together: each is held `accepted` as soon as it is (their receipt deadline is 4 s).
    const all: Array<{ id: string; sid: string }> = [];
    for (let i = 0; i < 52; i += 13) all.push(...(await Promise.all(Array.from({ length: 13 }, () => stuck(a)))));
    const sids = new Set(all.map((m) => m.sid));
    const askedOfAccount = () => fake.polls.filter((p) => sids.has(p.sid));
    const t0 = Date.now();
    await poll(t0 + 20 * MIN);
    expect(askedOfAccount()).toHaveLength(50);
    // The next run asks the two left over (the 50 asked are not due again for another 20 minutes).
    await poll(t0 + 21 * MIN);
    expect(askedOfAccount()).toHaveLength(52);
    expect(new Set(askedOfAccount().map((p) => p.sid)).size).toBe(52);
  });

  it("isolation: each account's poll asks its own provider account about its own messages only", async () => {
    const x = await restAccount();
    const y = await restAccount();
    const mx = await stuck(x);
    const my = await stuck(y);
    fake.answers.set(mx.sid, { status: "delivered" });
    fake.answers.set(my.sid, { status: "undelivered", errorCode: 30005 });
    await poll(Date.now() + 20 * MIN);
    expect((await getMessage(mx.id, x.key)).body.status).toBe("delivered");
    expect((await getMessage(my.id, y.key)).body.status).toBe("bounced");
    // Each sid asked once, under the account that sent it, with that account's token; none under another.
    for (const [acct, m] of [
      [x, mx],
      [y, my],
    ] as const) {
      expect(fake.polls.filter((p) => p.sid === m.sid)).toEqual([
        { accountSid: acct.twilio.accountSid, sid: m.sid, auth: `Basic ${btoa(`${acct.twilio.accountSid}:${acct.twilio.authToken}`)}` },
      ]);
    }
    // Of every poll of a message sent in this test, none named another account's sid (earlier tests' messages are asked too).
    const ours = fake.polls.filter((p) => fake.rest.some((c) => c.sid === p.sid));
    expect(ours.length).toBeGreaterThanOrEqual(2);
    expect(ours.every((p) => fake.rest.some((c) => c.sid === p.sid && c.accountSid === p.accountSid))).toBe(true);
    // And neither account sees the other's message.
    expect((await getMessage(mx.id, y.key)).status).toBe(404);
    expect((await getMessage(my.id, x.key)).status).toBe(404);
  });
});

/**
 * Mailgun: a fake of its send API (messages.mime) and its Events API (`GET /v3/{domain}/events?message-id=`,
 * Basic api:key checked exactly, 401 the plain text "Forbidden", `{items, paging}`), in front of the SMS fake.
 * Its events are what the test sets per Message-ID, in the webhook's own `event-data` shape.
 */
const MAILGUN_HOST = "mailgun.fake.test";
function installMailgun() {
  const accounts = new Map<string, string>(); // domain → api key
  const sent: Array<{ domain: string; ours: string; messageId: string; to: string }> = [];
  const polls: Array<{ domain: string; messageId: string; auth: string | null }> = [];
  const events = new Map<string, unknown[]>();
  const previous = globalThis.fetch;
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    // The URL first: a Request made of another host's request would take its body.
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.hostname !== MAILGUN_HOST) return previous(input as RequestInfo, init);
    const request = new Request(input as RequestInfo, init);
    const [, domain, verb] = /^\/v3\/([^/]+)\/(messages\.mime|events)$/.exec(url.pathname) ?? [];
    const key = domain ? accounts.get(decodeURIComponent(domain)) : undefined;
    const auth = request.headers.get("authorization");
    if (verb === "events") polls.push({ domain: decodeURIComponent(domain!), messageId: url.searchParams.get("message-id") ?? "", auth });
    if (!key || auth !== `Basic ${btoa(`api:${key}`)}`) return new Response("Forbidden", { status: 401 });
    if (verb === "messages.mime" && request.method === "POST") {
      const form = await request.formData();
      const messageId = `${Date.now()}.${crypto.randomUUID().slice(0, 16)}@${decodeURIComponent(domain!)}`;
      sent.push({ domain: decodeURIComponent(domain!), ours: String(form.get("v:lasthop_id")), messageId, to: String(form.get("to")) });
      return Response.json({ id: `<${messageId}>`, message: "Queued. Thank you." });
    }
    if (verb === "events" && request.method === "GET") {
      const items = events.get(url.searchParams.get("message-id") ?? "") ?? [];
      const page = `https://${MAILGUN_HOST}/v3/${domain}/events/${btoa(crypto.randomUUID())}`;
      return Response.json({ items, paging: { next: page, previous: page, first: page, last: page } });
    }
    return Response.json({ message: "Not Found" }, { status: 404 });
  };
  const restore = () => {
    globalThis.fetch = previous;
  };
  return { accounts, sent, polls, events, restore };
}

/** One Mailgun event as its webhooks post it and its Events API answers it. */
function mailgunItem(
  event: "accepted" | "delivered" | "failed",
  m: { ours: string; messageId: string; to: string },
  at: number,
): Record<string, unknown> {
  return {
    id: crypto.randomUUID().replace(/-/g, "").slice(0, 22),
    timestamp: at / 1000,
    "log-level": event === "failed" ? "error" : "info",
    event,
    recipient: m.to,
    "recipient-domain": m.to.split("@")[1],
    message: { headers: { to: m.to, "message-id": m.messageId, from: "news@routes.example", subject: "Route me" }, size: 512 },
    envelope: { transport: "smtp", sender: "bounce@mg.example", targets: m.to },
    flags: { "is-routed": false, "is-authenticated": true, "is-system-test": false, "is-test-mode": false },
    tags: [],
    "user-variables": { lasthop_id: m.ours },
    ...(event === "delivered"
      ? { "delivery-status": { code: 250, message: "OK", description: "", "attempt-no": 1, tls: true, "mx-host": "mx.example.net" } }
      : {}),
    ...(event === "failed"
      ? {
          severity: "permanent",
          reason: "bounce",
          "delivery-status": {
            code: 550,
            "enhanced-code": "5.1.1",
            message: "5.1.1 The email account that you tried to reach does not exist.",
            description: "",
            "attempt-no": 1,
            "bounce-type": "hard",
          },
        }
      : {}),
  };
}

describe("status poll (Mailgun's Events API)", () => {
  let mg: ReturnType<typeof installMailgun>;
  beforeEach(() => {
    mg = installMailgun();
  });
  afterEach(() => mg.restore());

  /** A fresh account whose one email route is Mailgun, with its own domain, key and webhook signing key. */
  async function mailgunAccount() {
    const a = await adminAccount();
    const domain = `mg-${unique()}.example`;
    const apiKey = `key-${hex(16)}`;
    const webhookSigningKey = `whk-${hex(16)}`;
    mg.accounts.set(domain, apiKey);
    const provider = await json(
      await api("/v1/providers/mailgun", { method: "PUT", json: { apiKey, domain, webhookSigningKey }, key: a.key }),
    );
    expect(provider.status, JSON.stringify(provider.body)).toBe(200);
    const settings = await json(
      await api("/v1/email/settings", {
        method: "PUT",
        key: a.key,
        json: {
          bounceDomain: `bounces.${unique()}.example`,
          sendingDomains: ["routes.example"],
          relay: { mode: "direct" },
          routes: [{ name: "mg", type: "mailgun", baseUrl: `https://${MAILGUN_HOST}` }],
        },
      }),
    );
    expect(settings.status, JSON.stringify(settings.body)).toBe(200);
    return { ...a, domain, apiKey, webhookSigningKey };
  }
  type MailgunAccount = Awaited<ReturnType<typeof mailgunAccount>>;

  /** One email through Mailgun, `accepted` (no webhook comes unless the test posts it). */
  async function stuckMail(a: MailgunAccount) {
    const res = await send(
      { channel: "email", from: "news@routes.example", to: `reader-${unique()}@example.net`, subject: "Route me", text: "Hello" },
      { key: a.key },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const id = res.body.id as string;
    await waitForStatus(id, "accepted", a.key);
    await effectsDone(id, a.id);
    const call = mg.sent.find((c) => c.ours === id)!;
    return { id, ours: id, messageId: call.messageId, to: call.to };
  }

  async function webhook(a: MailgunAccount, item: Record<string, unknown>) {
    const res = await SELF.fetch(`https://lasthop.test/v1/webhooks/mailgun/${a.id}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ signature: await mailgunSignature(a.webhookSigningKey), "event-data": item }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  const askedMg = (messageId: string) => mg.polls.filter((p) => p.messageId === messageId).length;

  it("a stuck message is resolved by polling its events, with the section's key and domain; a young one is not asked", async () => {
    const a = await mailgunAccount();
    const m = await stuckMail(a);
    const t = Date.now();
    mg.events.set(m.messageId, [mailgunItem("accepted", m, t), mailgunItem("delivered", m, t + 1000)]);
    await poll(t + 5 * MIN);
    expect(askedMg(m.messageId)).toBe(0);
    await poll(t + 20 * MIN);
    expect(mg.polls.filter((p) => p.messageId === m.messageId)).toEqual([
      { domain: a.domain, messageId: m.messageId, auth: `Basic ${btoa(`api:${a.apiKey}`)}` },
    ]);
    const view = (await getMessage(m.id, a.key)).body;
    expect(view.status).toBe("delivered");
    expect(typed(view.events, "delivered")).toHaveLength(1);
    expect(typed(view.events, "delivered")[0]).toMatchObject({ provider: "mailgun", detail: { providerType: "delivered" } });
    // Final: never asked again.
    await poll(t + 10 * HOUR);
    expect(askedMg(m.messageId)).toBe(1);
  });

  it("a permanent failure bounces hard and suppresses, as its webhook would; no events yet is asked again", async () => {
    const a = await mailgunAccount();
    const m = await stuckMail(a);
    const t = Date.now();
    await poll(t + 20 * MIN);
    expect(askedMg(m.messageId)).toBe(1);
    expect((await getMessage(m.id, a.key)).body.status).toBe("accepted");
    mg.events.set(m.messageId, [mailgunItem("accepted", m, t), mailgunItem("failed", m, t + 1000)]);
    await poll(t + 45 * MIN);
    expect(askedMg(m.messageId)).toBe(2);
    const view = (await getMessage(m.id, a.key)).body;
    expect(view.status).toBe("bounced");
    expect(typed(view.events, "bounced")[0].detail).toMatchObject({ class: "hard", smtpCode: 550, enhancedCode: "5.1.1" });
    await waitFor(
      async () => (await api(`/v1/suppressions/email/${encodeURIComponent(m.to)}`, { key: a.key })).status === 200,
      "suppressed",
    );
  });

  it("Mailgun's 401 (a key it no longer knows) changes nothing and is asked again next run", async () => {
    const a = await mailgunAccount();
    const m = await stuckMail(a);
    mg.accounts.set(a.domain, "key-rotated-elsewhere");
    const t = Date.now();
    await poll(t + 20 * MIN);
    expect(askedMg(m.messageId)).toBe(1);
    expect((await getMessage(m.id, a.key)).body.status).toBe("accepted");
    mg.accounts.set(a.domain, a.apiKey);
    mg.events.set(m.messageId, [mailgunItem("delivered", m, t)]);
    await poll(t + 22 * MIN);
    expect(askedMg(m.messageId)).toBe(2);
    expect((await getMessage(m.id, a.key)).body.status).toBe("delivered");
  });

  it("poll then webhook: the webhook's `delivered` is the same event, applied and streamed once", async () => {
    const hooks = installHooks();
    onTestFinished(() => hooks.restore());
    const a = await mailgunAccount();
    const endpoint = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(`mg-${a.id}`) }, key: a.key }));
    expect(endpoint.status).toBe(201);
    const m = await stuckMail(a);
    const delivered = mailgunItem("delivered", m, Date.now());
    mg.events.set(m.messageId, [delivered]);
    await poll(Date.now() + 20 * MIN);
    expect((await getMessage(m.id, a.key)).body.status).toBe("delivered");
    await webhook(a, delivered);
    await eventsMarker(m.id, a.id, a.key);
    expect(typed((await getMessage(m.id, a.key)).body.events, "delivered")).toHaveLength(1);
    const deliveredOut = () => hooks.to(`mg-${a.id}`).filter((d) => d.event.type === "message.delivered");
    await waitFor(() => deliveredOut().length === 1, "message.delivered streamed");
    await waitFor(() => hooks.to(`mg-${a.id}`).some((d) => d.event.type === "message.opened"), "the marker streamed after it");
    expect(deliveredOut()).toHaveLength(1);
  });

  it("webhook then poll: a poll that meets a message the webhook already moved (its search row lagging) changes nothing", async () => {
    const a = await mailgunAccount();
    const m = await stuckMail(a);
    const delivered = mailgunItem("delivered", m, Date.now());
    await webhook(a, delivered);
    await waitForStatus(m.id, "delivered", a.key);
    await effectsDone(m.id, a.id);
    const before = (await getMessage(m.id, a.key)).body;
    await lagIndex(a.id, m.id);
    mg.events.set(m.messageId, [delivered]);
    await poll(Date.now() + 20 * MIN);
    expect(askedMg(m.messageId)).toBe(1);
    const after = (await getMessage(m.id, a.key)).body;
    expect(after.events).toEqual(before.events);
    expect(typed(after.events, "delivered")).toHaveLength(1);
  });

  it("isolation: each account's poll asks Mailgun under its own domain and key, about its own messages only", async () => {
    const x = await mailgunAccount();
    const y = await mailgunAccount();
    const mx = await stuckMail(x);
    const my = await stuckMail(y);
    mg.events.set(mx.messageId, [mailgunItem("delivered", mx, Date.now())]);
    mg.events.set(my.messageId, [mailgunItem("failed", my, Date.now())]);
    await poll(Date.now() + 20 * MIN);
    expect((await getMessage(mx.id, x.key)).body.status).toBe("delivered");
    expect((await getMessage(my.id, y.key)).body.status).toBe("bounced");
    for (const [acct, m] of [
      [x, mx],
      [y, my],
    ] as const) {
      expect(mg.polls.filter((p) => p.messageId === m.messageId)).toEqual([
        { domain: acct.domain, messageId: m.messageId, auth: `Basic ${btoa(`api:${acct.apiKey}`)}` },
      ]);
    }
    // Every poll named the domain of the message's own account.
    const ours = mg.polls.filter((p) => mg.sent.some((s) => s.messageId === p.messageId));
    expect(ours.every((p) => mg.sent.some((s) => s.messageId === p.messageId && s.domain === p.domain))).toBe(true);
    expect((await getMessage(mx.id, y.key)).status).toBe(404);
    expect((await getMessage(my.id, x.key)).status).toBe(404);
  });
});
