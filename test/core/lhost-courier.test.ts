import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { courier } from "../../src/core/bounce/lhost/courier.ts";

/** Courier's report as its documentation and source write it (courier/module.dsn), with example addresses. */
const report = `This is a delivery status notification from mx.example.net,
running the Courier mail server, version 1.1.4.

The original message was received on Mon, 07 Dec 2026 09:12:03 +0900
from [192.0.2.10] (sender.example.org [192.0.2.10])

---------------------------------------------------------------------------

                           UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

<nobody@example.jp>:
    mx.example.jp [198.51.100.7]:
>>> RCPT TO:<nobody@example.jp>
<<< 550 5.1.1 <nobody@example.jp>... User Unknown

<full@example.com>:
    mx.example.com [198.51.100.8]:
>>> DATA
<<< 552 5.2.2 Mailbox full

---------------------------------------------------------------------------

If your message was also sent to additional recipients, their delivery
status is not included in this report.
`;

const input = (text: string, from = '"Courier mail server at mx.example.net" <@>') => ({
  headers: headerMap([]),
  subject: "NOTICE: mail delivery status.",
  from,
  report: text,
});

describe("Courier", () => {
  it.each([
    ['"Courier mail server at mx.example.net" <@>', true],
    ["MAILER-DAEMON@example.net", false],
  ])("detects by its From: %s", (from, expected) => {
    expect(courier.detect(input(report, from))).toBe(expected);
  });

  it("reads each recipient's command, host and reply", () => {
    expect(courier.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        command: "RCPT",
        remoteMta: "mx.example.jp",
        reason: "userunknown",
      },
      { recipient: "full@example.com", diagnostic: "552 5.2.2 Mailbox full", command: "DATA", remoteMta: "mx.example.com" },
    ]);
  });

  it("a delay warning is delayed", () => {
    const delayed = report.replace("UNDELIVERABLE MAIL", "DELAYED MAIL");
    expect(courier.read(input(delayed)).every((r) => r.action === "delayed")).toBe(true);
  });
});
