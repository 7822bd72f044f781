import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { mailmarshalsmtp } from "../../src/core/bounce/lhost/mailmarshalsmtp.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** MailMarshal SMTP's report after its documented layout, with example addresses. */
const report = `Your message:
   From:    sender@example.org
   Subject: Quarterly figures

Could not be delivered because of

550 5.1.1 User unknown

The following recipients were affected: 
    nobody@example.jp
    other@example.jp

Additional Information
======================
Original Sender:    <sender@example.org>
Sender-MTA:         <192.0.2.10>
Remote-MTA:         <198.51.100.7>
Reporting-MTA:      <relay.example.net>
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = 'Undeliverable Mail: "Quarterly figures"'): LhostInput => ({
  headers: headerMap([]),
  subject,
  from: "postmaster@example.net",
  report: text,
});

describe("MailMarshalSMTP", () => {
  it.each([
    ["its report", input(report), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
    ["its Subject over other text", input(postfix), false],
  ])("detects %s", (_, given, expected) => {
    expect(mailmarshalsmtp.detect(given)).toBe(expected);
  });

  it("gives each affected recipient the reply and the remote MTA", () => {
    expect(mailmarshalsmtp.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 User unknown", remoteMta: "198.51.100.7" },
      { recipient: "other@example.jp", diagnostic: "550 5.1.1 User unknown", remoteMta: "198.51.100.7" },
    ]);
  });
});
