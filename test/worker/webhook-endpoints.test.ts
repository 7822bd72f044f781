/**
 * The event stream to the customer: endpoints through the API, deliveries signed and verified
 * with the standardwebhooks package, the retry schedule driven by the endpoint object's clock
 * (`run(at)`), disabling (410, five days failing), Retry-After, a hanging endpoint, rotation,
 * the rate limit, attempts, recovery, retention and filters.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RETRY_SCHEDULE_MS } from "../../src/core/webhook-delivery.ts";
import { ENDPOINT_CONCURRENCY, type EndpointDO } from "../../src/state/endpoint.ts";
import { endpointStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { adminAccount, api, json, unique, waitForStatus, webpush, type AdminAccount } from "./helpers.ts";
import { installHooks, verified, type Delivery } from "./hooks-fake.ts";
import { installPushService } from "./push-service.ts";

let push: ReturnType<typeof installPushService>;
let hooks: ReturnType<typeof installHooks>;
beforeAll(() => {
  push = installPushService();
  hooks = installHooks();
});
afterAll(() => {
  hooks.restore();
  push.restore();
});

type Endpoint = { id: string; secret: string; url: string; enabled: boolean; disabledReason: string | null };

async function endpoint(account: AdminAccount, name: string, extra: Record<string, unknown> = {}): Promise<Endpoint> {
  const made = await json(
    await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(name), ...extra }, key: account.key }),
  );
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  return made.body;
}

/** A recipient.suppressed event for the account: the quickest event there is. */
async function suppress(account: AdminAccount, address = `r-${unique()}@example.com`): Promise<string> {
  expect((await api(`/v1/suppressions/email/${address}`, { method: "PUT", key: account.key })).status).toBe(200);
  return address;
}

function received(name: string, count: number, what = `${count} deliveries at ${name}`): Promise<Delivery[]> {
  return waitFor(() => (hooks.to(name).length >= count ? hooks.to(name) : null), what);
}

/** The endpoint's object runs what is due at `at`: the tests' clock. */
function runAt(account: AdminAccount, id: string, at: number): Promise<number> {
  return runInDurableObject(endpointStub(env, account.id, id), (instance: EndpointDO) => instance.run(at));
}

async function attempts(account: AdminAccount, id: string, query = ""): Promise<any[]> {
  const page = await json(await api(`/v1/webhook-endpoints/${id}/attempts${query}`, { key: account.key }));
  expect(page.status, JSON.stringify(page.body)).toBe(200);
  return page.body.data;
}

