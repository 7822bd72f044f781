// End to end: wrangler dev (the real Worker, local DOs and Queues) and the sandbox push
// service (which verifies VAPID and decrypts with http_ece) on loopback.
import { createHash, randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EDGE_EVENTS_PATH } from "../../src/core/bridge.ts";
import { doorSecret } from "../../src/core/standard-webhooks.ts";
import { waitFor } from "../wait.ts";
import type { components } from "./api-types.d.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
// This stack meters its costs (METER, src/state/meter.ts): the last test reads what a message cost.
const adminKey = `admin-${randomBytes(16).toString("hex")}`;
beforeAll(async () => {
  stack = await startTestStack({ vars: { METER: "1", ADMIN_API_KEY: adminKey } });
});
afterAll(async () => stack?.stop());

// Through the client typed from the OpenAPI document: a send the document does not describe does not compile.
const send = async (body: components["schemas"]["SendRequest"]) => {
  const { data, response } = await stack.client.POST("/v1/messages", { body });
  return { status: response.status, body: data! };
};

async function subscribe(name: string) {
  return stack.sandboxPost("/_sandbox/webpush/subscriptions", { name });
}

async function received(endpoint: string) {
  return ((await stack.sandboxGet("/_sandbox/received?channel=webpush")) as any[]).filter((r) => r.to === endpoint);
}

const waitForStatus = (id: string, status: string) => stack.waitForMessage(id, status);

