import { describe, expect, it } from "vitest";
import { qmail } from "../../src/core/bounce/lhost/qmail.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** qmail-send's report as qmail-send.c and qmail-remote.c write it, with example addresses. */
const report = `Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@example.jp>:
192.0.2.153 does not like recipient.
Remote host said: 550 5.1.1 <nobody@example.jp>... User Unknown
Giving up on 192.0.2.153.

<local@example.net>:
Sorry, no mailbox here by that name. (#5.1.1)

<someone@example.org>:
Connected to 192.0.2.7 but sender was rejected.
Remote host said: 553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)
Giving up on 192.0.2.7.

<big@example.com>:
192.0.2.8 failed after I sent the message.
Remote host said: 552 5.3.4 Message is too big
Giving up on 192.0.2.8.

<nohost@example.jp>:
Sorry, I couldn't find any host named example.jp. (#5.1.2)

--- Below this line is a copy of the message.

Return-Path: <sender@example.net>
`;

const input = (text: string, subject = "failure notice") => lhostInput(text, subject, "MAILER-DAEMON@mx.example.net");

describe("qmail", () => {
  it.each([
    [report, true],
    ["This is the mail system at host mx.example.net.\n\n<a@example.jp>: host said: 550", false],
    ["This message was created automatically by mail delivery software.\n", false],
  ])("detects its report (%#)", (text, expected) => {
    expect(qmail.detect(input(text))).toBe(expected);
  });

  it("reads each recipient's reply, command, status and reason", () => {
    expect(qmail.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        command: "RCPT",
        remoteMta: "192.0.2.153",
      },
      {
        recipient: "local@example.net",
        diagnostic: "Sorry, no mailbox here by that name. (#5.1.1)",
        status: "5.1.1",
        reason: "userunknown",
      },
      {
        recipient: "someone@example.org",
        diagnostic: "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)",
        command: "MAIL",
        remoteMta: "192.0.2.7",
        status: "5.7.1",
      },
      { recipient: "big@example.com", diagnostic: "552 5.3.4 Message is too big", command: "DATA", remoteMta: "192.0.2.8" },
      {
        recipient: "nohost@example.jp",
        diagnostic: "Sorry, I couldn't find any host named example.jp. (#5.1.2)",
        status: "5.1.2",
        reason: "hostunknown",
      },
    ]);
  });
});
