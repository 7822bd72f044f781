import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { installPushService } from "./push-service.ts";
import { sha256Hex } from "../../src/core/bytes.ts";
import { API_KEY_B } from "../fixtures.ts";
import { waitFor, waitForWhileProgressing } from "../wait.ts";
import { api, getMessage, send, sendMarker, waitForStatus, webpush } from "./helpers.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

describe("web push sends", () => {
  it("sends, records the push service's custody as accepted (never delivered)", async () => {
    const res = await send(await webpush("ok-1", { ttl: 0, urgency: "high", topic: "news" }));
    expect(res.status).toBe(202);
    expect(res.body.status).toBe("queued");
    const message = await waitForStatus(res.body.id, "accepted");
    expect(message.attempts).toBe(1);
    expect(message.providerMessageId).toMatch(/^https:\/\/push\.test\/m\//);
    expect(message.events.map((e: any) => e.type)).toEqual(["queued", "sending", "accepted"]);
    const [request] = push.to("ok-1");
    expect(request.headers.ttl).toBe("0");
    expect(request.headers.urgency).toBe("high");
    expect(request.headers.topic).toBe("news");
    expect(request.headers["content-encoding"]).toBe("aes128gcm");
    expect(request.headers.authorization).toMatch(/^vapid t=[\w-]+\.[\w-]+\.[\w-]+, k=[\w-]+$/);
  });
});

describe("web push outcomes", () => {
  it("a gone subscription (410) ends bounced, suppresses the endpoint, and the next send is suppressed with nothing sent", async () => {
    const body = await webpush("bounce-1");
    const first = await send(body);
    const message = await waitForStatus(first.body.id, "bounced");
    expect(message.events.at(-1).detail).toMatchObject({ status: 410, class: "hard", reason: "token_invalid" });
    const entry = await waitFor(async () => {
      const res = await api(`/v1/suppressions/webpush/${await sha256Hex(body.to.endpoint)}`);
      return res.status === 200 ? ((await res.json()) as any) : null;
    });
    expect(entry).toMatchObject({ reason: "token_invalid", messageId: first.body.id, sourceEventId: `${first.body.id}:bounced` });

    const again = await send({ ...body, payload: "second" });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ status: "suppressed", reason: "token_invalid" });
    await sendMarker(await webpush("marker")); // a later send went through, this one did not
    expect(push.to("bounce-1")).toHaveLength(1);
    expect((await getMessage(again.body.id)).body.status).toBe("suppressed");
  });

  it("a 429 is retried honouring Retry-After, then accepted", async () => {
    const res = await send(await webpush("slow-1"));
    const message = await waitForStatus(res.body.id, "accepted");
    expect(message.attempts).toBe(2);
    expect(message.events.map((e: any) => e.type)).toEqual(["queued", "sending", "deferred", "sending", "accepted"]);
    expect(message.events[2].detail).toMatchObject({ status: 429, reason: "rate_limited", retryInSeconds: 0 });
    expect(push.to("slow-1")).toHaveLength(2);
  });

  it("a 413 fails without retry", async () => {
    const res = await send(await webpush("toobig-1"));
    const message = await waitForStatus(res.body.id, "failed");
    expect(message.events.at(-1).detail).toMatchObject({ status: 413, reason: "payload_too_large" });
    await sendMarker(await webpush("marker")); // a retry would have been queued before it
    expect(push.to("toobig-1")).toHaveLength(1);
  });

  it("a 403 for our VAPID key fails without a retry storm", async () => {
    const res = await send(await webpush("vapid-1"));
    const message = await waitForStatus(res.body.id, "failed");
    expect(message.events.at(-1).detail).toMatchObject({ status: 403, reason: "vapid_rejected" });
    expect(push.to("vapid-1")).toHaveLength(1);
  });

  it("a service that stays down is retried every attempt, dead-lettered, and ends failed with the last error", async () => {
    const res = await send(await webpush("down-1"));
    const failed = async () => {
      const m = await getMessage(res.body.id);
      return m.body.status === "failed" ? m.body : null;
    };
    const message = await waitForWhileProgressing(failed, () => push.to("down-1").length, {
      stallMs: 20_000,
      what: "attempts at the push service",
    });
    // max_retries = 5 in wrangler.toml: six attempts, then the DLQ consumer.
    expect(push.to("down-1")).toHaveLength(6);
    expect(message.attempts).toBe(6);
    expect(message.events.at(-1)).toMatchObject({
      type: "failed",
      detail: { reason: "retries_exhausted", attempts: 6, lastError: { status: 503, reason: "server_error" } },
    });
  });
});

