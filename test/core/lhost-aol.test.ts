import { describe, expect, it } from "vitest";
import { aol } from "../../src/core/bounce/lhost/aol.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Aol Mail's report (Postfix's layout), with example addresses. */
const report = `This is the mail system at host omr-m01.mx.aol.com.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<nobody@example.org>: Host or domain name not found. Name service error for
    name=example.org type=A: Host not found

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.4.4
`;

const aolHeaders: Array<[string, string]> = [["X-AOL-IP", "192.0.2.135"]];
const input = (h = aolHeaders) => lhostInput(report, "Undelivered Mail Returned to Sender", "MAILER-DAEMON@aol.com", h);

describe("Aol", () => {
  it.each([
    [aolHeaders, true],
    [[] as Array<[string, string]>, false],
  ])("detects its report (%#)", (h, expected) => {
    expect(aol.detect(input(h))).toBe(expected);
  });

  it("reads the recipient and Aol's own reason", () => {
    expect(aol.read(input())).toEqual([
      {
        recipient: "nobody@example.org",
        diagnostic: "Host or domain name not found. Name service error for name=example.org type=A: Host not found",
        reason: "hostunknown",
      },
    ]);
  });
});