describe("endpoints", () => {
  it("are made with a whsec_ secret shown once, read, changed and deleted", async () => {
    const a = await adminAccount();
    const made = await endpoint(a, `crud-${unique()}`, { description: "orders", eventTypes: ["message.bounced"] });
    expect(made.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(atob(made.secret.slice(6)).length).toBeGreaterThanOrEqual(24);
    const one = await json(await api(`/v1/webhook-endpoints/${made.id}`, { key: a.key }));
    expect(one.body).toMatchObject({ id: made.id, url: made.url, description: "orders", eventTypes: ["message.bounced"], enabled: true });
    expect(JSON.stringify(one.body)).not.toContain(made.secret.slice(6, 20));
    const list = await json(await api("/v1/webhook-endpoints", { key: a.key }));
    expect(list.body.data.map((e: Endpoint) => e.id)).toEqual([made.id]);
    expect(JSON.stringify(list.body)).not.toContain('secret":');

    const patched = await json(
      await api(`/v1/webhook-endpoints/${made.id}`, { method: "PATCH", json: { eventTypes: null, enabled: false }, key: a.key }),
    );
    expect(patched.body).toMatchObject({ eventTypes: null, enabled: false, disabledReason: "manual" });
    expect(
      (await json(await api(`/v1/webhook-endpoints/${made.id}`, { method: "PATCH", json: { enabled: true }, key: a.key }))).body,
    ).toMatchObject({
      enabled: true,
      disabledReason: null,
    });
    const audit = await json(await api("/v1/audit?limit=20", { key: a.key }));
    expect(audit.body.data.map((e: { action: string }) => e.action)).toEqual(
      expect.arrayContaining(["webhook_endpoint.create", "webhook_endpoint.update"]),
    );
    expect(JSON.stringify(audit.body)).not.toContain(made.secret.slice(6, 20));

    expect((await api(`/v1/webhook-endpoints/${made.id}`, { method: "DELETE", key: a.key })).status).toBe(204);
    expect((await api(`/v1/webhook-endpoints/${made.id}`, { key: a.key })).status).toBe(404);
  });

  it.each([
    ["http://example.com/hook", "url_not_https"],
    ["ftp://example.com/hook", "url_not_https"],
    ["https://127.0.0.1/hook", "url_not_allowed"],
    ["https://10.1.2.3/hook", "url_not_allowed"],
    ["https://192.168.0.10/hook", "url_not_allowed"],
    ["https://169.254.169.254/latest/meta-data", "url_not_allowed"],
    ["https://[::1]/hook", "url_not_allowed"],
    ["https://[fd00:ec2::254]/hook", "url_not_allowed"],
    ["https://localhost/hook", "url_not_allowed"],
    ["https://metadata.google.internal/computeMetadata/v1/", "url_not_allowed"],
    ["https://2130706433/hook", "url_not_allowed"],
    ["https://user:pass@example.com/hook", "url_invalid"],
    ["not a url", "url_invalid"],
  ])("refuses %s with 422 %s and stores nothing", async (url, code) => {
    const a = await adminAccount();
    const res = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url }, key: a.key }));
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.details[0].path).toBe("url");
    expect((await json(await api("/v1/webhook-endpoints", { key: a.key }))).body.data).toEqual([]);
  });

  it("refuses bad bodies with 400 and field paths, and a 21st endpoint with 422", async () => {
    const a = await adminAccount();
    const bad = await json(
      await api("/v1/webhook-endpoints", {
        method: "POST",
        json: { url: hooks.url("x"), eventTypes: ["message.nope"], rateLimitPerSecond: 0, extra: 1 },
        key: a.key,
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["(body)", "eventTypes.0", "rateLimitPerSecond"]);
    for (let i = 0; i < 20; i++) await endpoint(a, `many-${i}`);
    const over = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url("one-more") }, key: a.key }));
    expect([over.status, over.body.error.code]).toEqual([422, "endpoint_limit"]);
  });

  it("a read-only key lists but cannot change them", async () => {
    const a = await adminAccount();
    const reader = await json(await api("/v1/api-keys", { method: "POST", json: { name: "ro", scopes: ["read"] }, key: a.key }));
    expect((await api("/v1/webhook-endpoints", { key: reader.body.key })).status).toBe(200);
    expect((await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url("ro") }, key: reader.body.key })).status).toBe(403);
  });
});

