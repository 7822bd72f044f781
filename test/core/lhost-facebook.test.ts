import { describe, expect, it } from "vitest";
import { facebook } from "../../src/core/bounce/lhost/facebook.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Facebook's report in its documented layout, with example addresses. */
const report = `This message was created automatically by Facebook.

Reporting-MTA: dns; 10.138.205.200

Final-Recipient: rfc822; someone@facebook.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 RCP-P2
    http://postmaster.facebook.com/response_codes?ip=192.0.2.1#rcp Refused due to recipient preferences
`;

const from = "Facebook <mailer-daemon@mx.facebook.com>";
const subject = "Sorry, your message could not be delivered";
const input = (text: string, f = from, s = subject) => lhostInput(text, s, f);

describe("Facebook", () => {
  it.each([
    [from, subject, true],
    ["MAILER-DAEMON@example.net", subject, false],
    [from, "Undeliverable", false],
  ])("detects its report (%#)", (f, s, expected) => {
    expect(facebook.detect(input(report, f, s))).toBe(expected);
  });

  it("reads the recipient and the reason Facebook's response code names", () => {
    expect(facebook.read(input(report))).toEqual([
      {
        recipient: "someone@facebook.com",
        diagnostic: "550 5.1.1 RCP-P2 http://postmaster.facebook.com/response_codes?ip=192.0.2.1#rcp Refused due to recipient preferences",
        status: "5.1.1",
        reason: "filtered",
      },
    ]);
    expect(facebook.read(input(report.replace("RCP-P2", "MSG-P1")))[0]?.reason).toBe("mesgtoobig");
  });
});
