// SMS end to end: wrangler dev → send-sms queue → the bridge's SMPP bind → the sandbox SMSC
// (the `smpp` package's server), DLRs back through the bridge to RefDO and MessageDO; the REST
// route to the sandbox's Twilio-compatible aggregator, whose status callbacks and MO webhooks
// are signed by the `twilio` package; MO keywords from both doors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import type { components } from "./api-types.d.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

let n = 0;
const handset = (last4 = "4321") => `+1415${String(200 + n++).padStart(3, "0")}${last4}`;
type SendRequest = components["schemas"]["SendRequest"];
const sms = (to: string, extra: Partial<Extract<SendRequest, { channel: "sms" }>> = {}): SendRequest => ({
  channel: "sms",
  to,
  from: "+15005550006",
  body: "Your code is 123456",
  ...extra,
});
// Through the client typed from the OpenAPI document.
const send = async (body: SendRequest) => (await stack.client.POST("/v1/messages", { body })).data!;
const suppression = (recipient: string) =>
  stack.client.GET("/v1/suppressions/{channel}/{recipient}", { params: { path: { channel: "sms", recipient } } });
const inbox = async (limit: number) => (await stack.client.GET("/v1/sms/inbound", { params: { query: { limit } } })).data!.data;
const received = async (to: string) =>
  ((await stack.sandboxGet("/_sandbox/received?channel=sms")) as any[]).filter((r) => r.to === to || r.to === to.slice(1));

describe("SMS over SMPP through the bridge", () => {
  it("a GSM message is accepted with the SMSC's id and delivered on its receipt (hex id in the resp, decimal in the receipt)", async () => {
    const to = handset();
    const sent = await send(sms(to, { body: "Price: 10€ {code} [ok]" }));
    expect(sent).toMatchObject({ status: "queued", segments: 1, encoding: "gsm7" });
    const delivered = await stack.waitForMessage(sent.id, "delivered");
    expect(delivered.route).toBe("smpp");
    expect(delivered.receipts).toEqual([expect.objectContaining({ segment: 1, stat: "DELIVRD" })]);
    const [arrived] = await received(to);
    expect(arrived.payload).toMatchObject({ text: "Price: 10€ {code} [ok]", encoding: "gsm7", segments: 1, route: "smpp" });
    // The SMSC answered in hex; the edge holds the canonical (decimal) form of the same number.
    expect(delivered.providerMessageId).toBe(BigInt(`0x${arrived.payload.smscIds[0]}`).toString(10));
  });

  it("a 3-part UCS-2 message carries one concatenation UDH per part and is delivered only after 3 receipts", async () => {
    const to = handset();
    const body = "Привет! Ваш заказ №4521 отправлен 🚚 ".repeat(5).trim();
    const sent = await send(sms(to, { body }));
    expect(sent).toMatchObject({ segments: 3, encoding: "ucs2" });
    const delivered = await stack.waitForMessage(sent.id, "delivered");
    expect(delivered.receipts!.map((r) => r.stat)).toEqual(["DELIVRD", "DELIVRD", "DELIVRD"]);
    const [arrived] = await received(to);
    expect(arrived.payload).toMatchObject({ text: body, encoding: "ucs2", segments: 3 });
    const udh = arrived.payload.udh as string[];
    expect(udh).toHaveLength(3);
    const ref = udh[0]!.slice(6, 8);
    expect(udh).toEqual([1, 2, 3].map((seq) => `050003${ref}03${seq.toString(16).padStart(2, "0")}`));
  });

  it("UNDELIV bounces and suppresses the number; ESME_RTHROTTLED is slowed down and retried", async () => {
    const dead = handset("0000");
    const first = await send(sms(dead));
    const bounced = await stack.waitForMessage(first.id, "bounced");
    expect(bounced.events.at(-1)!.detail).toMatchObject({ class: "hard", reason: "undeliv" });
    await waitFor(async () => (await suppression(dead)).response.status === 200);
    expect(await send(sms(dead))).toMatchObject({ status: "suppressed", reason: "hard_bounce" });

    const throttled = await send(sms(handset("2222")));
    await stack.waitForMessage(throttled.id, "delivered");
  });

  it("STOP from the handset suppresses that sender, confirms once, and START/HELP answer", async () => {
    const from = handset();
    expect(await stack.sandboxPost("/_sandbox/sms/mo", { from, to: "+15005550006", body: "Stop" })).toMatchObject({ route: "smpp" });
    const confirm = await waitFor(async () => (await received(from)).find((r) => /unsubscribed/.test(r.payload.text)));
    expect(confirm.payload.from).toMatch(/15005550006$/);
    await waitFor(async () => (await suppression(`${from}:+15005550006`)).response.status === 200);
    expect(await send(sms(from))).toMatchObject({ status: "suppressed", reason: "sms_stop" });
    // Another of the account's senders may still write to them.
    expect((await send(sms(from, { from: "12345" }))).status).toBe("queued");

    await stack.sandboxPost("/_sandbox/sms/mo", { from, to: "+15005550006", body: "START" });
    await waitFor(async () => (await received(from)).find((r) => /resubscribed/.test(r.payload.text)));
    const again = await send(sms(from, { body: "welcome back" }));
    expect(again.status).toBe("queued");
    await stack.waitForMessage(again.id, "delivered");

    await stack.sandboxPost("/_sandbox/sms/mo", { from, to: "+15005550006", body: "help" });
    await waitFor(async () =>
      (await received(from)).find((r) => /Reply STOP/.test(r.payload.text) && /START to resubscribe/.test(r.payload.text)),
    );
    // The HELP reply is the marker: STOP, START and HELP took the same path in that order, so a
    // second confirmation of the STOP would have come before it.
    expect((await received(from)).filter((r) => /unsubscribed/.test(r.payload.text))).toHaveLength(1);
    const mine = (await inbox(20)).filter((m) => m.from.endsWith(from.slice(1)));
    expect(mine.map((m) => m.keyword)).toEqual(["help", "start", "stop"]);
  });
});

