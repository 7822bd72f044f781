import { describe, expect, it } from "vitest";
import { postfix } from "../../src/core/bounce/lhost/postfix.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Postfix's report as bounce(5) templates write it, with example addresses. */
const report = `This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<nobody@example.jp>: host mx.example.jp[192.0.2.153] said: 550 5.1.1
    <nobody@example.jp>: Recipient address rejected: User unknown in local
    recipient table (in reply to RCPT TO command)

<nohost@example.org>: Host or domain name not found. Name service error for
    name=example.org type=A: Host not found

<big@example.com> (expanded from <alias@example.net>): host
    mx.example.com[192.0.2.8] said: 552 5.3.4 Message size exceeds fixed limit
    (in reply to end of DATA command)

Reporting-MTA: dns; mx.example.net
`;

const input = (text: string) =>
  lhostInput(text, "Undelivered Mail Returned to Sender", "MAILER-DAEMON@mx.example.net (Mail Delivery System)");

describe("Postfix", () => {
  it.each([
    [report, true],
    ["This is the Postfix program at host mx.example.net.\n", true],
    ["Hi. This is the qmail-send program at mx.example.net.\n", false],
    ["This message was created automatically by mail delivery software.\n", false],
  ])("detects its report (%#)", (text, expected) => {
    expect(postfix.detect(input(text))).toBe(expected);
  });

  it("reads each recipient's reply, command, host and reason", () => {
    expect(postfix.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic:
          "host mx.example.jp[192.0.2.153] said: 550 5.1.1 <nobody@example.jp>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
      {
        recipient: "nohost@example.org",
        diagnostic: "Host or domain name not found. Name service error for name=example.org type=A: Host not found",
        reason: "hostunknown",
      },
      {
        recipient: "big@example.com",
        diagnostic: "host mx.example.com[192.0.2.8] said: 552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)",
        command: "DATA",
        remoteMta: "mx.example.com",
      },
    ]);
  });

  it("a delay warning is delayed", () => {
    const delayed = report.replace(
      "mx.example.net.\n",
      "mx.example.net.\n\n####################################################################\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n####################################################################\n",
    );
    expect(postfix.read(input(delayed)).every((r) => r.action === "delayed")).toBe(true);
  });
});
