import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { v5sendmail } from "../../src/core/bounce/lhost/v5sendmail.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Sendmail 5's report as its savemail.c writes it, with example addresses. */
const report = `   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> RCPT To:<nobody@example.org>
<<< 550 <nobody@example.org>, User Unknown
550 <nobody@example.org>... User unknown
>>> MAIL From:<sender@example.jp>
<<< 553 Domain of sender address sender@example.jp does not exist
553 <other@example.org>... Domain of sender address sender@example.jp does not exist
`;

/** Sendmail 8's plain report: its list of failed addresses and the received line. */
const sendmail8 = `The original message was received at Mon, 7 Dec 2026 09:12:03 +0900
from sender.example.jp [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
<nobody@example.org>

   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> RCPT To:<nobody@example.org>
<<< 550 5.1.1 <nobody@example.org>... User unknown
550 5.1.1 <nobody@example.org>... User unknown
`;

const input = (text: string, subject = "Returned mail: User unknown", contentType = "text/plain"): LhostInput => ({
  headers: headerMap([{ key: "Content-Type", value: contentType }]),
  subject,
  from: "Mail Delivery Subsystem <MAILER-DAEMON@example.jp>",
  report: text,
});

describe("V5sendmail", () => {
  it.each([
    ["its report", input(report), true],
    ["a Sendmail 8 report", input(sendmail8), false],
    ["a Sendmail 8 DSN", input(report, undefined, 'multipart/report; report-type=delivery-status; boundary="x"'), false],
    ["a Postfix report", input(report, "Undelivered Mail Returned to Sender"), false],
  ])("detects %s", (_, given, expected) => {
    expect(v5sendmail.detect(given)).toBe(expected);
  });

  it("reads each recipient with the command and the reply before its summary", () => {
    expect(v5sendmail.read(input(report))).toEqual([
      {
        recipient: "nobody@example.org",
        diagnostic: "550 <nobody@example.org>, User Unknown",
        command: "RCPT",
        remoteMta: "mx.example.org",
      },
      {
        recipient: "other@example.org",
        diagnostic: "553 Domain of sender address sender@example.jp does not exist",
        command: "MAIL",
        remoteMta: "mx.example.org",
      },
    ]);
  });
});