describe("idempotency", () => {
  it("the same key and body answers 200 with the original and sends nothing again", async () => {
    const body = await webpush("idem-1");
    const first = await send(body, { idempotencyKey: "order-1" });
    expect(first.status).toBe(202);
    await waitForStatus(first.body.id, "accepted");
    const replay = await send(body, { idempotencyKey: "order-1" });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual({ id: first.body.id, status: "accepted" });
    await sendMarker(await webpush("marker")); // a send for the replay would have gone before it
    expect(push.to("idem-1")).toHaveLength(1);
  });

  it("the same key with another body is a 409 and changes nothing", async () => {
    const body = await webpush("idem-2");
    const first = await send(body, { idempotencyKey: "order-2" });
    const other = await send({ ...body, payload: "different" }, { idempotencyKey: "order-2" });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe("idempotency_conflict");
    await waitForStatus(first.body.id, "accepted");
    expect(push.to("idem-2")).toHaveLength(1);
  });

  it("the same key in two accounts names two messages", async () => {
    const a = await send(await webpush("idem-3"), { idempotencyKey: "shared" });
    const b = await send(await webpush("idem-3"), { idempotencyKey: "shared", key: API_KEY_B });
    expect(a.status).toBe(202);
    expect(b.status).toBe(202);
    expect(a.body.id).not.toBe(b.body.id);
  });
});

describe("batch", () => {
  it("answers one result per item, in order; a bad item fails alone", async () => {
    const good1 = await webpush("batch-1");
    const good2 = await webpush("batch-2");
    const res = await api("/v1/messages/batch", {
      method: "POST",
      json: { messages: [good1, { channel: "webpush", to: "nope" }, good2, { channel: "fax" }] },
    });
    expect(res.status).toBe(202);
    const { results } = (await res.json()) as any;
    expect(results).toHaveLength(4);
    expect(results[0]).toMatchObject({ status: "queued" });
    expect(results[1].error).toMatchObject({ code: "validation_failed" });
    expect(results[2]).toMatchObject({ status: "queued" });
    expect(results[3].error.details[0].path).toBe("channel");
    await waitForStatus(results[0].id, "accepted");
    await waitForStatus(results[2].id, "accepted");
  });

  it("refuses more than 1,000 items", async () => {
    const item = await webpush("batch-big");
    const res = await api("/v1/messages/batch", { method: "POST", json: { messages: new Array(1001).fill(item) } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.details[0].path).toBe("messages");
  });
});

describe("accounts", () => {
  it("never see each other's messages or suppressions", async () => {
    const body = await webpush("bounce-iso");
    const res = await send(body);
    await waitForStatus(res.body.id, "bounced");
    expect((await getMessage(res.body.id, API_KEY_B)).status).toBe(404);
    const hash = await sha256Hex(body.to.endpoint);
    await waitFor(async () => (await api(`/v1/suppressions/webpush/${hash}`)).status === 200);
    expect((await api(`/v1/suppressions/webpush/${hash}`, { key: API_KEY_B })).status).toBe(404);
    const list = (await (await api("/v1/suppressions?channel=webpush", { key: API_KEY_B })).json()) as any;
    expect(list.data.find((e: any) => e.recipientKey === hash)).toBeUndefined();
    // Account B may still send to the endpoint A found dead: suppression is per account.
    const other = await send(body, { key: API_KEY_B });
    expect(other.body.status).toBe("queued");
  });
});
