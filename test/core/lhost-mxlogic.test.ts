import { describe, expect, it } from "vitest";
import { mxlogic } from "../../src/core/bounce/lhost/mxlogic.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** MX Logic's report in the published layout, with example addresses. */
const report = `This message was created automatically by mail delivery software.

A message that you have sent could not be delivered to one or more
recipients.  This is a permanent error.  The following address failed:

  <nobody@example.co.jp>: 550 5.1.1 <nobody@example.co.jp>... User Unknown

  <nohost@example.org>: Unrouteable address

Included is a copy of the message header:
`;

const headers: Array<[string, string]> = [["X-MX-Bounce", "mta/src/queue/bounce"]];
const input = (text: string, h = headers) =>
  lhostInput(text, "Mail delivery failed", "Mail Delivery System <mailer-daemon@example.net>", h);

describe("MXLogic", () => {
  it.each([
    [report, headers, true],
    [report, [] as Array<[string, string]>, false],
    ["This is the mail system at host mx.example.net.\n", headers, false],
  ])("detects its report (%#)", (text, h, expected) => {
    expect(mxlogic.detect(input(text, h))).toBe(expected);
  });

  it("reads each recipient's reply and reason", () => {
    expect(mxlogic.read(input(report))).toEqual([
      { recipient: "nobody@example.co.jp", diagnostic: "550 5.1.1 <nobody@example.co.jp>... User Unknown" },
      { recipient: "nohost@example.org", diagnostic: "Unrouteable address", reason: "hostunknown" },
    ]);
  });
});
