// A real peer: Debian's Postfix as the receiving MTA (it answers RCPT with its own 5xx/4xx
// replies) relaying what it accepts to smtp-sink. What reaches the sink must carry a DKIM
// signature python3-dkim accepts and the VERP envelope sender.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../sandbox/ports.ts";
import { dkimVerify, startPostfix, type Postfix } from "./postfix.ts";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let postfix: Postfix;
let stack: TestStack;
beforeAll(async () => {
  postfix = await startPostfix(await freePort());
  stack = await startTestStack({
    emailRelay: { mode: "smarthost", host: "127.0.0.1", port: postfix.port, secure: false, requireTLS: false },
  });
});
afterAll(async () => {
  await stack?.stop();
  await postfix?.stop();
});

const send = async (to: string, extra: Record<string, unknown> = {}) =>
  (
    await stack.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({
        channel: "email",
        from: "news@lasthop.test",
        to,
        subject: "Hello from lasthop",
        text: "Plain body\r\nline two",
        html: "<p>HTML body</p>",
        ...extra,
      }),
    })
  ).body;

describe("email to Postfix", () => {
  it("Postfix takes it with 250 (custody, kept as its queue id) and the sink gets a DKIM-valid message from the VERP sender", async () => {
    const sent = await send("reader@example.net");
    const message = await stack.waitForStatus(sent.id, "accepted");
    expect(message.events.at(-1).detail).toMatchObject({ smtpCode: 250 });
    expect(message.providerMessageId).toMatch(/^[0-9A-Za-z]{6,}$/);
    const dumped = await waitFor(
      async () => postfix.sunk().find((f) => f.text.includes(`X-Lasthop-Message-Id: ${sent.id}`)),
      "the message at smtp-sink",
    );
    // smtp-sink writes the envelope it saw as X-Mail-Args / X-Rcpt-Args before the message.
    expect(dumped.text).toContain(`X-Mail-Args: <bounce+${sent.id}@bounces.lasthop.test>`);
    expect(dumped.text).toMatch(/X-Rcpt-Args: <reader@example\.net>/);
    const message822 = dumped.text.slice(dumped.text.search(/^(Received|DKIM-Signature):/m));
    expect(dkimVerify(message822, stack.keys.dkim.publicKey)).toBe(true);
  });

  it("Postfix's 550 5.1.1 suppresses; its 554 5.7.1 bounces without suppressing; its 450 is deferred", async () => {
    const dead = await send("bounce-me@example.net");
    expect((await stack.waitForStatus(dead.id, "bounced")).events.at(-1).detail).toMatchObject({
      smtpCode: 550,
      enhancedCode: "5.1.1",
      class: "hard",
    });
    await waitFor(async () => (await stack.api("/v1/suppressions/email/bounce-me%40example.net")).status === 200);

    const blocked = await send("block-me@example.net");
    expect((await stack.waitForStatus(blocked.id, "bounced")).events.at(-1).detail).toMatchObject({
      smtpCode: 554,
      enhancedCode: "5.7.1",
      class: "soft",
    });
    // Marker: a later hard bounce's suppression has landed, so the 5.7.1's would have too.
    const later = await send("bounce-me-later@example.net");
    await stack.waitForStatus(later.id, "bounced");
    await waitFor(
      async () => (await stack.api("/v1/suppressions/email/bounce-me-later%40example.net")).status === 200,
      "the later hard bounce suppressed",
    );
    expect((await stack.api("/v1/suppressions/email/block-me%40example.net")).status).toBe(404);

    const soft = await send("soft-me@example.net");
    const deferred = await stack.waitForStatus(soft.id, "deferred");
    expect(deferred.events.at(-1).detail).toMatchObject({ smtpCode: 450, enhancedCode: "4.2.1" });
  });
});
