import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";
import { x3 } from "../../src/core/bounce/lhost/x3.ts";

/** Unknown MTA #3's report after the layout Sisimai documents, with example addresses. */
const report = `============================================================================
      This is an automatically generated Delivery Status Notification.

Delivery to the following recipients failed permanently:

  * nobody@example.com


============================================================================
                            Technical details:

SMTP:RCPT host 198.51.100.7: 553 5.3.0 <nobody@example.com>... No such user here


============================================================================
`;

/** The old Gmail wording is close; its From and layout are not X3's. */
const gmail = `This is an automatically generated Delivery Status Notification

Delivery to the following recipient failed permanently:

     nobody@example.com

Technical details of permanent failure:
The email account that you tried to reach does not exist.
`;

const input = (text: string, from = "Mail Delivery System <MAILER-DAEMON@example.net>"): LhostInput => ({
  headers: headerMap([]),
  subject: "Delivery status notification",
  from,
  report: text,
});

describe("X3", () => {
  it.each([
    ["its report", input(report), true],
    ["Gmail's report", input(gmail, "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"), false],
    ["Gmail's wording under X3's From", input(gmail), false],
  ])("detects %s", (_, given, expected) => {
    expect(x3.detect(given)).toBe(expected);
  });

  it("reads the recipient, the command, the host and the reply", () => {
    expect(x3.read(input(report))).toEqual([
      {
        recipient: "nobody@example.com",
        diagnostic: "553 5.3.0 <nobody@example.com>... No such user here",
        command: "RCPT",
        status: "5.3.0",
        remoteMta: "198.51.100.7",
      },
    ]);
  });
});
