/**
 * Scheduled sends (issue 19): `sendAt` on a send, the MessageDO's alarm that releases it through
 * the outbox, cancel of one message and of a batch. Alarms are run with runDurableObjectAlarm;
 * "its time has come" is the stored send_at moved back, never a wait.
 */
import { createScheduledController, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import worker from "../../src/index.ts";
import type { AccountDO } from "../../src/state/account.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/bytes.ts";
import { canonicalJson, messageIdFor } from "../../src/core/ids.ts";
import { recipientKey } from "../../src/core/recipient.ts";
import type { MessageDO } from "../../src/state/message.ts";
import { counterStub, messageStub } from "../../src/state/stubs.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { waitFor } from "../wait.ts";
import { adminAccount, api, getMessage, json, send, sendMarker, unique, waitForStatus, webpush } from "./helpers.ts";
import { installHooks } from "./hooks-fake.ts";
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

const DAY = 86_400_000;
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

/** Its time has come: the stored sendAt moved back, then the alarm run if one is armed (as the runtime would at sendAt). */
async function fire(account: string, id: string): Promise<boolean> {
  const stub = messageStub(env, account, id);
  await runInDurableObject(stub, (instance: MessageDO) => (instance as any).meta.set("send_at", String(Date.now() - 1)));
  return runDurableObjectAlarm(stub);
}

async function cancel(id: string, key?: string) {
  return json(await api(`/v1/messages/${id}/cancel`, { method: "POST", key }));
}

describe("scheduled sends", () => {
  it("a message scheduled an hour ahead is not sent until its alarm runs, then once", async () => {
    const path = `sched-${unique()}`;
    const sendAt = inAnHour();
    const res = await send(await webpush(path, { sendAt }));
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.status).toBe("scheduled");
    const id = res.body.id as string;

    const view = (await getMessage(id)).body;
    expect(view.status).toBe("scheduled");
    expect(view.sendAt).toBe(sendAt);
    expect(view.events.map((e: any) => e.type)).toEqual(["scheduled"]);
    // Its alarm is its sendAt (the create's outbox drained, the backstop taken back).
    const stub = messageStub(env, ACCOUNT_A, id);
    await waitFor(
      () => runInDurableObject(stub, async (_: MessageDO, state) => (await state.storage.getAlarm()) === Date.parse(sendAt)),
      "the alarm to be the sendAt",
    );
    // Found by status in search.
    await waitFor(
      async () => (await json(await api("/v1/messages?status=scheduled"))).body.data.some((m: any) => m.id === id),
      "the search to find it scheduled",
    );

    // An alarm before its time (an outbox retry's) sends nothing and keeps the sendAt armed.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await sendMarker(await webpush("marker"));
    expect(push.to(path)).toHaveLength(0);
    expect((await getMessage(id)).body.status).toBe("scheduled");
    expect(await runInDurableObject(stub, (_: MessageDO, state) => state.storage.getAlarm())).toBe(Date.parse(sendAt));

    expect(await fire(ACCOUNT_A, id)).toBe(true);
    const sent = await waitForStatus(id, "accepted");
    expect(sent.events.map((e: any) => e.type).slice(0, 2)).toEqual(["scheduled", "queued"]);
    // Another alarm (the watchdog's) sends nothing more.
    await runDurableObjectAlarm(stub);
    await sendMarker(await webpush("marker"));
    expect(push.to(path)).toHaveLength(1);
    // Gone: too late to cancel.
    const late = await cancel(id);
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("not_cancelable");
    expect(late.body.error.details).toEqual([{ path: "status", message: "accepted" }]);
  });

  it("canceled before it goes: never sent, `canceled` in its timeline and on the event stream; a second cancel answers the same", async () => {
    const account = await adminAccount("Sched Co");
    const hook = `sched-${unique()}`;
    const made = await json(
      await api("/v1/webhook-endpoints", {
        method: "POST",
        json: { url: hooks.url(hook), eventTypes: ["message.scheduled", "message.canceled"] },
        key: account.key,
      }),
    );
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const path = `sched-${unique()}`;
    const res = await send(await webpush(path, { sendAt: inAnHour() }), { key: account.key });
    expect(res.body.status).toBe("scheduled");
    const id = res.body.id as string;

    const first = await cancel(id, account.key);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    expect(first.body.status).toBe("canceled");
    expect(first.body.events.map((e: any) => e.type)).toEqual(["scheduled", "canceled"]);
    const second = await cancel(id, account.key);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);

    const events = await waitFor(
      () => (hooks.to(hook).length >= 2 ? hooks.to(hook).map((d) => d.event) : null),
      "message.scheduled and message.canceled at the endpoint",
    );
    expect(events.map((e) => e.type).sort()).toEqual(["message.canceled", "message.scheduled"]);
    const canceled = events.find((e) => e.type === "message.canceled")!;
    expect(canceled.data.message).toMatchObject({ id, status: "canceled" });

    // Its time comes: the alarm went with the schedule, nothing goes.
    expect(await fire(account.id, id)).toBe(false);
    await sendMarker(await webpush("marker"), account.key);
    expect(push.to(path)).toHaveLength(0);
    expect((await getMessage(id, account.key)).body.status).toBe("canceled");
  });

  it("a message sent at once is not cancelable (409 with its status); unknown ids are 404", async () => {
    const res = await send(await webpush(`now-${unique()}`));
    expect(res.body.status).toBe("queued");
    const answer = await cancel(res.body.id);
    expect(answer.status).toBe(409);
    expect(answer.body.error.code).toBe("not_cancelable");
    expect(["queued", "sending", "accepted"]).toContain(answer.body.error.details[0].message);
    expect((await cancel(crypto.randomUUID())).status).toBe(404);
    expect((await cancel("not-a-uuid")).status).toBe(404);
  });

  it("sendAt within 60 s in the past is sent at once; further back, or over 72 h ahead, or malformed, is 400 at sendAt", async () => {
    const path = `recent-${unique()}`;
    const recent = await send(await webpush(path, { sendAt: new Date(Date.now() - 30_000).toISOString() }));
    expect(recent.status).toBe(202);
    expect(recent.body.status).toBe("queued");
    await waitForStatus(recent.body.id, "accepted");
    expect((await getMessage(recent.body.id)).body.sendAt).toBeUndefined();

    for (const sendAt of [
      new Date(Date.now() - 3600_000).toISOString(),
      new Date(Date.now() + 73 * 3600_000).toISOString(),
      "tomorrow",
      "2030-01-01T00:00:00",
    ]) {
      const bad = await send(await webpush(`bad-${unique()}`, { sendAt }));
      expect(bad.status, sendAt).toBe(400);
      expect(bad.body.error.code).toBe("validation_failed");
      expect(bad.body.error.details.map((d: any) => d.path)).toEqual(["sendAt"]);
    }
    // 72 h ahead is still in bounds.
    const far = await send(await webpush(`far-${unique()}`, { sendAt: new Date(Date.now() + 72 * 3600_000 - 60_000).toISOString() }));
    expect(far.body.status).toBe("scheduled");
  });

  it("idempotency: the same key and body answer the same scheduled message, even once its sendAt has passed", async () => {
    const body = await webpush(`idem-${unique()}`, { sendAt: inAnHour() });
    const idempotencyKey = `sched-${unique()}`;
    const first = await send(body, { idempotencyKey });
    const again = await send(body, { idempotencyKey });
    expect([first.status, again.status]).toEqual([202, 200]);
    expect(again.body).toEqual(first.body);
    // Made when its sendAt was ahead (here: straight in its object), the time since passed: the replay still answers it.
    const past = await webpush(`idem-${unique()}`, { sendAt: new Date(Date.now() - 3600_000).toISOString() });
    const key = `sched-${unique()}`;
    const id = await messageIdFor(ACCOUNT_A, key);
    await messageStub(env, ACCOUNT_A, id).create({
      id,
      account: ACCOUNT_A,
      request: past as any,
      recipientKey: await recipientKey("webpush", (past as any).to.endpoint),
      recipient: "x",
      bodyHash: await sha256Hex(canonicalJson(past)),
      sendAt: Date.now() + 3600_000,
    });
    const replay = await send(past, { idempotencyKey: key });
    expect(replay.status, JSON.stringify(replay.body)).toBe(200);
    expect(replay.body).toEqual({ id, status: "scheduled" });
    // Without a message to replay, the same body is refused.
    expect((await send(past, { idempotencyKey: `sched-${unique()}` })).status).toBe(400);
  });

  it("a batch with sendAt is canceled as a whole; an item's own sendAt wins; another account's cancel is 404", async () => {
    const paths = [`batch-${unique()}`, `batch-${unique()}`, `batch-${unique()}`];
    const body = {
      sendAt: inAnHour(),
      messages: [
        await webpush(paths[0]!),
        await webpush(paths[1]!),
        await webpush(paths[2]!, { sendAt: new Date().toISOString() }),
        { channel: "pigeon" },
      ],
    };
    const made = await json(await api("/v1/messages/batch", { method: "POST", json: body }));
    expect(made.status).toBe(202);
    expect(made.body.batchId).toMatch(/^[0-9a-f-]{36}$/);
    expect(made.body.results.map((r: any) => r.status ?? r.error.code)).toEqual(["scheduled", "scheduled", "queued", "validation_failed"]);
    await waitForStatus(made.body.results[2].id, "accepted");

    const other = await adminAccount("Other Co");
    expect((await api(`/v1/messages/batches/${made.body.batchId}/cancel`, { method: "POST", key: other.key })).status).toBe(404);
    expect((await api(`/v1/messages/batches/${crypto.randomUUID()}/cancel`, { method: "POST" })).status).toBe(404);

    const canceled = await json(await api(`/v1/messages/batches/${made.body.batchId}/cancel`, { method: "POST" }));
    expect(canceled.status).toBe(200);
    expect(canceled.body).toEqual({ batchId: made.body.batchId, canceled: 2, notCancelable: 1 });
    for (const r of made.body.results.slice(0, 2)) expect((await getMessage(r.id)).body.status).toBe("canceled");
    // Safe to repeat.
    const again = await json(await api(`/v1/messages/batches/${made.body.batchId}/cancel`, { method: "POST" }));
    expect(again.body).toEqual(canceled.body);
    for (const r of made.body.results.slice(0, 2)) expect(await fire(ACCOUNT_A, r.id)).toBe(false);
    await sendMarker(await webpush("marker"));
    expect(paths.map((p) => push.to(p).length)).toEqual([0, 0, 1]);
  });

  it("a batch's sendAt out of bounds is the whole batch's 400 at sendAt", async () => {
    const res = await json(
      await api("/v1/messages/batch", {
        method: "POST",
        json: { sendAt: new Date(Date.now() + 80 * 3600_000).toISOString(), messages: [await webpush(`b-${unique()}`)] },
      }),
    );
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: any) => d.path)).toEqual(["sendAt"]);
  });
});

