// The feedback path for email, end to end. A real Postfix relays our message to a host that
// rejects it and writes a genuine RFC 3464 DSN to the VERP return-path; the DSN comes back
// through the bridge's inbound SMTP to the edge, which parses, links and applies it. The
// Email Routing door (the Worker's email() handler) is fed through wrangler dev's local
// endpoint with a DSN and an ARF complaint.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../sandbox/ports.ts";
import { startPostfix, startRejectingSink, type Postfix } from "./postfix.ts";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let postfix: Postfix;
let rejecting: ChildProcess;
let stack: TestStack;
beforeAll(async () => {
  const inboundPort = await freePort();
  const rejectPort = await freePort();
  rejecting = startRejectingSink(rejectPort, "550 5.1.1 <gone@dead.example>: Recipient address rejected: User unknown");
  postfix = await startPostfix(await freePort(), {
    "dead.example": `smtp:[127.0.0.1]:${rejectPort}`,
    "bounces.lasthop.test": `smtp:[127.0.0.1]:${inboundPort}`,
  });
  stack = await startTestStack({
    inboundSmtpPort: inboundPort,
    emailRelay: { mode: "smarthost", host: "127.0.0.1", port: postfix.port, secure: false, requireTLS: false },
  });
});
afterAll(async () => {
  await stack?.stop();
  rejecting?.kill("SIGTERM");
  await postfix?.stop();
});

const send = async (to: string) =>
  (
    await stack.api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ channel: "email", from: "news@lasthop.test", to, subject: "Hello", text: "Body" }),
    })
  ).body;

describe("bounces", () => {
  it("a genuine Postfix DSN, delivered to the bridge's inbound SMTP, ends the message bounced and suppressed", async () => {
    const sent = await send("gone@dead.example");
    await stack.waitForStatus(sent.id, "accepted");
    const message = await stack.waitForStatus(sent.id, "bounced", 60_000); // Postfix's own queue is in the way
    const bounce = message.events.find((e: any) => e.type === "bounced");
    expect(bounce.provider).toBe("inbound-email");
    expect(bounce.detail).toMatchObject({ class: "hard", reason: "userunknown", enhancedCode: "5.1.1" });
    const entry = await waitFor(async () => {
      const r = await stack.api("/v1/suppressions/email/gone%40dead.example");
      return r.status === 200 ? r.body : null;
    });
    expect(entry).toMatchObject({ reason: "hard_bounce", messageId: sent.id });
  });

  it("Email Routing: an ARF complaint to the bounce domain reaches the email() handler and is applied", async () => {
    const sent = await send("reader@example.net");
    await stack.waitForStatus(sent.id, "accepted");
    const verp = `bounce+${sent.id}@bounces.lasthop.test`;
    const arf = [
      `From: feedback@isp.example`,
      `To: ${verp}`,
      `Subject: complaint`,
      `Message-ID: <arf-${sent.id}@isp.example>`,
      `Date: Sun, 22 Nov 2026 07:05:00 +0000`,
      `MIME-Version: 1.0`,
      `Content-Type: multipart/report; report-type=feedback-report; boundary="b1"`,
      ``,
      `--b1`,
      `Content-Type: text/plain`,
      ``,
      `This is an abuse report.`,
      `--b1`,
      `Content-Type: message/feedback-report`,
      ``,
      `Feedback-Type: abuse`,
      `User-Agent: ISP-FBL/1.0`,
      `Version: 1`,
      `Original-Rcpt-To: reader@example.net`,
      `Arrival-Date: Sun, 22 Nov 2026 07:00:00 +0000`,
      ``,
      `--b1`,
      `Content-Type: text/rfc822-headers`,
      ``,
      `From: news@lasthop.test`,
      `To: reader@example.net`,
      `Message-ID: <${sent.id}@lasthop.test>`,
      `X-Lasthop-Message-Id: ${sent.id}`,
      ``,
      `--b1--`,
      ``,
    ].join("\r\n");
    const post = (to: string, body: string) =>
      fetch(`${stack.workerUrl}/cdn-cgi/handler/email?from=${encodeURIComponent("feedback@isp.example")}&to=${encodeURIComponent(to)}`, {
        method: "POST",
        body,
      });
    const res = await post(verp, arf);
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    const complained = await waitFor(async () => {
      const m = (await stack.api(`/v1/messages/${sent.id}`)).body;
      return m.events.some((e: any) => e.type === "complained") ? m : null;
    });
    expect(complained.status).toBe("accepted");
    expect(complained.events.find((e: any) => e.type === "complained").detail).toMatchObject({ feedbackType: "abuse" });
    await waitFor(async () => (await stack.api("/v1/suppressions/email/reader%40example.net")).body?.reason === "complaint");
  });
});
