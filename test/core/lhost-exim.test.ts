import { describe, expect, it } from "vitest";
import { exim } from "../../src/core/bounce/lhost/exim.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Exim's report as deliver.c and transports/smtp.c write it, with example addresses. */
const report = `This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nobody@example.jp
    SMTP error from remote mail server after RCPT TO:<nobody@example.jp>:
    host mx.example.jp [192.0.2.153]: 550 5.1.1 <nobody@example.jp>... User Unknown

  nohost@example.org
    Unrouteable address

  full@example.net
    mailbox is full: retry timeout exceeded

  big@example.com
    SMTP error from remote mail server after end of data:
    host mx.example.com [192.0.2.8]: 552 5.3.4 Message too big

------ This is a copy of the message, including all the headers. ------

Return-path: <sender@example.net>
`;

const from = "Mail Delivery System <Mailer-Daemon@mx.example.net>";
const subject = "Mail delivery failed: returning message to sender";
const input = (text: string, f = from, s = subject) => lhostInput(text, s, f, [["Message-ID", "<E1P1YNN-0003AD-Ga@mx.example.net>"]]);

describe("Exim", () => {
  it.each([
    [report, from, subject, true],
    [report, "MAILER-DAEMON@example.net", "Undeliverable", true],
    [report, "Mail Delivery System <mailer-daemon@corp.mail.ru>", subject, false],
    ["This is the mail system at host mx.example.net.\n", from, subject, false],
  ])("detects its report (%#)", (text, f, s, expected) => {
    expect(exim.detect(input(text, f, s))).toBe(expected);
  });

  it("reads each recipient's reply, command, host and reason", () => {
    expect(exim.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
      { recipient: "nohost@example.org", diagnostic: "Unrouteable address", reason: "hostunknown" },
      { recipient: "full@example.net", diagnostic: "mailbox is full: retry timeout exceeded", reason: "mailboxfull" },
      { recipient: "big@example.com", diagnostic: "552 5.3.4 Message too big", command: "DATA", remoteMta: "mx.example.com" },
    ]);
  });

  it("a delay warning is delayed", () => {
    const delayed = report.replace(
      /A message that you sent could not[\s\S]*failed:/,
      "This message has not yet been delivered to one or more of its recipients.\nNo action is required on your part.",
    );
    expect(exim.read(input(delayed)).every((r) => r.action === "delayed")).toBe(true);
  });
});