describe("scheduled sends and retention", () => {
  it("a message still scheduled keeps its body and its timeline past a short retention; once canceled it goes", async () => {
    const account = await adminAccount("Sched Retain");
    expect((await api("/v1/retention", { method: "PUT", key: account.key, json: { timelineDays: 1, bodyDays: 1 } })).status).toBe(200);
    const res = await send(await webpush(`retain-${unique()}`, { sendAt: new Date(Date.now() + 71 * 3600_000).toISOString() }), {
      key: account.key,
    });
    const id = res.body.id as string;
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env);
    const shard = counterStub(env, account.id, id) as unknown as DurableObjectStub<AccountDO>;
    await waitFor(
      async () => (await json(await api("/v1/messages?status=scheduled", { key: account.key }))).body.data.some((m: any) => m.id === id),
      "its search row",
    );
    await shard.retentionPass(Date.now() + 2 * DAY);
    const kept = await getMessage(id, account.key);
    expect(kept.body.status).toBe("scheduled");
    expect(await messageStub(env, account.id, id).expireBody()).toBe("pending");
    expect((await cancel(id, account.key)).status).toBe(200);
    await waitFor(
      async () => (await json(await api("/v1/messages?status=canceled", { key: account.key }))).body.data.some((m: any) => m.id === id),
      "its search row to say canceled",
    );
    await shard.retentionPass(Date.now() + 2 * DAY);
    expect((await getMessage(id, account.key)).status).toBe(404);
  });
});

