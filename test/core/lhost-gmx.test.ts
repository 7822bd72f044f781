import { describe, expect, it } from "vitest";
import { gmx } from "../../src/core/bounce/lhost/gmx.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** GMX's report in the published layout, with example addresses. */
const report = `This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of
its recipients. This is a permanent error. The following address
failed:

"nobody@example.jp":
SMTP error from remote server after RCPT command:
host: mx.example.jp
5.1.1 <nobody@example.jp>... User Unknown

<slow@example.org>

Reason:
delivery retry timeout exceeded
`;

const gmxHeaders: Array<[string, string]> = [["X-GMX-Antispam", "0 (Mail was not recognized as spam); Detail=V3;"]];
const input = (text: string, headers = gmxHeaders) =>
  lhostInput(text, "Mail delivery failed: returning message to sender", '"Mail Delivery System" <mailer-daemon@gmx.net>', headers);

describe("GMX", () => {
  it.each([
    [report, gmxHeaders, true],
    [report, [] as Array<[string, string]>, false],
    ["This is the mail system at host mx.example.net.\n", gmxHeaders, false],
  ])("detects its report (%#)", (text, headers, expected) => {
    expect(gmx.detect(input(text, headers))).toBe(expected);
  });

  it("reads each recipient's reply, command, host and reason", () => {
    expect(gmx.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "5.1.1 <nobody@example.jp>... User Unknown",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
      { recipient: "slow@example.org", diagnostic: "delivery retry timeout exceeded", reason: "expired" },
    ]);
  });
});
