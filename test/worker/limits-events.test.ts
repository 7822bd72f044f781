/**
 * Queue message limits: an event a queue message cannot hold (128 KB) is refused 413
 * event_too_large naming it, and nothing of its request is enqueued; inbound feedback with
 * more events than one sendBatch takes is enqueued in several; a send's queue job is only ids,
 * so a body at the 256 KiB request limit goes through.
 */
import { env, SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { dsn } from "../dsn-fixture.ts";
import { installBridge } from "./bridge-fake.ts";
import { installPushService } from "./push-service.ts";
import { BASE, getMessage, postEvents, send, waitForStatus, webpush } from "./helpers.ts";
import { waitFor } from "../wait.ts";

let restore: () => void = () => {};
afterEach(() => restore());

function event(messageId: string, type: string, id: string, detail: Record<string, unknown> = {}) {
  return { id, account: ACCOUNT_A, messageId, type, occurredAt: new Date().toISOString(), provider: "bridge", detail };
}

describe("POST /v1/webhooks/bridge and the 128 KB queue message", () => {
  it("413 event_too_large names the event; the request's other events are not enqueued either", async () => {
    restore = installPushService().restore;
    const message = await waitForStatus((await send(await webpush("big-event"))).body.id, "accepted");
    const small = event(message.id, "delivered", `small-${crypto.randomUUID()}`);
    const big = event(message.id, "delivered", `big-${crypto.randomUUID()}`, { blob: "x".repeat(130_000) });
    const res = await postEvents([small, big]);
    expect(res.status).toBe(413);
    const error = ((await res.json()) as any).error;
    expect(error.code).toBe("event_too_large");
    expect(error.details).toEqual([
      { path: "events.1", code: "too_big", message: expect.stringMatching(/^the event is 130\d{3} bytes .*at most 128000 fit$/) },
    ]);

    // A later event goes through the same queue: once it is applied, anything enqueued before it was too.
    const sentinel = event(message.id, "delivered", `sentinel-${crypto.randomUUID()}`);
    expect((await postEvents([sentinel])).status).toBe(202);
    const after = await waitFor(async () => {
      const m = await getMessage(message.id);
      return m.body.events.some((e: any) => e.id === sentinel.id) ? m.body : null;
    });
    expect(after.events.map((e: any) => e.id)).not.toContain(small.id);
    expect(after.events.map((e: any) => e.id)).not.toContain(big.id);
  });

  it("an event just under the limit is enqueued and applied whole", async () => {
    restore = installPushService().restore;
    const message = await waitForStatus((await send(await webpush("near-limit"))).body.id, "accepted");
    const near = event(message.id, "delivered", `near-${crypto.randomUUID()}`, { blob: "é".repeat(63_500) });
    expect((await postEvents([near])).status).toBe(202);
    const done = await waitForStatus(message.id, "delivered");
    expect(done.events.find((e: any) => e.id === near.id).detail.blob).toBe("é".repeat(63_500));
  });
});

describe("inbound feedback with more events than one sendBatch", () => {
  it("a DSN naming 150 failed recipients is enqueued (202, 150 events) and bounces the message", async () => {
    const bridge = installBridge();
    restore = bridge.restore;
    const res = await send({ channel: "email", from: "news@lasthop.test", to: "many@example.org", subject: "Hi", text: "Hello" });
    await waitForStatus(res.body.id, "accepted");
    const one = dsn(res.body.id, "many@example.org");
    const block = /Final-Recipient:[\s\S]*?\r\n\r\n/.exec(one)![0];
    const extra = Array.from({ length: 149 }, (_, i) => block.replace("many@example.org", `other${i}@example.org`)).join("");
    const raw = one.replace(block, block + extra);
    const body = JSON.stringify({ to: `bounce+${res.body.id}@bounces.lasthop.test`, from: "", raw: btoa(raw) });
    const inbound = await SELF.fetch(`${BASE}/v1/inbound/email`, {
      method: "POST",
      headers: {
        ...(await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, "/v1/inbound/email"), body)),
        "content-type": "application/json",
      },
      body,
    });
    expect(inbound.status).toBe(202);
    expect(await inbound.json()).toMatchObject({ outcome: "enqueued", kind: "dsn", events: 150 });
    await waitForStatus(res.body.id, "bounced");
  });
});

describe("a send's queue job", () => {
  it("carries ids, not the body: an email at the 256 KiB request limit is accepted and relayed", async () => {
    const bridge = installBridge();
    restore = bridge.restore;
    const text = "line of text\n".repeat(18_000); // 252,000 bytes of JSON ("\\n" is two)
    const res = await send({ channel: "email", from: "news@lasthop.test", to: "big-body@example.org", subject: "Big", text });
    expect(res.status).toBe(202);
    await waitForStatus(res.body.id, "accepted");
    expect(bridge.mail.find((m) => m.id === res.body.id)).toBeDefined();
  });
});
