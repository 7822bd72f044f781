import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { messagingserver } from "../../src/core/bounce/lhost/messagingserver.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Messaging Server's report after its documented layout, with example addresses. */
const report = `This report relates to a message you sent with the following header fields:

  Message-id: <20261207091203.ABC123@example.org>
  Date: Mon, 07 Dec 2026 09:12:03 +0900
  From: Sender <sender@example.org>
  To: nobody@example.jp
  Subject: Quarterly figures

Your message cannot be delivered to the following recipients:

  Recipient address: nobody@example.jp
  Reason: Remote SMTP server has rejected address
  Diagnostic code: smtp;550 5.1.1 <nobody@example.jp>... User Unknown
  Remote system: dns;mx.example.jp (TCP|192.0.2.10|47323|198.51.100.7|25) (mx.example.jp ESMTP)

  Recipient address: late@example.com
  Original address: late@example.com
  Reason: delivery time expired

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const boundary = headerMap([
  { key: "Content-Type", value: 'multipart/report; boundary="Boundary_(ID_AbCdEf0123456789)"; report-type=delivery-status' },
]);

const input = (text: string, subject = "Delivery Notification: Delivery has failed", headers = headerMap([])): LhostInput => ({
  headers,
  subject,
  from: "Internet Mail Delivery <postmaster@example.org>",
  report: text,
});

describe("MessagingServer", () => {
  it.each([
    ["its report (Subject)", input(report), true],
    ["its report (boundary)", input(report, "Undeliverable", boundary), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
  ])("detects %s", (_, given, expected) => {
    expect(messagingserver.detect(given)).toBe(expected);
  });

  it("reads each recipient's diagnostic code, or its Reason, and the remote system", () => {
    expect(messagingserver.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown", remoteMta: "mx.example.jp" },
      { recipient: "late@example.com", diagnostic: "delivery time expired" },
    ]);
  });
});
