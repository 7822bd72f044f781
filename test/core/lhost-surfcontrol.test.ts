import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { surfcontrol } from "../../src/core/bounce/lhost/surfcontrol.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** SurfControl's report after its documented layout, with example addresses. */
const report = `Your message could not be sent.
A transcript of the attempts to send the message follows.
The number of attempts made: 1
Addressed To: nobody@example.com

Mon 07 Dec 2026 09:12:03 +0900
Failed to send to identified host,
nobody@example.com: [198.51.100.7], 550 nobody@example.com... No such user
--- Message non-deliverable.
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const sef = headerMap([
  { key: "X-SEF-Processed", value: "7_3_0_01181__2026_12_07_09_12_03" },
  { key: "X-Mailer", value: "SurfControl E-mail Filter" },
]);

const input = (text: string, headers = sef): LhostInput => ({
  headers,
  subject: "Mail Delivery Failure",
  from: "postmaster@example.net",
  report: text,
});

describe("SurfControl", () => {
  it.each([
    ["its report", input(report), true],
    ["its text without its headers", input(report, headerMap([])), false],
    ["a Postfix report", input(postfix, headerMap([])), false],
  ])("detects %s", (_, given, expected) => {
    expect(surfcontrol.detect(given)).toBe(expected);
  });

  it("reads the recipient, the host and its reply", () => {
    expect(surfcontrol.read(input(report))).toEqual([
      { recipient: "nobody@example.com", diagnostic: "550 nobody@example.com... No such user", remoteMta: "198.51.100.7" },
    ]);
  });
});
