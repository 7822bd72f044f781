import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { gmail } from "../../src/core/bounce/lhost/gmail.ts";

/** Gmail's older report, as its published form reads, with example addresses. */
const older = `This is an automatically generated Delivery Status Notification

Delivery to the following recipient failed permanently:

     nobody@example.jp

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the server for the recipient domain example.jp by mx.example.jp. [192.0.2.25].

The error that the other server returned was:
550 5.1.1 <nobody@example.jp>... User Unknown (state 14).
`;

const nodomain = `Delivery to the following recipient failed permanently:

     someone@nowhere.example.com

Technical details of permanent failure:
DNS Error: Domain name not found
`;

const delayed = `This is an automatically generated Delivery Status Notification

THIS IS A WARNING MESSAGE ONLY.

YOU DO NOT NEED TO RESEND YOUR MESSAGE.

Delivery to the following recipient has been delayed:

     full@example.com

Message will be retried for 2 more day(s)

Technical details of temporary failure:
The error that the other server returned was:
452 4.2.2 <full@example.com>... Mailbox Full (state 14).
`;

/** The current form. */
const current = `
** Address not found **

Your message wasn't delivered to nobody@example.com because the address couldn't be found, or is unable to receive mail.

Learn more here: https://support.google.com/mail/?p=NoSuchUser

The response from the remote server was:
550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table
`;

const input = (
  report: string,
  from = "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
  subject = "Delivery Status Notification (Failure)",
) => ({
  headers: headerMap([]),
  subject,
  from,
  report,
});

describe("Gmail", () => {
  it.each([
    ["Mail Delivery Subsystem <mailer-daemon@googlemail.com>", "Delivery Status Notification (Failure)", true],
    ["Mail Delivery Subsystem <mailer-daemon@googlemail.com>", "Delivery Status Notification (Delay)", true],
    ["MAILER-DAEMON@example.net", "Delivery Status Notification (Failure)", false],
    ["Mail Delivery System <MAILER-DAEMON@mx.example.org>", "Undelivered Mail Returned to Sender", false],
  ])("detects by From and Subject: %s / %s", (from, subject, expected) => {
    expect(gmail.detect(input(older, from, subject))).toBe(expected);
  });

  it.each([
    [
      "older form, with the state",
      older,
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown (state 14).",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
    ],
    [
      "older form, Gmail's own DNS error",
      nodomain,
      {
        recipient: "someone@nowhere.example.com",
        diagnostic: "Technical details of permanent failure:\nDNS Error: Domain name not found",
        reason: "hostunknown",
      },
    ],
    [
      "current form",
      current,
      {
        recipient: "nobody@example.com",
        diagnostic: "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
        reason: "userunknown",
      },
    ],
  ])("reads %s", (_name, report, expected) => {
    expect(gmail.read(input(report))).toEqual([expected]);
  });

  it("a delay warning is delayed", () => {
    const [r] = gmail.read(input(delayed, undefined, "Delivery Status Notification (Delay)"));
    expect(r).toMatchObject({ recipient: "full@example.com", action: "delayed", command: "RCPT" });
  });
});
