import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { x2 } from "../../src/core/bounce/lhost/x2.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Unknown MTA #2's report after the layout Sisimai documents, with example addresses. */
const report = `Message from example.com.
Unable to deliver message to the following address(es).

<nobody@example.com>:
This user doesn't have a example.com account (nobody@example.com) [0]

<full@example.com>:
Mailbox quota exceeded for full@example.com [1]

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "Delivery failure", from = "MAILER-DAEMON@example.com"): LhostInput => ({
  headers: headerMap([]),
  subject,
  from,
  report: text,
});

describe("X2", () => {
  it.each([
    ["its report", input(report), true],
    ["its report (Subject only)", input(report, "failed delivery", "postmaster@example.com"), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", "MAILER-DAEMON@example.net"), false],
  ])("detects %s", (_, given, expected) => {
    expect(x2.detect(given)).toBe(expected);
  });

  it("reads each recipient and the error below it", () => {
    expect(x2.read(input(report))).toEqual([
      { recipient: "nobody@example.com", diagnostic: "This user doesn't have a example.com account (nobody@example.com) [0]" },
      { recipient: "full@example.com", diagnostic: "Mailbox quota exceeded for full@example.com [1]" },
    ]);
  });
});
