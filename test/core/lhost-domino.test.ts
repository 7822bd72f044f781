import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { domino } from "../../src/core/bounce/lhost/domino.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Domino's plain-text failure report, after its documented layout, with example addresses. */
const report = `Your message

  Subject: Quarterly figures

was not delivered to:

  nobody@example.jp

because:

  User Some Body (nobody@example.jp) not listed in Domino Directory

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (
  text: string,
  subject = "DELIVERY FAILURE: User Some Body (nobody@example.jp) not listed in Domino Directory",
): LhostInput => ({
  headers: headerMap([]),
  subject,
  from: "Postmaster@example.jp",
  report: text,
});

describe("Domino", () => {
  it.each([
    ["its report", input(report), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
    ["its Subject over other text", input(postfix), false],
  ])("detects %s", (_, given, expected) => {
    expect(domino.detect(given)).toBe(expected);
  });

  it.each([
    ["not listed in Domino Directory", "userunknown"],
    ["Cannot route mail to user (nobody@example.jp).", "filtered"],
    ["Several matches found in Domino Directory", "systemerror"],
  ])("reads the recipient and Domino's reason: %s", (because, reason) => {
    const text = report.replace("User Some Body (nobody@example.jp) not listed in Domino Directory", because);
    expect(domino.read(input(text))).toEqual([{ recipient: "nobody@example.jp", diagnostic: because, reason }]);
  });
});
