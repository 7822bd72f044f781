import { describe, expect, it } from "vitest";
import { sendmail } from "../../src/core/bounce/lhost/sendmail.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Sendmail's report as its savemail.c and deliver.c write it, with example addresses. */
const report = `The original message was received at Mon, 7 Dec 2026 09:12:03 +0900
from sender.example.net [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
<nobody@example.jp>
    (reason: 550 5.1.1 <nobody@example.jp>... User Unknown)
<nohost@example.org>
    (reason: 550 Host unknown)

   ----- Transcript of session follows -----
550 5.1.2 <nohost@example.org>... Host unknown (Name server: example.org: host not found)
... while talking to mx.example.jp.:
>>> DATA
<<< 550 5.1.1 <nobody@example.jp>... User Unknown
550 5.1.1 <nobody@example.jp>... User unknown
<<< 503 5.0.0 Need RCPT (recipient)

Reporting-MTA: dns; mx.example.net
`;

const input = (text: string, subject = "Returned mail: see transcript for details") =>
  lhostInput(text, subject, "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>");

describe("Sendmail", () => {
  it.each([
    [report, "Returned mail: see transcript for details", true],
    [report, "Warning: could not send message for past 4 hours", true],
    [report, "Undelivered Mail Returned to Sender", false],
    ["This is the mail system at host mx.example.net.\n", "Returned mail: see transcript for details", false],
  ])("detects its report (%#)", (text, subject, expected) => {
    expect(sendmail.detect(input(text, subject))).toBe(expected);
  });

  it("reads each recipient's reply, command, status and reason", () => {
    expect(sendmail.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        command: "DATA",
        status: "5.1.1",
        remoteMta: "mx.example.jp",
        reason: "userunknown",
      },
      {
        recipient: "nohost@example.org",
        diagnostic: "550 Host unknown",
        status: "5.1.2",
        reason: "hostunknown",
      },
    ]);
  });

  it("reads the transcript's summary lines when the list is missing", () => {
    const bare = report.replace(/ {3}----- The following[\s\S]*?\n\n/, "");
    expect(sendmail.read(input(bare)).map((r) => r.recipient)).toEqual(["nohost@example.org", "nobody@example.jp"]);
  });
});