describe("scheduled sends: crash points", () => {
  it("an enqueue that fails when the alarm releases the message stays in the outbox; the retry alarm sends it, once", async () => {
    const path = `sched-outage-${unique()}`;
    const request = (await webpush(path, { sendAt: inAnHour() })) as any;
    const id = await messageIdFor(ACCOUNT_A);
    const stub = messageStub(env, ACCOUNT_A, id);
    await runInDurableObject(stub, async (instance: MessageDO, state) => {
      const created = await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
        sendAt: Date.now() + 3600_000,
      });
      expect(created.kind).toBe("created");
      await waitFor(() => !(instance as any).outbox.busy, "the drain after create to end");
      const realQueue = (instance as any).env.SEND_PUSH;
      let refused = 0;
      (instance as any).env = {
        ...(instance as any).env,
        SEND_PUSH: {
          send: () => {
            refused++;
            return Promise.reject(new Error("queue unavailable"));
          },
        },
      };
      (instance as any).meta.set("send_at", String(Date.now() - 1));
      const before = Date.now();
      await instance.alarm();
      expect(refused).toBe(1);
      // Released (queued, counted) with its enqueue waiting in the outbox, and the outbox's retry armed.
      expect((await instance.get())!.status).toBe("queued");
      expect((instance as any).outbox.empty).toBe(false);
      const alarm = (await state.storage.getAlarm())!;
      expect(alarm).toBeGreaterThanOrEqual(before);
      expect(alarm).toBeLessThan(before + 60_000);
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: realQueue };
    });
    expect(push.to(path)).toHaveLength(0);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    await waitForStatus(id, "accepted");
    await runDurableObjectAlarm(stub);
    await sendMarker(await webpush("marker"));
    expect(push.to(path)).toHaveLength(1);
  });

  it("the send clock (email's max age, its Date header) starts at sendAt, and a stray job before then is skipped", async () => {
    const request = (await webpush(`clock-${unique()}`, { sendAt: inAnHour() })) as any;
    const id = await messageIdFor(ACCOUNT_A);
    await runInDurableObject(messageStub(env, ACCOUNT_A, id), async (instance: MessageDO) => {
      const sendAt = Date.now() + 3600_000;
      await instance.create({
        id,
        account: ACCOUNT_A,
        request,
        recipientKey: await recipientKey("webpush", request.to.endpoint),
        recipient: "x",
        bodyHash: "h",
        sendAt,
      });
      expect(await instance.beginAttempt()).toEqual({ action: "skip", reason: "scheduled" });
      // Released into a queue that keeps the job to itself, then begun as the consumer would.
      (instance as any).env = { ...(instance as any).env, SEND_PUSH: { send: () => Promise.resolve() } };
      (instance as any).meta.set("send_at", String(sendAt));
      await waitFor(() => !(instance as any).outbox.busy, "the drain after create to end");
      const due = Date.now() - 1;
      (instance as any).meta.set("send_at", String(due));
      await instance.alarm();
      expect(await instance.beginAttempt()).toMatchObject({ action: "send", attempt: 1, createdAt: new Date(due).toISOString() });
    });
  });
});