describe("deliveries", () => {
  it("are signed Standard Webhooks with the event's id, and verify with the endpoint's secret", async () => {
    const a = await adminAccount();
    const name = `sig-${unique()}`;
    const ep = await endpoint(a, name);
    const address = await suppress(a);
    const [d] = await received(name, 1);
    const payload = verified(d!, ep.secret) as any;
    expect(payload.type).toBe("recipient.suppressed");
    expect(payload.data).toMatchObject({ channel: "email", recipient: address, reason: "manual" });
    expect(d!.headers["webhook-id"]).toBe(payload.data.id);
    expect(() => verified(d!, `whsec_${btoa("x".repeat(32))}`)).toThrow();
    expect(d!.headers["user-agent"]).toMatch(/^lasthop-webhooks\//);
  });

  it("a message's events carry its summary; message.queued only where asked for; GET /v1/messages/:id/deliveries lists them", async () => {
    const a = await adminAccount();
    await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:ops@example.com" }, key: a.key });
    const [all, queued] = [`all-${unique()}`, `queued-${unique()}`];
    const epAll = await endpoint(a, all);
    await endpoint(a, queued, { eventTypes: ["message.queued"] });
    const sent = await json(
      await api("/v1/messages", { method: "POST", json: await webpush(`ev-${unique()}`, { metadata: { order: 42 } }), key: a.key }),
    );
    expect(sent.status).toBe(202);
    await waitForStatus(sent.body.id, "accepted", a.key);
    const [accepted] = await received(all, 1);
    expect(accepted!.event).toMatchObject({
      type: "message.accepted",
      data: { provider: "webpush", message: { id: sent.body.id, channel: "webpush", status: "accepted", metadata: { order: 42 } } },
    });
    expect(accepted!.event.data.message.to).toMatch(/^https:\/\/push\.test\//);
    const [q] = await received(queued, 1);
    expect(q!.event).toMatchObject({ type: "message.queued", data: { message: { id: sent.body.id, status: "queued" } } });
    expect(hooks.to(all).some((d) => d.event.type === "message.queued")).toBe(false);

    const deliveries = await json(await api(`/v1/messages/${sent.body.id}/deliveries`, { key: a.key }));
    expect(deliveries.status).toBe(200);
    const mine = deliveries.body.data.find((d: { endpointId: string }) => d.endpointId === epAll.id);
    expect(mine).toMatchObject({ eventType: "message.accepted", status: "succeeded", eventId: accepted!.event.data.id });
    expect(mine.attempts).toHaveLength(1);
    expect(mine.attempts[0]).toMatchObject({ result: "succeeded", statusCode: 200, trigger: "scheduled" });
  });

  it("filters by event type and channel", async () => {
    const a = await adminAccount();
    const [lifted, sms] = [`lifted-${unique()}`, `sms-${unique()}`];
    await endpoint(a, lifted, { eventTypes: ["recipient.unsuppressed"] });
    await endpoint(a, sms, { channels: ["sms"] });
    const address = await suppress(a);
    expect((await api(`/v1/suppressions/email/${address}`, { method: "DELETE", key: a.key })).status).toBe(204);
    const [d] = await received(lifted, 1);
    expect(d!.event).toMatchObject({ type: "recipient.unsuppressed", data: { recipient: address, reason: "manual" } });
    // A marker on the sms endpoint's channel proves the email events were passed over, not late.
    expect((await api(`/v1/suppressions/sms/+15550001234`, { method: "PUT", key: a.key })).status).toBe(200);
    const [marker] = await received(sms, 1);
    expect(marker!.event.data.channel).toBe("sms");
    expect(hooks.to(sms).every((x) => x.event.data.channel === "sms")).toBe(true);
    expect(hooks.to(lifted)).toHaveLength(1);
  });

  it("500 then 200: one success, the same webhook-id twice, and the attempt list says so", async () => {
    const a = await adminAccount();
    const name = `retry-${unique()}`;
    const ep = await endpoint(a, name);
    hooks.answer(name, { status: 500 });
    await suppress(a);
    await received(name, 1);
    const [failed] = await waitFor(async () => {
      const list = await attempts(a, ep.id);
      return list[0]?.result === "failed" ? list : null;
    }, "the failed attempt recorded");
    const delay = Date.parse(failed.nextAttemptAt) - Date.parse(failed.at);
    expect(delay).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[1]! * 0.9);
    expect(delay).toBeLessThanOrEqual(RETRY_SCHEDULE_MS[1]! * 1.1);
    expect(failed).toMatchObject({ statusCode: 500, trigger: "scheduled" });

    await runAt(a, ep.id, Date.parse(failed.nextAttemptAt) + 1);
    const both = await received(name, 2);
    expect(both[1]!.headers["webhook-id"]).toBe(both[0]!.headers["webhook-id"]);
    verified(both[1]!, ep.secret);
    const list = await attempts(a, ep.id);
    expect(list.map((x) => [x.result, x.statusCode])).toEqual([
      ["succeeded", 200],
      ["failed", 500],
    ]);
    expect(list[0].nextAttemptAt).toBeNull();
    expect((await attempts(a, ep.id, "?status=failed")).map((x) => x.id)).toEqual([list[1].id]);
    // Nothing more is due: later runs send nothing.
    expect(await runAt(a, ep.id, Date.now() + 86_400_000)).toBe(0);
    expect(hooks.to(name)).toHaveLength(2);
  });

  it("follows the whole schedule, then ends failed; recover and resend deliver it again with the same id", async () => {
    const a = await adminAccount();
    const name = `sched-${unique()}`;
    const ep = await endpoint(a, name);
    const since = new Date(Date.now() - 1000).toISOString();
    hooks.answer(name, ...Array.from({ length: 8 }, () => ({ status: 503 })));
    await suppress(a);
    await received(name, 1);
    let at = Date.now();
    for (let n = 2; n <= 8; n++) {
      const last = await waitFor(
        async () => ((await attempts(a, ep.id))[0]?.result === "failed" ? (await attempts(a, ep.id))[0] : null),
        "an attempt",
      );
      const delay = Date.parse(last.nextAttemptAt) - Date.parse(last.at);
      expect(delay, `delay before attempt ${n}`).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[n - 1]! * 0.9);
      expect(delay, `delay before attempt ${n}`).toBeLessThanOrEqual(RETRY_SCHEDULE_MS[n - 1]! * 1.1);
      at = Date.parse(last.nextAttemptAt) + 1;
      await runAt(a, ep.id, at);
      await received(name, n);
    }
    const list = await attempts(a, ep.id);
    expect(list).toHaveLength(8);
    expect(list[0].nextAttemptAt).toBeNull();
    expect(await runAt(a, ep.id, at + 86_400_000)).toBe(0);

    const recovered = await json(await api(`/v1/webhook-endpoints/${ep.id}/recover`, { method: "POST", json: { since }, key: a.key }));
    expect([recovered.status, recovered.body.recovered]).toEqual([202, 1]);
    const again = await received(name, 9);
    expect(again[8]!.headers["webhook-id"]).toBe(again[0]!.headers["webhook-id"]);
    await waitFor(async () => (await attempts(a, ep.id))[0]?.result === "succeeded", "the recovered delivery to succeed");
    expect((await attempts(a, ep.id))[0].trigger).toBe("manual");

    const eventId = again[0]!.headers["webhook-id"]!;
    const resent = await api(`/v1/webhook-endpoints/${ep.id}/events/${encodeURIComponent(eventId)}/resend`, { method: "POST", key: a.key });
    expect(resent.status).toBe(202);
    expect((await received(name, 10))[9]!.headers["webhook-id"]).toBe(eventId);
    expect((await api(`/v1/webhook-endpoints/${ep.id}/events/nope/resend`, { method: "POST", key: a.key })).status).toBe(404);
  });

  it("410 disables the endpoint at once and tells the account's other endpoints", async () => {
    const a = await adminAccount();
    const [gone, other] = [`gone-${unique()}`, `other-${unique()}`];
    const ep = await endpoint(a, gone);
    await endpoint(a, other);
    hooks.answer(gone, { status: 410 });
    await suppress(a);
    await received(gone, 1);
    const notice = await waitFor(
      () => hooks.to(other).find((d) => d.event.type === "endpoint.disabled"),
      "endpoint.disabled at the other endpoint",
    );
    expect(notice.event.data).toMatchObject({ endpointId: ep.id, reason: "gone", url: ep.url });
    const shown = await json(await api(`/v1/webhook-endpoints/${ep.id}`, { key: a.key }));
    expect(shown.body).toMatchObject({ enabled: false, disabledReason: "gone" });
    expect((await attempts(a, ep.id))[0]).toMatchObject({ result: "failed", statusCode: 410, nextAttemptAt: null });
    // Disabled: later events are not sent to it.
    await suppress(a);
    await waitFor(
      () => hooks.to(other).filter((d) => d.event.type === "recipient.suppressed").length === 2,
      "the second event at the other",
    );
    expect(hooks.to(gone)).toHaveLength(1);
  });

  it("five days of failures without a success disable it and emit endpoint.disabled", async () => {
    const a = await adminAccount();
    const [failing, other] = [`failing-${unique()}`, `watch-${unique()}`];
    const ep = await endpoint(a, failing);
    await endpoint(a, other, { eventTypes: ["endpoint.disabled"] });
    hooks.answer(failing, ...Array.from({ length: 4 }, () => ({ status: 500 })));
    await suppress(a);
    await received(failing, 1);
    const first = await waitFor(async () => (await attempts(a, ep.id))[0], "the first attempt");
    // Still enabled after a day of failures...
    await runAt(a, ep.id, Date.parse(first.at) + 86_400_000);
    await received(failing, 2);
    expect((await json(await api(`/v1/webhook-endpoints/${ep.id}`, { key: a.key }))).body.enabled).toBe(true);
    // ...and off once five days have passed without a success.
    await runAt(a, ep.id, Date.parse(first.at) + 5 * 86_400_000 + 1000);
    const [notice] = await received(other, 1);
    expect(notice!.event).toMatchObject({
      type: "endpoint.disabled",
      data: { endpointId: ep.id, reason: "failing", failingSince: first.at },
    });
    expect((await json(await api(`/v1/webhook-endpoints/${ep.id}`, { key: a.key }))).body).toMatchObject({
      enabled: false,
      disabledReason: "failing",
    });
  });

  it("429 and 503 honour Retry-After", async () => {
    const a = await adminAccount();
    const name = `later-${unique()}`;
    const ep = await endpoint(a, name);
    hooks.answer(name, { status: 429, headers: { "retry-after": "120" } });
    await suppress(a);
    await received(name, 1);
    const [one] = await waitFor(async () => {
      const list = await attempts(a, ep.id);
      return list[0]?.result === "failed" ? list : null;
    }, "the 429 recorded");
    expect(Date.parse(one.nextAttemptAt) - Date.parse(one.at)).toBe(120_000);
  });

  it("a hanging endpoint is a failed attempt after 15 s", async () => {
    const a = await adminAccount();
    const name = `hang-${unique()}`;
    const ep = await endpoint(a, name);
    hooks.answer(name, { status: 200, hang: true });
    const res = await json(await api(`/v1/webhook-endpoints/${ep.id}/test`, { method: "POST", key: a.key }));
    expect(res.status).toBe(200);
    expect(res.body.attempt).toMatchObject({ result: "failed", statusCode: null, trigger: "test" });
    expect(res.body.attempt.error).toMatch(/15 s/);
    expect(res.body.attempt.durationMs).toBeGreaterThanOrEqual(14_000);
  });

  it("POST /test sends a signed test event at once and answers the outcome", async () => {
    const a = await adminAccount();
    const name = `test-${unique()}`;
    const ep = await endpoint(a, name);
    hooks.answer(name, { status: 400 });
    const failed = await json(await api(`/v1/webhook-endpoints/${ep.id}/test`, { method: "POST", key: a.key }));
    expect(failed.body.attempt).toMatchObject({ result: "failed", statusCode: 400, eventType: "test", nextAttemptAt: null });
    expect(failed.body.attempt.response).toContain("400");
    const ok = await json(await api(`/v1/webhook-endpoints/${ep.id}/test`, { method: "POST", key: a.key }));
    expect(ok.body.attempt).toMatchObject({ result: "succeeded", statusCode: 200 });
    const payload = verified(hooks.to(name)[1]!, ep.secret) as any;
    expect(payload).toMatchObject({ type: "test", data: { endpointId: ep.id } });
  });

  it("after rotate-secret, deliveries carry both signatures and each secret verifies", async () => {
    const a = await adminAccount();
    const name = `rotate-${unique()}`;
    const ep = await endpoint(a, name);
    const rotated = await json(await api(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: "POST", key: a.key }));
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).not.toBe(ep.secret);
    await suppress(a);
    const [d] = await received(name, 1);
    expect(d!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    verified(d!, ep.secret);
    verified(d!, rotated.body.secret);
    // Five more rotations: at most five old secrets sign.
    for (let i = 0; i < 5; i++) await api(`/v1/webhook-endpoints/${ep.id}/rotate-secret`, { method: "POST", key: a.key });
    await suppress(a);
    const [, later] = await received(name, 2);
    expect(later!.headers["webhook-signature"]!.split(" ")).toHaveLength(6);
    expect(() => verified(later!, ep.secret)).toThrow();
  });

  it("holds the endpoint's rate limit over every window", async () => {
    const a = await adminAccount();
    const name = `rate-${unique()}`;
    const rate = 5;
    const ep = await endpoint(a, name, { rateLimitPerSecond: rate });
    const count = 30;
    await Promise.all(Array.from({ length: count }, () => suppress(a)));
    await received(name, count);
    const starts = (await attempts(a, ep.id, "?limit=100")).map((x) => Date.parse(x.at)).sort((x, y) => x - y);
    expect(starts).toHaveLength(count);
    for (const t of starts) expect(starts.filter((s) => s >= t && s < t + 1000).length).toBeLessThanOrEqual(rate);
    for (const t of starts) expect(starts.filter((s) => s >= t && s < t + 10_000).length).toBeLessThanOrEqual(rate * 10 * 1.05);
  });

  it("events that arrive while a slow answer holds a delivery pass get the full 16 in flight", async () => {
    const a = await adminAccount();
    const name = `late-${unique()}`;
    await endpoint(a, name);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    // The first delivery is held: its pass stays open while the next events arrive.
    hooks.answer(name, { status: 200, hold: held }, ...Array.from({ length: 40 }, () => ({ status: 200, hold: held })));
    await suppress(a);
    await waitFor(() => hooks.maxInFlight(name) === 1, "the first delivery held");
    await Promise.all(Array.from({ length: 40 }, () => suppress(a)));
    await waitFor(
      () => hooks.maxInFlight(name) >= ENDPOINT_CONCURRENCY,
      () => `16 in flight (saw ${hooks.maxInFlight(name)})`,
    );
    release();
    await received(name, 41);
    expect(hooks.maxInFlight(name)).toBe(ENDPOINT_CONCURRENCY);
  });

  it("attempts and payloads are deleted after the retention", async () => {
    const a = await adminAccount();
    const name = `keep-${unique()}`;
    const ep = await endpoint(a, name);
    await suppress(a);
    await received(name, 1);
    await waitFor(async () => (await attempts(a, ep.id)).length === 1, "the attempt recorded");
    await runAt(a, ep.id, Date.now() + 29 * 86_400_000);
    expect(await attempts(a, ep.id)).toHaveLength(1);
    await runAt(a, ep.id, Date.now() + 31 * 86_400_000);
    expect(await attempts(a, ep.id)).toHaveLength(0);
  });

  it("one account's events never reach another account's endpoints", async () => {
    const [a, b] = [await adminAccount("A"), await adminAccount("B")];
    const [na, nb] = [`iso-a-${unique()}`, `iso-b-${unique()}`];
    await endpoint(a, na);
    await endpoint(b, nb);
    const address = await suppress(b);
    await received(nb, 1);
    const marker = await suppress(a);
    const [d] = await received(na, 1);
    expect(d!.event.data.recipient).toBe(marker);
    expect(hooks.to(na).some((x) => x.event.data.recipient === address)).toBe(false);
  });
});

