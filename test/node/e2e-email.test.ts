// Email end to end: wrangler dev → send-email queue → bridge (DKIM, pooled SMTP) → the
// sandbox MTA as smarthost (STARTTLS + AUTH). DKIM is checked with python3-dkim.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dkimVerify } from "./postfix.ts";
import { waitFor } from "../wait.ts";
import type { components } from "./api-types.d.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

type SendRequest = components["schemas"]["SendRequest"];
const email = (to: string, extra: Partial<Extract<SendRequest, { channel: "email" }>> = {}): SendRequest => ({
  channel: "email",
  from: "news@lasthop.test",
  fromName: "Lasthop",
  to,
  subject: "Grüße from lasthop",
  text: "Hello ünïcode",
  html: "<p>Hello <b>ünïcode</b></p>",
  ...extra,
});
// Through the client typed from the OpenAPI document.
const send = async (body: SendRequest) => (await stack.client.POST("/v1/messages", { body })).data!;
const suppression = (address: string) =>
  stack.client.GET("/v1/suppressions/{channel}/{recipient}", { params: { path: { channel: "email", recipient: address } } });
const received = async (to: string) => ((await stack.sandboxGet("/_sandbox/received?channel=email")) as any[]).filter((r) => r.to === to);

describe("email through the bridge to the sandbox MTA", () => {
  it("arrives as DKIM-signed MIME over STARTTLS with AUTH, from the VERP envelope sender", async () => {
    const sent = await send(email("reader@example.com"));
    const message = await stack.waitForMessage(sent.id, "accepted");
    expect(message.providerMessageId).toMatch(/^[A-Z0-9]{10}$/);
    const [arrived] = await waitFor(async () => {
      const r = (await received("reader@example.com")).filter((m) => m.outcome === "accepted");
      return r.length ? r : null;
    });
    expect(arrived.headers).toMatchObject({ mailFrom: `bounce+${sent.id}@bounces.lasthop.test`, tls: true, authUser: "dev" });
    expect(arrived.payload).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=lasthop\.test;/);
    const signature = arrived.payload.slice(0, arrived.payload.indexOf("\r\nDate:"));
    expect(signature).toMatch(/\bs=dev;/);
    for (const header of [
      "From",
      "To",
      "Subject",
      "Date",
      "Message-ID",
      "MIME-Version",
      "Content-Type",
      "List-Unsubscribe",
      "List-Unsubscribe-Post",
    ]) {
      expect(signature).toMatch(new RegExp(`[=:\\s]${header}[:;]`));
    }
    expect(dkimVerify(arrived.payload, stack.keys.dkim.publicKey)).toBe(true);
    // A changed byte breaks the signature: the verifier is really checking.
    expect(
      dkimVerify(
        arrived.payload.replace("Grüße", "Gruse").replace("R3LDvMOfZSBmcm9tIGxhc3Rob3A=", "R3J1c2UgZnJvbSBsYXN0aG9w"),
        stack.keys.dkim.publicKey,
      ),
    ).toBe(false);
  });

  it("5.1.1 bounces and suppresses; 5.7.1 bounces without suppressing; 4.7.1 is retried and delivered", async () => {
    const dead = await send(email("bounce@example.com"));
    expect((await stack.waitForMessage(dead.id, "bounced")).events.at(-1)!.detail).toMatchObject({
      smtpCode: 550,
      enhancedCode: "5.1.1",
      class: "hard",
      reason: "userunknown",
    });
    await waitFor(async () => (await suppression("bounce@example.com")).response.status === 200);
    const blocked = await send(email("block@example.com"));
    expect((await stack.waitForMessage(blocked.id, "bounced")).events.at(-1)!.detail).toMatchObject({
      smtpCode: 554,
      enhancedCode: "5.7.1",
      class: "soft",
    });
    // Marker: a later hard bounce's suppression has landed, so the 5.7.1's would have too.
    const later = await send(email("bounce-after-block@example.com"));
    await stack.waitForMessage(later.id, "bounced");
    await waitFor(
      async () => (await suppression("bounce-after-block@example.com")).response.status === 200,
      "the later hard bounce suppressed",
    );
    expect((await suppression("block@example.com")).response.status).toBe(404);
    const soft = await send(email("soft@example.com"));
    const delivered = await stack.waitForMessage(soft.id, "accepted");
    expect(delivered.attempts).toBe(2);
    expect(delivered.events.find((e) => e.type === "deferred")!.detail).toMatchObject({ smtpCode: 451, enhancedCode: "4.7.1" });
  });

  it("one-click unsubscribe from the delivered message's own header suppresses the address", async () => {
    const sent = await send(email("leaving@example.com"));
    await stack.waitForMessage(sent.id, "accepted");
    const [arrived] = (await received("leaving@example.com")).filter((m) => m.outcome === "accepted");
    const url = /List-Unsubscribe: <(http[^>]+)>/.exec(arrived.payload)![1]!;
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(res.status).toBe(200);
    await waitFor(async () => (await suppression("leaving@example.com")).data?.reason === "unsubscribe");
    expect((await send(email("leaving@example.com"))).status).toBe("suppressed");
  });

  it("a bridge killed during a batch loses no message: the queue redelivers", async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => send(email(`slow-${i}@example.com`)).then((r) => r.id)));
    // The batch is at the bridge, held by the sandbox's slow DATA answer.
    await waitFor(async () => (await stack.bridgeMetric("bridge_in_flight")) > 0, "a batch in flight at the bridge");
    await stack.restartBridge();
    const messages = await Promise.all(ids.map((id) => stack.waitForMessage(id, "accepted")));
    // The crash really cut a batch: those messages were deferred for the bridge, then retried.
    const cut = messages.filter((m) => m.events.some((e) => e.type === "deferred" && /^bridge_/.test(String(e.detail.reason))));
    expect(cut.length).toBeGreaterThan(0);
    for (let i = 0; i < 8; i++) {
      const accepted = (await received(`slow-${i}@example.com`)).filter((m) => m.outcome === "accepted");
      // At-least-once: a 250 the bridge never reported may be followed by a second delivery.
      expect(accepted.length).toBeGreaterThanOrEqual(1);
    }
  });
});