describe("web push through the whole stack", () => {
  it("the sandbox decrypts exactly the payload sent, with TTL, Urgency and Topic", async () => {
    const to = await subscribe("e2e-ok");
    const payload = "Grüße 👋 — ünïcödé";
    const sent = await send({ channel: "webpush", to, payload, ttl: 60, urgency: "low", topic: "greeting" });
    expect(sent.status).toBe(202);
    const message = await waitForStatus(sent.body.id, "accepted");
    const [arrived] = await received(to.endpoint);
    expect(arrived).toMatchObject({
      outcome: "accepted",
      payload,
      headers: { ttl: "60", urgency: "low", topic: "greeting", "content-encoding": "aes128gcm" },
    });
    expect(message.providerMessageId).toMatch(new RegExp(`^${stack.sandbox.webpushUrl}/m/`));

    const object = { title: "Order shipped", data: { orderId: 42 } };
    const second = await send({ channel: "webpush", to, payload: object });
    await waitForStatus(second.body.id, "accepted");
    const all = await received(to.endpoint);
    expect(JSON.parse(all[1].payload)).toEqual(object);
    expect(all[1].headers.ttl).toBe("2419200");
  });

  it("a gone subscription ends bounced and suppressed; the next send is suppressed and never reaches the sandbox", async () => {
    const to = await subscribe("e2e-bounce");
    const first = await send({ channel: "webpush", to, payload: "one" });
    const bounced = await waitForStatus(first.body.id, "bounced");
    expect(bounced.events.at(-1)!.detail).toMatchObject({ status: 410, reason: "token_invalid" });
    const hash = createHash("sha256").update(to.endpoint).digest("hex");
    const entry = await waitFor(async () => {
      const r = await stack.client.GET("/v1/suppressions/{channel}/{recipient}", {
        params: { path: { channel: "webpush", recipient: hash } },
      });
      return r.response.status === 200 ? r.data! : null;
    });
    expect(entry).toMatchObject({ reason: "token_invalid", messageId: first.body.id });

    const second = await send({ channel: "webpush", to, payload: "two" });
    expect(second.body).toMatchObject({ status: "suppressed", reason: "token_invalid" });
    // Marker: a later message on the same path has arrived, so "two" would have by now.
    const marker = await subscribe("e2e-marker");
    await waitForStatus((await send({ channel: "webpush", to: marker, payload: "later" })).body.id, "accepted");
    expect(await received(to.endpoint)).toHaveLength(1);
  });

  it("a throttled subscription is retried after Retry-After and ends accepted", async () => {
    const to = await subscribe("e2e-slow");
    const sent = await send({ channel: "webpush", to, payload: "patience" });
    const message = await waitForStatus(sent.body.id, "accepted");
    expect(message.attempts).toBe(2);
    expect(message.events.find((e) => e.type === "deferred")!.detail).toMatchObject({ status: 429, retryInSeconds: 1 });
    expect((await received(to.endpoint)).map((r) => r.outcome)).toEqual(["throttled", "accepted"]);
  });

  it("webhooks: forged and expired signatures are refused and change nothing; a signed delivery applies", async () => {
    const to = await subscribe("e2e-webhook");
    const sent = await send({ channel: "webpush", to, payload: "x" });
    await waitForStatus(sent.body.id, "accepted");
    // Each post carries its own event id, so what a refused one would have applied is visible.
    const eventBody = (id: string) =>
      JSON.stringify({
        events: [
          {
            id,
            account: stack.account,
            messageId: sent.body.id,
            type: "delivered",
            occurredAt: new Date().toISOString(),
            provider: "bridge",
            detail: {},
          },
        ],
      });
    const post = (headers: Record<string, string>, body: string) =>
      fetch(`${stack.workerUrl}${EDGE_EVENTS_PATH}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

    // Signed by the independent standardwebhooks package, with the wrong secret and with an old
    // timestamp; then rightly, with the door's key (what an outside sender of events is given).
    const forged = new Webhook(`whsec_${randomBytes(32).toString("base64")}`);
    const old = new Date(Date.now() - 10 * 60_000);
    const real = new Webhook(await doorSecret(stack.secret, EDGE_EVENTS_PATH));
    const forgedBody = eventBody("e2e-forged");
    const oldBody = eventBody("e2e-expired");
    const platformBody = eventBody("e2e-platform-secret");
    expect(
      (
        await post(
          {
            "webhook-id": "a",
            "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
            "webhook-signature": forged.sign("a", new Date(), forgedBody),
          },
          forgedBody,
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await post(
          {
            "webhook-id": "b",
            "webhook-timestamp": String(Math.floor(old.getTime() / 1000)),
            "webhook-signature": real.sign("b", old, oldBody),
          },
          oldBody,
        )
      ).status,
    ).toBe(401);
    // The platform secret itself signs for no door.
    expect(
      (
        await post(
          {
            "webhook-id": "d",
            "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
            "webhook-signature": new Webhook(stack.secret).sign("d", new Date(), platformBody),
          },
          platformBody,
        )
      ).status,
    ).toBe(401);
    expect((await stack.client.GET("/v1/messages/{id}", { params: { path: { id: sent.body.id } } })).data!.status).toBe("accepted");

    const now = new Date();
    const body = eventBody("e2e-dlr-1");
    const ok = await post(
      { "webhook-id": "c", "webhook-timestamp": String(Math.floor(now.getTime() / 1000)), "webhook-signature": real.sign("c", now, body) },
      body,
    );
    expect(ok.status).toBe(202);
    const delivered = await waitForStatus(sent.body.id, "delivered");
    expect(delivered.events.at(-1)).toMatchObject({ id: "e2e-dlr-1", provider: "bridge" });
    // The signed event took the path the refused ones would have, after them: neither was applied.
    expect(delivered.events.filter((e) => ["e2e-forged", "e2e-expired", "e2e-platform-secret"].includes(e.id))).toEqual([]);
  });
});

describe("the cost meter (METER=1) in the whole stack", () => {
  const meter = async (): Promise<Record<string, number>> => {
    const res = await stack.api("/v1/admin/meter", { headers: { authorization: `Bearer ${adminKey}` } });
    expect(res.status).toBe(200);
    return res.body.counts;
  };

  it("counts what one web push cost the platform: invocations, DO requests, queue operations, a subrequest, SQLite rows", async () => {
    const to = await subscribe("e2e-meter");
    const before = await meter();
    const sent = await send({ channel: "webpush", to, payload: "metered" });
    await waitForStatus(sent.body.id, "accepted");
    // The drain after the answer and the consumer's settle finish on their own time: wait for the queue's delete.
    let after: Record<string, number> = {};
    const d = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    await waitFor(
      async () => {
        after = await meter();
        return d("queue.delete") >= 1 && d("do.ACCOUNT") >= 2;
      },
      () => `the meter to count the send's queue ack and counters (${JSON.stringify(after)})`,
    );
    expect(d("worker.fetch")).toBeGreaterThanOrEqual(2); // the send, and the meter reads themselves
    expect(d("worker.queue")).toBeGreaterThanOrEqual(1);
    expect(d("do.MESSAGE.create")).toBe(1);
    expect(d("do.MESSAGE.beginAttempt")).toBe(1);
    expect(d("do.RECIPIENT")).toBeGreaterThanOrEqual(1); // suppression checks
    expect(d("queue.write")).toBeGreaterThanOrEqual(1);
    expect(d("queue.read")).toBeGreaterThanOrEqual(1);
    expect(d(`subrequest.${new URL(to.endpoint).host}`)).toBe(1);
    expect(d("sql.write")).toBeGreaterThan(0);
  });
});
