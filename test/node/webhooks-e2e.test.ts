// The event stream out, end to end through the stack `npm start` runs (wrangler dev, the bridge,
// the sandbox): real sends on every channel, a bounce, a dead token and an SMS STOP become
// events that an account's webhook endpoint (made through the API) delivers to the sandbox's
// receiver. Every delivery is checked, under the secret the API answered, by the `standardwebhooks`
// package and by `svix`'s verifier (svix 2.x wraps standardwebhooks; what it adds is reading
// webhook-* or svix-* headers, so both spellings are checked), and parsed with the zod contract;
// then retries on a 500, disabling on a 410 and the test event.
import { createHash, randomInt } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { webhookEvent, type WebhookEvent } from "../../src/core/webhook-events.ts";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

type Arrival = {
  at: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  status: number | null;
  aborted: boolean;
};
/** One delivery as it arrived, verified and parsed. */
type Delivery = { arrival: Arrival; id: string; event: WebhookEvent; key: string };
type Receiver = { name: string; url: string; endpointId: string; secret: string };

const SENDER = "+15005550006";
// Digits only: no sandbox steering word (bounce, bad, slow, block, …) can hide in it by chance.
const run = String(randomInt(10_000_000, 99_999_999));

let stack: TestStack;
let hook: Receiver;

beforeAll(async () => {
  stack = await startTestStack();
  hook = await receiver(`e2e-${run}`);
});
afterAll(async () => stack?.stop());

/** A sandbox hook and an event endpoint of the account at its URL, made through the API (the secret is in the 201 only). */
async function receiver(name: string): Promise<Receiver> {
  const { url } = (await stack.sandboxPost("/_sandbox/hooks", { name })) as { url: string };
  const created = await stack.api("/v1/webhook-endpoints", { method: "POST", body: JSON.stringify({ url, description: name }) });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body).toMatchObject({ url, enabled: true, eventTypes: null, channels: null });
  expect(created.body.secret).toMatch(/^whsec_/);
  return { name, url, endpointId: created.body.id, secret: created.body.secret };
}

const behave = (name: string, behaviour: Record<string, unknown>) => stack.sandboxPost(`/_sandbox/hooks/${name}/behaviour`, behaviour);

/** What a receiver would check: both verifiers accept it, the body is in the contract, webhook-id is the event's id. */
function verify(arrival: Arrival, secret: string): WebhookEvent {
  expect(arrival.method).toBe("POST");
  expect(arrival.headers["content-type"]).toBe("application/json");
  const std = new Webhook(secret).verify(arrival.body, arrival.headers);
  // svix takes the unbranded webhook-* headers as they came, and its own svix-* names.
  new SvixWebhook(secret).verify(arrival.body, arrival.headers);
  new SvixWebhook(secret).verify(arrival.body, {
    "svix-id": arrival.headers["webhook-id"]!,
    "svix-timestamp": arrival.headers["webhook-timestamp"]!,
    "svix-signature": arrival.headers["webhook-signature"]!,
  });
  const event = webhookEvent.parse(JSON.parse(arrival.body));
  expect(std).toEqual(JSON.parse(arrival.body));
  expect(event.data.id).toBe(arrival.headers["webhook-id"]);
  return event;
}

/** What an event is about, so each (subject, type) can be counted. */
function keyOf(event: WebhookEvent): string {
  switch (event.type) {
    case "recipient.suppressed":
    case "recipient.unsuppressed":
      return `${event.type} ${event.data.channel} ${event.data.recipient}`;
    case "sms.inbound":
      return `${event.type} +${event.data.from.replace(/^\+/, "")}`;
    case "endpoint.disabled":
      return `${event.type} ${event.data.endpointId}`;
    case "pool.reputation_alert":
      return `${event.type} ${event.data.pool}`;
    case "test":
      return `${event.type} ${event.data.id}`;
    default:
      return `${event.type} ${event.data.message.id}`;
  }
}

async function deliveries(r: Receiver): Promise<Delivery[]> {
  const { received } = (await stack.sandboxGet(`/_sandbox/hooks/${r.name}/received`)) as { received: Arrival[] };
  return received.map((arrival) => {
    const event = verify(arrival, r.secret);
    return { arrival, id: arrival.headers["webhook-id"]!, event, key: keyOf(event) };
  });
}

