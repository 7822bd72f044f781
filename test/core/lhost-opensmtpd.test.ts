import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { opensmtpd } from "../../src/core/bounce/lhost/opensmtpd.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** OpenSMTPD's report as its bounce.c writes it, with example addresses. */
const report = `    Hi!

    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.

    An error has occurred while attempting to deliver a message for
    the following list of recipients:

nobody@example.jp: 550 5.1.1 <nobody@example.jp>... User Unknown
full@example.com: 552 5.2.2 Mailbox full

    Below is a copy of the original message:
`;

const delayed = report.replace(
  "An error has occurred while attempting to deliver a message for\n    the following list of recipients:",
  "A message is delayed for more than 4 hours for the following\n    list of recipients:",
);

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const received = [
  { key: "Received", value: "from localhost (localhost [127.0.0.1]) by mx.example.net (OpenSMTPD) with ESMTPA id 1a2b3c4d" },
];

const input = (text: string, subject = "Delivery status notification: error", headers = headerMap(received)): LhostInput => ({
  headers,
  subject,
  from: "Mailer Daemon <MAILER-DAEMON@mx.example.net>",
  report: text,
});

describe("OpenSMTPD", () => {
  it.each([
    ["its report", input(report), true],
    ["its report without its Received header", input(report, undefined, headerMap([])), false],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", headerMap([])), false],
  ])("detects %s", (_, given, expected) => {
    expect(opensmtpd.detect(given)).toBe(expected);
  });

  it("reads each recipient's error", () => {
    expect(opensmtpd.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown" },
      { recipient: "full@example.com", diagnostic: "552 5.2.2 Mailbox full" },
    ]);
  });

  it("a delay warning is delayed", () => {
    expect(opensmtpd.read(input(delayed)).every((r) => r.action === "delayed")).toBe(true);
  });
});