describe("SMS over the REST route (Twilio-compatible aggregator)", () => {
  it("sends with Basic auth and ends delivered on a callback signed by the twilio package", async () => {
    const to = handset();
    const sent = await send(sms(to, { route: "rest" }));
    const delivered = await stack.waitForMessage(sent.id, "delivered");
    expect(delivered.route).toBe("rest");
    expect(delivered.providerMessageId).toMatch(/^SM[0-9a-f]{32}$/);
    const [arrived] = await received(to);
    expect(arrived.payload).toMatchObject({ route: "rest", text: "Your code is 123456" });
  });

  it("undelivered 30005 bounces and suppresses; a forged callback is refused", async () => {
    const to = handset("0000");
    const sent = await send(sms(to, { route: "rest" }));
    const bounced = await stack.waitForMessage(sent.id, "bounced");
    expect(bounced.events.at(-1)!.detail).toMatchObject({ errorCode: 30005, class: "hard" });
    const url = `${stack.workerUrl}/v1/webhooks/twilio?account=${stack.account}&route=rest&message=${sent.id}`;
    const forged = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "bm90IGEgc2lnbmF0dXJlIGF0IGFsbA==" },
      body: "MessageSid=SMx&MessageStatus=delivered",
    });
    expect(forged.status).toBe(401);
  });

  it("with every status callback dropped the message stays accepted until the 5-minute status poll resolves it", async () => {
    const dropped = async () => ((await stack.sandboxGet("/_sandbox/sms/rest")) as { callbacksDropped: number }).callbacksDropped;
    expect((await stack.sandboxPost("/_sandbox/sms/faults", { restDropCallbacks: true })).restDropCallbacks).toBe(true);
    try {
      const before = await dropped();
      const sent = await send(sms(handset(), { route: "rest" }));
      await stack.waitForMessage(sent.id, "accepted");
      // The aggregator has moved it to delivered and told nobody (sent and delivered both dropped).
      await waitFor(async () => (await dropped()) >= before + 2, "both status callbacks dropped");
      expect((await stack.waitForMessage(sent.id, "accepted")).status).toBe("accepted");
      // wrangler dev's trigger door runs the scheduled handler with this cron, dated 20 minutes on.
      const run = await fetch(
        `${stack.workerUrl}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("*/5 * * * *")}&time=${Date.now() + 20 * 60_000}`,
      );
      expect(run.status, await run.clone().text()).toBe(200);
      const delivered = await stack.waitForMessage(sent.id, "delivered");
      expect(delivered.events.at(-1)).toMatchObject({
        type: "delivered",
        provider: "twilio",
        detail: { status: "delivered", via: "poll", route: "rest" },
      });
    } finally {
      await stack.sandboxPost("/_sandbox/sms/faults", {});
    }
  });

  it("MO over REST is verified, recorded and answered", async () => {
    const from = handset();
    await stack.sandboxPost("/_sandbox/sms/mo", { from, to: "+15005550006", body: "INFO", route: "rest" });
    await waitFor(async () => (await received(from)).find((r) => /Reply STOP/.test(r.payload.text)));
    expect((await inbox(50)).find((m) => m.from === from)).toMatchObject({ provider: "twilio", route: "rest", keyword: "help" });
  });
});