describe("crash points", () => {
  it("a batch fanned out twice (a queue retry) is stored and delivered once", async () => {
    const a = await adminAccount();
    const name = `twice-${unique()}`;
    const ep = await endpoint(a, name);
    const event = {
      type: "recipient.suppressed" as const,
      timestamp: new Date().toISOString(),
      data: {
        id: `email:twice-${unique()}:suppressed:x`,
        channel: "email" as const,
        recipient: "x@example.com",
        reason: "manual" as const,
        at: new Date().toISOString(),
      },
    };
    const stub = endpointStub(env, a.id, ep.id);
    expect(await stub.enqueue(a.id, ep.id, [event])).toBe(1);
    expect(await stub.enqueue(a.id, ep.id, [event])).toBe(0);
    await received(name, 1);
    await runAt(a, ep.id, Date.now() + 3_600_000);
    expect(hooks.to(name)).toHaveLength(1);
  });

  it("an attempt the object died during is closed as failed and the event is delivered again with its id", async () => {
    const a = await adminAccount();
    const name = `died-${unique()}`;
    const ep = await endpoint(a, name);
    const at = Date.now();
    const payload = JSON.stringify({
      type: "test",
      timestamp: new Date(at).toISOString(),
      data: { id: "evt-died", endpointId: ep.id, message: "m" },
    });
    // The storage as a crash mid-POST leaves it: the attempt row written, no result, the delivery still pending.
    await runInDurableObject(endpointStub(env, a.id, ep.id), (_: EndpointDO, state: DurableObjectState) => {
      state.storage.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
      state.storage.sql.exec("INSERT INTO meta (key, value) VALUES ('account', ?), ('endpoint', ?)", a.id, ep.id);
      state.storage.sql.exec(
        "INSERT INTO delivery (event_id, type, message_id, payload, created_at, status, attempts, next_at, trigger) VALUES ('evt-died', 'test', NULL, ?, ?, 'pending', 0, ?, 'scheduled')",
        payload,
        at,
        at,
      );
      state.storage.sql.exec("INSERT INTO attempt (event_id, at, trigger) VALUES ('evt-died', ?, 'scheduled')", at);
    });
    await runAt(a, ep.id, at + 1000);
    const [d] = await received(name, 1);
    expect(d!.headers["webhook-id"]).toBe("evt-died");
    expect(d!.body).toBe(payload);
    const list = await attempts(a, ep.id);
    expect(list.map((x) => x.result)).toEqual(["succeeded", "failed"]);
    expect(list[1].error).toMatch(/interrupted/);
  });
});
