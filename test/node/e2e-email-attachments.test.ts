// Attachments end to end (issue 19): one stack, one send per email route (the relay through the
// bridge to the sandbox MTA; SendGrid, SES, Mailgun, Postmark and Resend at the sandbox's
// simulators of their send APIs), each with random bytes made now (no fixture), a non-ASCII
// filename and an inline image. What each receiver got is read back as that provider documents
// it (the MTA's and SES's/Mailgun's MIME parsed with postal-mime; the others' JSON fields) and
// compared with what was sent: bytes, filename, content type and Content-ID.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../wait.ts";
import { mimeAttachments, type ReceivedAttachment } from "../../sandbox/esp-attachments.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ emailRoutes: true });
});
afterAll(async () => stack?.stop());

const TYPES = ["relay", "sendgrid", "ses", "mailgun", "postmark", "resend"] as const;

/** A PNG's signature and header chunk, then random bytes: content the receivers must not touch. */
const image = () => Buffer.concat([Buffer.from("89504e470d0a1a0a0000000d49484452", "hex"), randomBytes(700)]);

async function sendOk(body: Record<string, unknown>): Promise<string> {
  const res = await stack.api("/v1/messages", {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

/** The attachments the route's receiver got for our message. */
async function receivedFor(type: (typeof TYPES)[number], id: string): Promise<ReceivedAttachment[]> {
  if (type === "relay") {
    const received = (await stack.sandboxGet("/_sandbox/received?channel=email")) as Array<{ provider?: string; payload?: string | null }>;
    const mail = received.find((r) => r.provider === "smtp" && r.payload?.includes(id));
    expect(mail, `the MTA received ${id}`).toBeDefined();
    return mimeAttachments(mail!.payload!);
  }
  const kept = (await stack.sandboxGet(`/_sandbox/esp/received?provider=${type}`)) as Array<{
    lasthopId: string | null;
    attachments: ReceivedAttachment[];
  }>;
  const mine = kept.filter((m) => m.lasthopId === id);
  expect(mine, `${type} received ${id} once`).toHaveLength(1);
  return mine[0]!.attachments;
}

describe("attachments through every email route", () => {
  it.each(TYPES)("%s: the receiver gets the very bytes, filename, content type and Content-ID", async (type) => {
    const file = randomBytes(40_000 + Math.floor(Math.random() * 1000));
    const logo = image();
    const filename = `Übersicht März – ${type} 📎.bin`;
    const id = await sendOk({
      channel: "email",
      from: "news@lasthop.test",
      to: `attach-${type}-${randomUUID().slice(0, 8)}@example.com`,
      subject: `Attachments via ${type}`,
      text: "Your files are attached.",
      html: '<p>Our logo: <img src="cid:logo@lasthop.test" alt="logo"></p>',
      route: type,
      attachments: [
        { content: file.toString("base64"), filename, contentType: "application/octet-stream" },
        {
          content: logo.toString("base64"),
          filename: "logo.png",
          contentType: "image/png",
          disposition: "inline",
          contentId: "logo@lasthop.test",
        },
      ],
    });
    // A simulator's delivered webhook may move the message past accepted before the first look.
    const taken = await waitFor(async () => {
      const { body } = await stack.api(`/v1/messages/${id}`);
      return ["accepted", "delivered"].includes(body?.status) ? body : null;
    }, `message ${id} taken by ${type}`);
    expect(taken.route).toBe(type);
    const got = await receivedFor(type, id);
    expect(got).toHaveLength(2);
    const doc = got.find((a) => a.filename === filename);
    const inline = got.find((a) => a.filename === "logo.png");
    expect(doc).toMatchObject({ contentType: "application/octet-stream", disposition: "attachment", contentId: null });
    expect(Buffer.from(doc!.content, "base64").equals(file)).toBe(true);
    expect(inline).toMatchObject({ contentType: "image/png", disposition: "inline", contentId: "logo@lasthop.test" });
    expect(Buffer.from(inline!.content, "base64").equals(logo)).toBe(true);
  });
});
