// APNs end to end: wrangler dev → send-push queue → bridge (HTTP/2 pool, provider token)
// → the sandbox APNs, which verifies the JWT like Apple and answers with Apple's codes.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

const token = async (name: string): Promise<string> => (await stack.sandboxPost("/_sandbox/apns/tokens", { name })).token;
const apns = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "apns",
  to,
  topic: "com.example.app",
  pushType: "alert",
  payload: { aps: { alert: { title: "Hi" } }, orderId: 7 },
  ...extra,
});
const send = async (body: unknown) => (await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(body) })).body;
const received = async (to?: string) =>
  ((await stack.sandboxGet("/_sandbox/received?channel=apns")) as any[]).filter((r) => !to || r.to === to);

describe("APNs through the bridge", () => {
  it("delivers to the sandbox with Apple's headers; 200 is custody, so the message stays accepted", async () => {
    const to = await token("phone");
    const sent = await send(apns(to, { collapseId: "order-7", priority: 5, expiration: 0 }));
    const message = await stack.waitForStatus(sent.id, "accepted");
    expect(message.providerMessageId).toBe(sent.id);
    const [arrived] = await received(to);
    expect(arrived.payload).toEqual({ aps: { alert: { title: "Hi" } }, orderId: 7 });
    expect(arrived.headers).toMatchObject({
      "apns-id": sent.id,
      "apns-topic": "com.example.app",
      "apns-push-type": "alert",
      "apns-priority": "5",
      "apns-collapse-id": "order-7",
      "apns-expiration": "0",
    });
    // Marker: a later message to the same token went the whole way; the first still says accepted.
    await stack.waitForStatus((await send(apns(to))).id, "accepted");
    expect((await stack.api(`/v1/messages/${sent.id}`)).body.status).toBe("accepted");
  });

  it("an Unregistered token (410) ends bounced with its timestamp, is suppressed, and the next send never reaches APNs", async () => {
    const to = await token("bounce");
    const first = await send(apns(to));
    const bounced = await stack.waitForStatus(first.id, "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({
      status: 410,
      apnsReason: "Unregistered",
      reason: "token_invalid",
      unregisteredAt: expect.any(String),
    });
    const hash = createHash("sha256").update(to.toLowerCase()).digest("hex");
    await waitFor(async () => (await stack.api(`/v1/suppressions/apns/${hash}`)).status === 200);
    const before = (await received(to)).length;
    const second = await send(apns(to));
    expect(second).toMatchObject({ status: "suppressed", reason: "token_invalid" });
    // Marker: a later message on the same path has reached APNs, so the suppressed one would have too.
    await stack.waitForStatus((await send(apns(await token("marker")))).id, "accepted");
    expect(await received(to)).toHaveLength(before);
  });

  it("BadDeviceToken bounces; TooManyRequests is retried and then accepted", async () => {
    const bad = await send(apns(await token("bad")));
    expect((await stack.waitForStatus(bad.id, "bounced")).events.at(-1).detail).toMatchObject({
      status: 400,
      apnsReason: "BadDeviceToken",
    });
    const slow = await send(apns(await token("slow")));
    const message = await stack.waitForStatus(slow.id, "accepted");
    expect(message.attempts).toBe(2);
    expect(message.events.find((e: any) => e.type === "deferred").detail).toMatchObject({ status: 429, apnsReason: "TooManyRequests" });
  });

  it("reuses one provider token across batches and refreshes it once on ExpiredProviderToken", async () => {
    const to = await token("reuse");
    for (let i = 0; i < 3; i++) {
      const sent = await send(apns(to, { payload: { aps: { alert: `n${i}` } } }));
      await stack.waitForStatus(sent.id, "accepted");
    }
    const before = await stack.sandboxGet("/_sandbox/apns/stats");
    expect(before.providerTokensSeen).toBe(1);
    await stack.sandboxPost("/_sandbox/apns/expire-tokens");
    const after = await send(apns(to, { payload: { aps: { alert: "after expiry" } } }));
    const message = await stack.waitForStatus(after.id, "accepted");
    expect(message.attempts).toBe(1);
    const stats = await stack.sandboxGet("/_sandbox/apns/stats");
    expect(stats.providerTokensSeen).toBe(2);
  });

  it.each([["goawayAfter"], ["destroyAfter"]])("a %s fault mid-batch loses nothing and sends nothing twice", async (fault) => {
    await stack.sandboxPost("/_sandbox/apns/faults", { [fault]: 5 });
    const to = await token("hold");
    const batch = { messages: Array.from({ length: 20 }, (_, i) => apns(to, { payload: { aps: { alert: `b${i}` } } })) };
    const res = await stack.api("/v1/messages/batch", { method: "POST", body: JSON.stringify(batch) });
    const ids: string[] = res.body.results.map((r: any) => r.id);
    await Promise.all(ids.map((id) => stack.waitForStatus(id, "accepted")));
    const arrived = (await received(to)).filter((r) => r.status === 200).map((r) => r.headers["apns-id"]);
    for (const id of ids) expect(arrived.filter((a: string) => a === id)).toHaveLength(1);
  });
});
