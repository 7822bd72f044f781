import { describe, expect, it } from "vitest";
import { barracuda } from "../../src/core/bounce/lhost/barracuda.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Barracuda's report in its documented layout, with example addresses. */
const report = `Your message to: nobody@example.jp
was blocked by our Spam Firewall. The email you sent with the following subject has NOT BEEN DELIVERED:

Subject: Hello

Reporting-MTA: dns; spam.example.jp
Arrival-Date: Mon, 07 Dec 2026 09:00:00 +0900

Final-Recipient: rfc822; nobody@example.jp
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 550 permanent failure for one or more recipients (nobody@example.jp:blocked)
`;

const subject = "**Message you sent blocked by our bulk email filter**";
const input = (text: string, s = subject) => lhostInput(text, s, "postmaster@spam.example.jp");

describe("Barracuda", () => {
  it.each([
    [report, subject, true],
    [report, "Undeliverable", false],
    ["This is the mail system at host mx.example.net.\n", subject, false],
  ])("detects its report (%#)", (text, s, expected) => {
    expect(barracuda.detect(input(text, s))).toBe(expected);
  });

  it("reads the recipient, the reply and the filter's verdict", () => {
    expect(barracuda.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 permanent failure for one or more recipients (nobody@example.jp:blocked)",
        status: "5.7.1",
        reason: "spamdetected",
      },
    ]);
  });
});
