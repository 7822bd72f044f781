import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { imailserver } from "../../src/core/bounce/lhost/imailserver.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** IMail's report after its documented layout: its reason and the address on one line. */
const report = `Unknown user: nobody@example.jp

User mailbox exceeds allowed size: full@example.com

`;

const withResponse = `Body of message generated response:

550 5.1.1 <gone@example.net>... User unknown

undeliverable to gone@example.net

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "Undeliverable Mail ", mailer?: string): LhostInput => ({
  headers: headerMap(mailer ? [{ key: "X-Mailer", value: mailer }] : []),
  subject,
  from: "postmaster@example.jp",
  report: text,
});

describe("IMailServer", () => {
  it.each([
    ["its report (Subject)", input(report), true],
    ["its report (X-Mailer)", input(report, "Returned mail", "<SMTP32 v8.22>"), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
    ["MailMarshal's Subject", input(report, 'Undeliverable Mail: "Quarterly figures"'), false],
  ])("detects %s", (_, given, expected) => {
    expect(imailserver.detect(given)).toBe(expected);
  });

  it("reads each recipient with IMail's reason", () => {
    expect(imailserver.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "Unknown user: nobody@example.jp", reason: "userunknown" },
      { recipient: "full@example.com", diagnostic: "User mailbox exceeds allowed size: full@example.com", reason: "mailboxfull" },
    ]);
  });

  it("adds the remote server's response it quotes", () => {
    expect(imailserver.read(input(withResponse))).toEqual([
      {
        recipient: "gone@example.net",
        diagnostic: "undeliverable to gone@example.net\n550 5.1.1 <gone@example.net>... User unknown",
      },
    ]);
  });
});
