import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { messageIdFor } from "../../src/core/ids.ts";
import { recipientKey } from "../../src/core/recipient.ts";
import type { MessageDO } from "../../src/state/message.ts";
import { messageStub } from "../../src/state/stubs.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { installPushService } from "./push-service.ts";
import { waitFor } from "../wait.ts";
import { api, eventsMarker, getMessage, send, sendMarker, waitForStatus, webpush } from "./helpers.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

describe("crash points", () => {
  it("a send accepted while the queue is down is enqueued later by the MessageDO's alarm, not lost", async () => {
    const request = (await webpush("outage")) as any;
    const id = await messageIdFor(ACCOUNT_A);
    const stub = messageStub(env, ACCOUNT_A, id);
    await runInDurableObject(stub, async (instance: MessageDO) => {
      const realQueue = (instance as any).env.SEND_PUSH;
      let refused = 0;
      const down = {
        send: () => {
          refused++;
          return Promise.reject(new Error("queue unavailable"));
        },
      };
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: down };
      const result = await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
      });
      expect(result.kind).toBe("created");
      // The 202 does not wait for the outbox: its drain meets the outage after the answer.
      await waitFor(() => refused > 0 && !(instance as any).outbox.busy, "the drain after create to meet the queue outage and stop");
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: realQueue };
    });
    await sendMarker(await webpush("marker")); // a later send went through: this one was never queued
    expect(push.to("outage")).toHaveLength(0);
    expect((await getMessage(id)).body.status).toBe("queued");
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitForStatus(id, "accepted");
    expect(push.to("outage")).toHaveLength(1);
  });

  it("the 202 does not wait for the outbox: a drain that hangs leaves the backstop alarm armed", async () => {
    const request = (await webpush("hung-queue")) as any;
    const id = await messageIdFor(ACCOUNT_A);
    const stub = messageStub(env, ACCOUNT_A, id);
    await runInDurableObject(stub, async (instance: MessageDO, state) => {
      let release!: () => void;
      const hung = new Promise<void>((resolve) => (release = resolve));
      const realQueue = (instance as any).env.SEND_PUSH;
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: { send: () => hung } };
      const before = Date.now();
      const result = await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
      });
      expect(result.kind).toBe("created");
      expect((instance as any).outbox.busy).toBe(true);
      // If this isolate died now, the alarm would drain the outbox (the test above runs that alarm).
      expect(await state.storage.getAlarm()).toBeGreaterThanOrEqual(before);
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: realQueue };
      release();
      // Its drain done, the backstop is taken back: the alarm left is the send watchdog's, no sooner.
      const watchdog = Number((instance as any).meta.get("send_due"));
      expect(watchdog).toBeGreaterThanOrEqual(before + 60_000);
      await waitFor(
        async () => !(instance as any).outbox.busy && (await state.storage.getAlarm()) === watchdog,
        "the drain to end and the alarm to be the watchdog's",
      );
    });
  });

  it("a send job the queue lost (a local queue emptied by a restart) is enqueued again by the watchdog once overdue", async () => {
    const request = (await webpush("lost-job")) as any;
    const id = await messageIdFor(ACCOUNT_A);
    const stub = messageStub(env, ACCOUNT_A, id);
    await runInDurableObject(stub, async (instance: MessageDO) => {
      const realQueue = (instance as any).env.SEND_PUSH;
      // The queue takes the job and then loses it.
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: { send: () => Promise.resolve() } };
      await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
      });
      // The 202 does not wait for the outbox: let its drain hand the job to the losing queue first.
      await waitFor(() => !(instance as any).outbox.busy, "the drain after create to end");
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: realQueue };
    });
    await sendMarker(await webpush("marker"));
    expect((await getMessage(id)).body.status).toBe("queued");
    // Not yet overdue: the alarm leaves it to the queue.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await sendMarker(await webpush("marker"));
    expect(push.to("lost-job")).toHaveLength(0);
    // Overdue (the watchdog's minute, passed here by moving the due time back): enqueued again, sent once.
    await runInDurableObject(stub, (instance: MessageDO) => (instance as any).meta.set("send_due", String(Date.now() - 1)));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitForStatus(id, "accepted");
    expect(push.to("lost-job")).toHaveLength(1);
  });

  it("a second job for a message whose attempt is still running is skipped, so the watchdog never doubles a send", async () => {
    const request = (await webpush("in-flight")) as any;
    const id = await messageIdFor(ACCOUNT_A);
    await runInDurableObject(messageStub(env, ACCOUNT_A, id), async (instance: MessageDO) => {
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: { send: () => Promise.resolve() } };
      await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
      });
      expect(await instance.beginAttempt()).toMatchObject({ action: "send", attempt: 1 });
      expect(await instance.beginAttempt()).toEqual({ action: "skip", reason: "in_flight" });
      // An attempt that never reported (its consumer died) is retried once overdue.
      (instance as any).meta.set("attempt_at", String(Date.now() - 60_001));
      expect(await instance.beginAttempt()).toMatchObject({ action: "send", attempt: 2 });
    });
  });

  it("a second job well before a deferred message's retry is due is skipped: a slow queue plus the watchdog never tries faster than the schedule", async () => {
    const request = (await webpush("not-due")) as any;
    const id = await messageIdFor(ACCOUNT_A);
    await runInDurableObject(messageStub(env, ACCOUNT_A, id), async (instance: MessageDO) => {
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: { send: () => Promise.resolve() } };
      await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
      });
      expect(await instance.beginAttempt()).toMatchObject({ action: "send", attempt: 1 });
      // The attempt is deferred for 30 s, as the consumer records it before the queue's retry.
      const at = new Date().toISOString();
      await instance.apply({
        id: `${id}:deferred:1`,
        type: "deferred",
        occurredAt: at,
        provider: "webpush",
        detail: { attempt: 1, retryInSeconds: 30 },
      });
      expect(await instance.beginAttempt()).toEqual({ action: "skip", reason: "not_due" });
      // The queue's own job, at its due time (moved here by moving the due time back), sends.
      (instance as any).meta.set("send_due", String(Date.now() - 1 + (instance as any).watchdogGraceMs()));
      expect(await instance.beginAttempt()).toMatchObject({ action: "send", attempt: 2 });
    });
  });

  it("a redelivered send job for a message already accepted sends nothing twice", async () => {
    const res = await send(await webpush("redelivered"));
    await waitForStatus(res.body.id, "accepted");
    await env.SEND_PUSH.send({ account: ACCOUNT_A, messageId: res.body.id });
    await sendMarker(await webpush("marker")); // the redelivered job was taken before it
    expect(push.to("redelivered")).toHaveLength(1);
    expect((await getMessage(res.body.id)).body.attempts).toBe(1);
  });

  it("a recipient suppressed while its message waits for a retry is not sent to again", async () => {
    const body = await webpush("down-then-suppressed");
    const res = await send(body);
    await waitForStatus(res.body.id, "deferred");
    const hash = await recipientKey("webpush", body.to.endpoint);
    expect((await api(`/v1/suppressions/webpush/${hash}`, { method: "PUT" })).status).toBe(200);
    const message = await waitForStatus(res.body.id, "suppressed");
    const sentBefore = push.to("down-then-suppressed").length;
    await sendMarker(await webpush("marker")); // a waiting retry job was taken before it
    expect(push.to("down-then-suppressed")).toHaveLength(sentBefore);
    expect(message.events.at(-1)).toMatchObject({ type: "suppressed", detail: { reason: "manual" } });
  });

  it("an event the queue delivers twice (at-least-once) is applied once", async () => {
    // The events consumer acks only after the MessageDO answered; a replay is deduped.
    const res = await send(await webpush("event-retry"));
    await waitForStatus(res.body.id, "accepted");
    const event = {
      id: "evt-retry-1",
      account: ACCOUNT_A,
      messageId: res.body.id,
      type: "delivered",
      occurredAt: new Date().toISOString(),
      provider: "bridge",
      detail: {},
    };
    await env.EVENTS.send(event);
    await env.EVENTS.send(event);
    const message = await waitFor(async () => {
      const m = await getMessage(res.body.id);
      return m.body.status === "delivered" ? m.body : null;
    });
    await eventsMarker(res.body.id); // the second copy was handled before it
    expect((await getMessage(res.body.id)).body.events.filter((e: any) => e.id === "evt-retry-1")).toHaveLength(1);
    expect(message.status).toBe("delivered");
  });
});
