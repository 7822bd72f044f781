import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { sendgrid } from "../../src/core/bounce/lhost/sendgrid.ts";

/** SendGrid's email bounce as published, with example addresses. */
const report = `This is an automatically generated message from SendGrid.

I'm sorry to have to tell you that your message was not able to be
delivered to one of its intended recipients.

If you require assistance with this, please contact SendGrid support.

someone:123456:<nobody@example.jp> : 192.0.2.250 : mx.example.jp:[192.0.2.153] :
  550 5.1.1 <nobody@example.jp>... User Unknown  in RCPT TO

Content-Type: message/delivery-status

X-SendGrid-QueueID: 959479146
Arrival-Date: 2026-12-07 09-12-03

Final-Recipient: rfc822; nobody@example.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.jp>... User Unknown
`;

const input = (text: string) => ({
  headers: headerMap([]),
  subject: "Undelivered Mail Returned to Sender",
  from: "MAILER-DAEMON",
  report: text,
});

describe("SendGrid", () => {
  it.each([
    [report, true],
    ["This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your message could not\nbe delivered", false],
  ])("detects by its opening (%#)", (text, expected) => {
    expect(sendgrid.detect(input(text))).toBe(expected);
  });

  it("reads the recipient line, the reply and its command, and the status", () => {
    expect(sendgrid.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        command: "RCPT",
        remoteMta: "mx.example.jp",
        status: "5.1.1",
      },
    ]);
  });
});
