import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { x1 } from "../../src/core/bounce/lhost/x1.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Unknown MTA #1's report after the layout Sisimai documents, with example addresses. */
const report = `The original message was received at Mon, 7 Dec 2026 09:12:03 +0900 (JST)
from sender@example.org

---The following addresses had delivery errors---

nobody@example.co.jp [User unknown]
full@example.co.jp [Mailbox full]

`;

const sendmail8 = `The original message was received at Mon, 7 Dec 2026 09:12:03 +0900
from sender.example.jp [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
<nobody@example.org>
`;

const input = (text: string, subject = "Returned Mail: User unknown", from = "postmaster@example.co.jp"): LhostInput => ({
  headers: headerMap([]),
  subject,
  from,
  report: text,
});

describe("X1", () => {
  it.each([
    ["its report (Subject)", input(report), true],
    ["its report (From)", input(report, "Failure", '"Mail Delivery System" <postmaster@example.co.jp>'), true],
    ["a Sendmail 8 report", input(sendmail8, "Returned mail: see transcript for details"), false],
    ["a Sendmail 8 report with its Subject", input(sendmail8), false],
  ])("detects %s", (_, given, expected) => {
    expect(x1.detect(given)).toBe(expected);
  });

  it("reads each recipient and its bracketed error", () => {
    expect(x1.read(input(report))).toEqual([
      { recipient: "nobody@example.co.jp", diagnostic: "User unknown" },
      { recipient: "full@example.co.jp", diagnostic: "Mailbox full" },
    ]);
  });
});
