import { describe, expect, it } from "vitest";
import { messagelabs } from "../../src/core/bounce/lhost/messagelabs.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** MessageLabs' report in its documented layout, with example addresses. */
const report = `Reporting-MTA: dns; server-15.tower-143.messagelabs.com
Arrival-Date: Mon, 7 Dec 2026 21:07:43 +0000

Action: failed
Status: 5.0.0
Final-Recipient: rfc822; sender@example.jp
Diagnostic-Code: smtp; 553 Please turn on SMTP Authentication in your mail client
`;

const headers: Array<[string, string]> = [["X-Msg-Ref", "server-11.tower-143.messagelabs.com!1419367175!36473369!1"]];
const input = (text: string, h = headers, from = "MAILER-DAEMON@messagelabs.com") => lhostInput(text, "Mail Delivery Failure", from, h);

describe("MessageLabs", () => {
  it.each([
    [headers, "MAILER-DAEMON@messagelabs.com", true],
    [[] as Array<[string, string]>, "MAILER-DAEMON@messagelabs.com", false],
    [headers, "MAILER-DAEMON@example.net", false],
  ])("detects its report (%#)", (h, from, expected) => {
    expect(messagelabs.detect(input(report, h, from))).toBe(expected);
  });

  it("reads the recipient, the reply and MessageLabs' own reason", () => {
    expect(messagelabs.read(input(report))).toEqual([
      {
        recipient: "sender@example.jp",
        diagnostic: "553 Please turn on SMTP Authentication in your mail client",
        status: "5.0.0",
        reason: "securityerror",
      },
    ]);
  });
});
