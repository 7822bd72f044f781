import { describe, expect, it } from "vitest";
import { bigfoot } from "../../src/core/bounce/lhost/bigfoot.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Bigfoot's report: a transcript and an RFC 3464 part, with example addresses. */
const report = `   ----- Transcript of session follows -----
>>> RCPT TO:<nobody@example.net>
<<< 553 Invalid recipient nobody@example.net (Mode: normal)

Reporting-MTA: dns; litemail57.bigfoot.com

Final-Recipient: RFC822; nobody@example.net
Action: failed
Status: 5.7.1
Diagnostic-Code: SMTP; 553 Invalid recipient nobody@example.net (Mode: normal)
`;

const input = (from = "MAILER-DAEMON <mailer-daemon@bigfoot.com>") => lhostInput(report, "Returned mail: User unknown", from);

describe("Bigfoot", () => {
  it.each([
    ["MAILER-DAEMON <mailer-daemon@bigfoot.com>", true],
    ["MAILER-DAEMON <mailer-daemon@example.com>", false],
  ])("detects its report (%#)", (from, expected) => {
    expect(bigfoot.detect(input(from))).toBe(expected);
  });

  it("reads the recipient, reply, status and the transcript's command", () => {
    expect(bigfoot.read(input())).toEqual([
      {
        recipient: "nobody@example.net",
        diagnostic: "553 Invalid recipient nobody@example.net (Mode: normal)",
        status: "5.7.1",
        command: "RCPT",
      },
    ]);
  });
});
