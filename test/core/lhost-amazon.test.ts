import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { amazonses } from "../../src/core/bounce/lhost/amazonses.ts";
import { amazonworkmail } from "../../src/core/bounce/lhost/amazonworkmail.ts";
import { receivingses } from "../../src/core/bounce/lhost/receivingses.ts";

/** Amazon SES, WorkMail and SES receipt-rule bounces as documented, with example addresses. */
const ses = `The following message to <nobody@example.jp> was undeliverable.
The reason for the problem:
5.1.0 - Unknown address error 550-'5.1.1 <nobody@example.jp>: Recipient address rejected: User unknown'

Reporting-MTA: dns; a27-1.smtp-out.us-west-2.amazonses.com

Final-Recipient: rfc822; nobody@example.jp
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.jp
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.jp>: Recipient address
    rejected: User unknown
`;

const workmail = `Your message couldn't be delivered to the recipient.

Technical report:

Reporting-MTA: dns; a27-2.smtp-out.us-west-2.amazonses.com

Final-Recipient: rfc822; slow@example.com
Action: failed
Status: 4.4.7
Diagnostic-Code: smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>
`;

const receiving = `This message could not be delivered.

Reporting-MTA: dns; inbound-smtp.us-east-1.amazonaws.com

Final-Recipient: rfc822; gone@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 Mailbox does not exist
`;

const h = (pairs: Record<string, string>) => headerMap(Object.entries(pairs).map(([key, value]) => ({ key, value })));
const input = (report: string, headers: Record<string, string>, from = "MAILER-DAEMON@email-bounces.amazonses.com") => ({
  headers: h(headers),
  subject: "Delivery Status Notification (Failure)",
  from,
  report,
});

const SES = { "X-SES-Outgoing": "2026.12.07-54.240.27.1" };
const WM = { ...SES, "X-Mailer": "Amazon WorkMail" };

describe("Amazon SES, WorkMail, receiving SES", () => {
  it.each([
    ["SES", amazonses, input(ses, SES), true],
    ["SES: WorkMail's report is not", amazonses, input(workmail, WM), false],
    [
      "SES: another MTA's DSN is not",
      amazonses,
      input(ses.replace(/^The following[^\n]*\n/, ""), {}, "MAILER-DAEMON@mx.example.net"),
      false,
    ],
    ["WorkMail", amazonworkmail, input(workmail, WM), true],
    ["WorkMail: SES's report is not", amazonworkmail, input(ses, SES), false],
    ["receiving SES", receivingses, input(receiving, SES), true],
    ["receiving SES: without SES's header", receivingses, input(receiving, {}, "MAILER-DAEMON@example.net"), false],
  ])("detects %s", (_name, reader, given, expected) => {
    expect(reader.detect(given)).toBe(expected);
  });

  it.each([
    [
      "SES",
      amazonses,
      input(ses, SES),
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>: Recipient address rejected: User unknown",
        status: "5.1.1",
        remoteMta: "mx.example.jp",
      },
    ],
    [
      "WorkMail",
      amazonworkmail,
      input(workmail, WM),
      {
        recipient: "slow@example.com",
        diagnostic: "554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection timed out>",
        status: "4.4.7",
        reason: "expired",
      },
    ],
    [
      "receiving SES",
      receivingses,
      input(receiving, SES),
      { recipient: "gone@example.org", diagnostic: "550 5.1.1 Mailbox does not exist", status: "5.1.1", reason: "filtered" },
    ],
  ])("reads %s", (_name, reader, given, expected) => {
    expect(reader.read(given)).toEqual([expected]);
  });
});