const send = async (body: Record<string, unknown>): Promise<string> => {
  const res = await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(body) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id;
};

const email = (to: string) => ({ channel: "email", from: "news@lasthop.test", to, subject: "Hello", text: "Hi there" });
const webpush = async (name: string) => {
  const to = await stack.sandboxPost("/_sandbox/webpush/subscriptions", { name });
  return { to, id: await send({ channel: "webpush", to, payload: { title: "Hello" } }) };
};
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const sorted = (items: string[]) => [...items].sort();
const count = <T>(items: T[], pick: (item: T) => string) =>
  items.reduce((counts, item) => counts.set(pick(item), (counts.get(pick(item)) ?? 0) + 1), new Map<string, number>());

describe("the event stream to a webhook endpoint", () => {
  it("every channel's send, a hard bounce, a dead token and an SMS STOP arrive once each, signed and in the contract", async () => {
    const mailbox = `reader-${run}@example.com`;
    const bouncing = `bounce-${run}@example.com`;
    const apnsToken = ((await stack.sandboxPost("/_sandbox/apns/tokens", { name: `phone-${run}` })) as { token: string }).token;
    const fcmToken = `device-ok-${run}`;
    const deadToken = `device-bounce-${run}`;
    const number = `+1415${run.slice(0, 3)}4321`;
    const stopper = `+1415${run.slice(3, 6)}4322`;

    const ids = {
      email: await send({ ...email(mailbox), tags: ["welcome"], metadata: { user: 42 } }),
      apns: await send({ channel: "apns", to: apnsToken, topic: "com.example.app", pushType: "alert", payload: { aps: { alert: "Hi" } } }),
      fcm: await send({ channel: "fcm", to: fcmToken, message: { notification: { title: "Hi" } } }),
      webpush: "",
      sms: await send({ channel: "sms", to: number, from: SENDER, body: "Your code is 123456", metadata: { order: 7 } }),
      bounce: await send(email(bouncing)),
      dead: await send({ channel: "fcm", to: deadToken, message: { notification: { title: "Hi" } } }),
    };
    const push = await webpush(`hooks-${run}`);
    ids.webpush = push.id;
    const mo = await stack.sandboxPost("/_sandbox/sms/mo", { from: stopper, to: SENDER, body: "STOP" });
    expect(mo).toMatchObject({ route: "smpp" });

    // The STOP's confirmation is a message of its own: its id is the sms.inbound's replyId.
    const expected = (replyId: string | null) => [
      `message.accepted ${ids.email}`,
      `message.accepted ${ids.apns}`,
      `message.accepted ${ids.fcm}`,
      `message.accepted ${ids.webpush}`,
      // SMPP's DLR (the sandbox SMSC sends DELIVRD) is the one receipt among these channels.
      `message.accepted ${ids.sms}`,
      `message.delivered ${ids.sms}`,
      // The sandbox MTA refuses the RCPT with 550 5.1.1: bounced at once, never accepted.
      `message.bounced ${ids.bounce}`,
      `recipient.suppressed email ${bouncing}`,
      `message.bounced ${ids.dead}`,
      `recipient.suppressed fcm ${sha256(deadToken)}`,
      `sms.inbound ${stopper}`,
      `recipient.suppressed sms ${stopper}:${SENDER}`,
      `message.accepted ${replyId}`,
      `message.delivered ${replyId}`,
    ];
    let seen: Delivery[] = [];
    const replyIdOf = (ds: Delivery[]) => {
      const inbound = ds.find((d) => d.key === `sms.inbound ${stopper}`)?.event;
      return inbound?.type === "sms.inbound" ? inbound.data.replyId : null;
    };
    await waitFor(
      async () => {
        seen = await deliveries(hook);
        const keys = new Set(seen.map((d) => d.key));
        return expected(replyIdOf(seen)).every((k) => keys.has(k));
      },
      () => {
        const keys = new Set(seen.map((d) => d.key));
        return `every expected event at the receiver (missing: ${expected(replyIdOf(seen))
          .filter((k) => !keys.has(k))
          .join(", ")})`;
      },
      90_000,
    );
    // Marker: a later send's event has come the same way (outbox → webhooks queue → endpoint), so
    // a duplicate or an unexpected event of the sends above would have arrived by now too.
    const marker = await webpush(`hooks-marker-${run}`);
    seen = await waitFor(async () => {
      const ds = await deliveries(hook);
      return ds.some((d) => d.key === `message.accepted ${marker.id}`) ? ds : null;
    }, "the marker's event");

    const replyId = replyIdOf(seen);
    expect(replyId).toEqual(expect.any(String));
    // Exactly this set, each (subject, type) once: nothing missing, nothing extra, nothing twice.
    expect(sorted(seen.map((d) => d.key))).toEqual(sorted([...expected(replyId), `message.accepted ${marker.id}`]));
    expect([...count(seen, (d) => d.id)].filter(([, n]) => n > 1)).toEqual([]);
    expect(seen.filter((d) => d.event.type === "message.queued")).toEqual([]);
    expect(seen.map((d) => d.arrival.status)).toEqual(seen.map(() => 200));

    const one = (key: string) => seen.find((d) => d.key === key)!.event;
    const messageEvent = (type: string, id: string) => {
      const event = one(`${type} ${id}`);
      if (!event.type.startsWith("message.")) throw new Error(`${type} ${id} is not a message event`);
      return event.data as Extract<WebhookEvent["data"], { message: { id: string } }>;
    };
    // Each message event names its message in full (the recipient unredacted) and its state after the event.
    const accepted = [
      ["email", ids.email, mailbox],
      ["apns", ids.apns, apnsToken],
      ["fcm", ids.fcm, fcmToken],
      ["webpush", ids.webpush, push.to.endpoint],
      ["sms", ids.sms, number],
    ] as const;
    for (const [channel, id, to] of accepted) {
      expect(messageEvent("message.accepted", id).message).toMatchObject({ id, channel, to, status: "accepted" });
    }
    expect(messageEvent("message.accepted", ids.email).message).toMatchObject({ tags: ["welcome"], metadata: { user: 42 } });
    expect(messageEvent("message.accepted", ids.sms).message).toMatchObject({ tags: [], metadata: { order: 7 } });
    expect(messageEvent("message.delivered", ids.sms)).toMatchObject({
      message: { id: ids.sms, channel: "sms", to: number, status: "delivered", metadata: { order: 7 } },
    });

    const bounced = messageEvent("message.bounced", ids.bounce);
    expect(bounced).toMatchObject({
      detail: { smtpCode: 550, enhancedCode: "5.1.1", class: "hard" },
      message: { id: ids.bounce, channel: "email", to: bouncing, status: "bounced" },
    });
    expect(one(`recipient.suppressed email ${bouncing}`).data).toMatchObject({
      channel: "email",
      recipient: bouncing,
      reason: "hard_bounce",
      messageId: ids.bounce,
      // The suppression names the event that caused it, by the id it was delivered under.
      sourceEventId: bounced.id,
    });

    const dead = messageEvent("message.bounced", ids.dead);
    expect(dead).toMatchObject({
      detail: { fcmError: "UNREGISTERED", class: "hard", reason: "token_invalid" },
      message: { id: ids.dead, channel: "fcm", to: deadToken, status: "bounced" },
    });
    expect(one(`recipient.suppressed fcm ${sha256(deadToken)}`).data).toMatchObject({
      channel: "fcm",
      reason: "token_invalid",
      messageId: ids.dead,
      sourceEventId: dead.id,
    });

    const inbound = one(`sms.inbound ${stopper}`).data;
    // Over SMPP the route is the bridge's (the stack's bind to the sandbox SMSC is "sandbox").
    expect(inbound).toMatchObject({ to: SENDER, body: "STOP", keyword: "stop", replyId, provider: "smpp", route: "sandbox" });
    expect(one(`recipient.suppressed sms ${stopper}:${SENDER}`).data).toMatchObject({
      channel: "sms",
      reason: "sms_stop",
      sourceEventId: inbound.id,
    });
    expect(messageEvent("message.accepted", replyId!).message).toMatchObject({
      channel: "sms",
      to: stopper,
      metadata: { inReplyTo: inbound.id, keyword: "stop" },
    });
    expect(messageEvent("message.delivered", replyId!).message.status).toBe("delivered");

    // The bounced message's deliveries to this endpoint: its bounce, and the suppression it caused.
    const mine = await waitFor(async () => {
      const res = await stack.api(`/v1/messages/${ids.bounce}/deliveries`);
      const data = (res.body?.data ?? []).filter((d: { endpointId: string }) => d.endpointId === hook.endpointId);
      return data.length === 2 && data.every((d: { status: string }) => d.status === "succeeded") ? data : null;
    }, "the bounced message's deliveries to succeed");
    expect(sorted(mine.map((d: { eventType: string }) => d.eventType))).toEqual(["message.bounced", "recipient.suppressed"]);
    for (const d of mine) {
      expect(d).toMatchObject({ url: hook.url, attempts: [{ result: "succeeded", statusCode: 200, trigger: "scheduled" }] });
      expect(seen.some((s) => s.id === d.eventId)).toBe(true);
    }
  });

  it("a 500 is retried with the same webhook-id on the schedule's second step, and the attempts show both", async () => {
    await behave(hook.name, { status: 500, times: 1 });
    const address = `retry-${run}@example.com`;
    const put = await stack.api(`/v1/suppressions/email/${encodeURIComponent(address)}`, { method: "PUT" });
    expect(put.status).toBe(200);
    const key = `recipient.suppressed email ${address}`;
    const both = await waitFor(async () => {
      const ds = (await deliveries(hook)).filter((d) => d.key === key);
      return ds.length >= 2 && ds.every((d) => d.arrival.status !== null) ? ds : null;
    }, "the suppression's delivery and its retry");
    expect(both.map((d) => d.arrival.status)).toEqual([500, 200]);
    const [first, second] = both as [Delivery, Delivery];
    expect(second.id).toBe(first.id);
    expect(second.arrival.body).toBe(first.arrival.body);
    expect(first.event).toMatchObject({ data: { reason: "manual", recipient: address } });
    const gap = Date.parse(second.arrival.at) - Date.parse(first.arrival.at);
    expect(gap).toBeGreaterThanOrEqual(3_000); // seconds later, not at once (the exact due time is checked below)
    expect(gap).toBeLessThan(30_000);
    expect(Number(second.arrival.headers["webhook-timestamp"])).toBeGreaterThan(Number(first.arrival.headers["webhook-timestamp"]));

    const attempts = await waitFor(async () => {
      const res = await stack.api(`/v1/webhook-endpoints/${hook.endpointId}/attempts`);
      const of = (res.body?.data ?? []).filter((a: { eventId: string }) => a.eventId === first.id).reverse();
      return of.length === 2 && of[1].result === "succeeded" ? of : null;
    }, "both attempts recorded");
    expect(attempts).toMatchObject([
      { result: "failed", statusCode: 500, error: "status_500", eventType: "recipient.suppressed", trigger: "scheduled" },
      { result: "succeeded", statusCode: 200, nextAttemptAt: null, eventType: "recipient.suppressed", trigger: "scheduled" },
    ]);
    // The second step of the schedule: 5 s ± 10 % after the first attempt began.
    const due = Date.parse(attempts[0].nextAttemptAt) - Date.parse(attempts[0].at);
    expect(due).toBeGreaterThanOrEqual(4_500);
    expect(due).toBeLessThanOrEqual(5_500);
    expect(Date.parse(attempts[1].at)).toBeGreaterThanOrEqual(Date.parse(attempts[0].nextAttemptAt));
    const failedOnly = await stack.api(`/v1/webhook-endpoints/${hook.endpointId}/attempts?status=failed`);
    expect(failedOnly.body.data.filter((a: { eventId: string }) => a.eventId === first.id)).toHaveLength(1);
  });

  it("a 410 disables the endpoint (gone) after one attempt, and the account's other endpoints are told", async () => {
    const gone = await receiver(`e2e-gone-${run}`);
    await behave(gone.name, { status: 410 });
    const address = `gone-${run}@example.com`;
    expect((await stack.api(`/v1/suppressions/email/${encodeURIComponent(address)}`, { method: "PUT" })).status).toBe(200);

    const info = await waitFor(async () => {
      const res = await stack.api(`/v1/webhook-endpoints/${gone.endpointId}`);
      return res.body?.enabled === false ? res.body : null;
    }, "the endpoint to be disabled");
    expect(info).toMatchObject({ id: gone.endpointId, enabled: false, disabledReason: "gone", disabledAt: expect.any(String) });
    const [refused] = await deliveries(gone);
    expect(refused).toMatchObject({ key: `recipient.suppressed email ${address}`, arrival: { status: 410 } });
    const attempts = (await stack.api(`/v1/webhook-endpoints/${gone.endpointId}/attempts`)).body.data;
    expect(attempts).toMatchObject([{ eventId: refused!.id, result: "failed", statusCode: 410, error: "gone", nextAttemptAt: null }]);

    const notice = await waitFor(
      async () => (await deliveries(hook)).find((d) => d.key === `endpoint.disabled ${gone.endpointId}`),
      "endpoint.disabled at the first endpoint",
    );
    expect(notice.event.data).toMatchObject({ endpointId: gone.endpointId, url: gone.url, reason: "gone", disabledAt: info.disabledAt });

    // Marker: a later event reached the first endpoint; the disabled one got nothing more, and
    // the notice came once.
    const later = `after-gone-${run}@example.com`;
    expect((await stack.api(`/v1/suppressions/email/${encodeURIComponent(later)}`, { method: "PUT" })).status).toBe(200);
    const all = await waitFor(async () => {
      const ds = await deliveries(hook);
      return ds.some((d) => d.key === `recipient.suppressed email ${later}`) ? ds : null;
    }, "the marker's event at the first endpoint");
    expect(await deliveries(gone)).toHaveLength(1);
    expect(all.filter((d) => d.key === `endpoint.disabled ${gone.endpointId}`)).toHaveLength(1);
    expect(all.filter((d) => d.key === `recipient.suppressed email ${address}`)).toHaveLength(1);
  });

  it("POST …/test answers the attempt's outcome, and the receiver gets a test event that verifies", async () => {
    await behave(hook.name, { status: 503, times: 1 });
    const failed = await stack.api(`/v1/webhook-endpoints/${hook.endpointId}/test`, { method: "POST" });
    expect(failed.status).toBe(200);
    expect(failed.body.attempt).toMatchObject({
      eventType: "test",
      messageId: null,
      result: "failed",
      statusCode: 503,
      trigger: "test",
      nextAttemptAt: null,
    });

    const ok = await stack.api(`/v1/webhook-endpoints/${hook.endpointId}/test`, { method: "POST" });
    expect(ok.status).toBe(200);
    expect(ok.body.attempt).toMatchObject({
      eventType: "test",
      result: "succeeded",
      statusCode: 200,
      trigger: "test",
      nextAttemptAt: null,
    });
    expect(ok.body.attempt.eventId).not.toBe(failed.body.attempt.eventId);

    // The attempt answered after the receiver did: both deliveries are there already.
    const tests = (await deliveries(hook)).filter((d) => d.event.type === "test");
    expect(tests.map((d) => [d.id, d.arrival.status])).toEqual([
      [failed.body.attempt.eventId, 503],
      [ok.body.attempt.eventId, 200],
    ]);
    expect(tests[1]!.event).toMatchObject({ type: "test", data: { id: ok.body.attempt.eventId, endpointId: hook.endpointId } });

    // A verifier that checks: another secret, or a changed byte, is refused by both packages.
    const arrival = tests[1]!.arrival;
    const other = `whsec_${Buffer.from("not the endpoint's secret, 32 b").toString("base64")}`;
    expect(() => new Webhook(other).verify(arrival.body, arrival.headers)).toThrow();
    expect(() => new SvixWebhook(hook.secret).verify(arrival.body.replace("test", "tesT"), arrival.headers)).toThrow();
    expect(() => new Webhook(hook.secret).verify(arrival.body.replace("test", "tesT"), arrival.headers)).toThrow();
  });
});
