import { describe, expect, it } from "vitest";
import { powermta } from "../../src/core/bounce/lhost/powermta.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** PowerMTA's report in its documented layout, with example addresses. */
const report = `Hello, this is the mail server on mta.example.org.

I am sending you this message to inform you on the delivery status of a
message you previously sent.  Immediately below you will find a list of
the affected recipients;  also attached is a Delivery Status Notification
(DSN) report in standard format, as well as the headers of the original
message.

  <nobody@example.jp>  delivery failed; will not continue trying

Reporting-MTA: dns;mta.example.org
Received-From-MTA: dns;mta.example.org (192.0.2.1)

Action: failed
Final-Recipient: rfc822;nobody@example.jp
Diagnostic-Code: smtp;550 5.1.1 <nobody@example.jp>... User Unknown
Status: 5.0.0
X-PowerMTA-BounceCategory: bad-mailbox
`;

const input = (text: string, subject = "Delivery report") => lhostInput(text, subject, "postmaster@mta.example.org");

describe("PowerMTA", () => {
  it.each([
    [report, "Delivery report", true],
    [report, "Undelivered Mail Returned to Sender", false],
    ["This is the mail system at host mx.example.net.\n", "Delivery report", false],
  ])("detects its report (%#)", (text, subject, expected) => {
    expect(powermta.detect(input(text, subject))).toBe(expected);
  });

  it("reads the recipient, the reply and PowerMTA's bounce category", () => {
    expect(powermta.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        status: "5.0.0",
        reason: "userunknown",
      },
    ]);
    const quota = report.replace("bad-mailbox", "quota-issues");
    expect(powermta.read(input(quota))[0]?.reason).toBe("mailboxfull");
  });
});
