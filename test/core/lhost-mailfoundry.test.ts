import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { mailfoundry } from "../../src/core/bounce/lhost/mailfoundry.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** MailFoundry's report after its documented layout, with example addresses. */
const report = `Unable to deliver message to: <nobody@example.org>
Delivery failed for the following reason:
Server mx.example.org[198.51.100.7] failed with: 550 <nobody@example.org> No such user here

This has been a permanent failure.  No further delivery attempts will be made.
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const received = headerMap([
  { key: "Received", value: "from localhost (localhost [127.0.0.1]) by mail.example.net (MAILFOUNDRY) id 0123ABCD" },
]);

const input = (text: string, subject = "Message delivery has failed", headers = received): LhostInput => ({
  headers,
  subject,
  from: "MAILER-DAEMON@example.net",
  report: text,
});

describe("MailFoundry", () => {
  it.each([
    ["its report", input(report), true],
    ["its Subject without its Received header", input(report, "Message delivery has failed", headerMap([])), false],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", headerMap([])), false],
  ])("detects %s", (_, given, expected) => {
    expect(mailfoundry.detect(given)).toBe(expected);
  });

  it("reads the recipient, the server's reply and the server", () => {
    expect(mailfoundry.read(input(report))).toEqual([
      {
        recipient: "nobody@example.org",
        diagnostic: "Server mx.example.org[198.51.100.7] failed with: 550 <nobody@example.org> No such user here",
        remoteMta: "mx.example.org",
      },
    ]);
  });
});
