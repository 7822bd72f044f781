// FCM HTTP v1 end to end: wrangler dev → send-push queue → OAuth (TokenDO) → the sandbox's
// FCM and token endpoint, which verify the RS256 assertion and the bearer like Google.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

const fcm = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "fcm",
  to,
  message: { notification: { title: "Hi" }, data: { orderId: "7" } },
  ...extra,
});
const send = async (body: unknown) => (await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(body) })).body;
const received = async (to: string) => ((await stack.sandboxGet("/_sandbox/received?channel=fcm")) as any[]).filter((r) => r.to === to);

describe("FCM HTTP v1", () => {
  it("sends with an OAuth token minted once for many sends, and carries our message id", async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => send(fcm(`device-ok-${i}`)).then((r) => r.id as string)));
    const messages = await Promise.all(ids.map((id) => stack.waitForStatus(id, "accepted")));
    expect(messages[0].providerMessageId).toMatch(/^projects\/lasthop-dev\/messages\//);
    const [arrived] = await received("device-ok-0");
    expect(arrived.payload).toMatchObject({
      token: "device-ok-0",
      notification: { title: "Hi" },
      data: { orderId: "7", lasthop_message_id: ids[0] },
    });
    expect((await stack.sandboxGet("/_sandbox/fcm/stats")).tokensIssued).toBe(1);
  });

  it("refreshes once when FCM answers 401 for a revoked token", async () => {
    await stack.sandboxPost("/_sandbox/fcm/revoke");
    const before = (await stack.sandboxGet("/_sandbox/fcm/stats")).tokensIssued;
    const sent = await send(fcm("device-after-revoke"));
    const message = await stack.waitForStatus(sent.id, "accepted");
    expect(message.attempts).toBe(1);
    expect((await stack.sandboxGet("/_sandbox/fcm/stats")).tokensIssued).toBe(before + 1);
  });

  it.each([
    ["device-bounce-1", "UNREGISTERED", 404],
    ["device-mismatch-1", "SENDER_ID_MISMATCH", 403],
    ["device-bad-1", "INVALID_ARGUMENT", 400],
  ])("%s → %s: bounced, suppressed, next send refused without a request", async (to, code, status) => {
    const first = await send(fcm(to));
    const bounced = await stack.waitForStatus(first.id, "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({ status, fcmError: code, reason: "token_invalid" });
    const hash = createHash("sha256").update(to).digest("hex");
    await waitFor(async () => (await stack.api(`/v1/suppressions/fcm/${hash}`)).status === 200);
    const before = (await received(to)).length;
    expect(await send(fcm(to))).toMatchObject({ status: "suppressed", reason: "token_invalid" });
    // Marker: a later message on the same path has been sent, so the suppressed one would have too.
    await stack.waitForStatus((await send(fcm("device-ok-marker"))).id, "accepted");
    expect(await received(to)).toHaveLength(before);
  });

  it("QUOTA_EXCEEDED is retried after Retry-After and then accepted", async () => {
    const sent = await send(fcm("device-slow-1"));
    const message = await stack.waitForStatus(sent.id, "accepted");
    expect(message.attempts).toBe(2);
    expect(message.events.find((e: any) => e.type === "deferred").detail).toMatchObject({
      status: 429,
      fcmError: "QUOTA_EXCEEDED",
      retryInSeconds: 1,
    });
  });

  it("a data value that is not a string is refused at the edge with its path", async () => {
    const res = await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(fcm("device-x", { message: { data: { n: 1 } } })) });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe("message.data.n");
  });
});
