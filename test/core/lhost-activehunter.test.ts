import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { activehunter } from "../../src/core/bounce/lhost/activehunter.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Active!hunter's Sendmail-like report, with example addresses. */
const report = `  ----- The following addresses had permanent fatal errors -----

>>> nobody@example.org <nobody@example.org>

  ----- Transcript of session follows -----
550 sorry, no mailbox here by that name (#5.1.1 - chkusr)
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, headers = headerMap([{ key: "X-AHMailID", value: "A0123456789" }])): LhostInput => ({
  headers,
  subject: "FAILURE NOTICE :",
  from: '"MAILER-DAEMON" <postmaster@example.net>',
  report: text,
});

describe("Activehunter", () => {
  it.each([
    ["its report", input(report), true],
    ["its text without X-AHMailID", input(report, headerMap([])), false],
    ["a Postfix report", input(postfix, headerMap([])), false],
  ])("detects %s", (_, given, expected) => {
    expect(activehunter.detect(given)).toBe(expected);
  });

  it("reads the recipient and the reply", () => {
    expect(activehunter.read(input(report))).toEqual([
      { recipient: "nobody@example.org", diagnostic: "550 sorry, no mailbox here by that name (#5.1.1 - chkusr)" },
    ]);
  });
});
