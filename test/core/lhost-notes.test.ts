import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { notes } from "../../src/core/bounce/lhost/notes.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Lotus Notes' report after its documented layout: the reason, then the recipient. */
const report = `------- Failure Reasons  --------

User not listed in public Name & Address Book
nobody@notes.example.jp
Message has exceeded maximum hop count
loop@notes.example.jp

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "Undeliverable message"): LhostInput => ({
  headers: headerMap([]),
  subject,
  from: "Notes Mail Router <postmaster@notes.example.jp>",
  report: text,
});

describe("Notes", () => {
  it.each([
    ["its report", input(report), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
    ["its Subject over other text", input(postfix), false],
  ])("detects %s", (_, given, expected) => {
    expect(notes.detect(given)).toBe(expected);
  });

  it("reads each recipient after its reason", () => {
    expect(notes.read(input(report))).toEqual([
      { recipient: "nobody@notes.example.jp", diagnostic: "User not listed in public Name & Address Book", reason: "userunknown" },
      { recipient: "loop@notes.example.jp", diagnostic: "Message has exceeded maximum hop count", reason: "networkerror" },
    ]);
  });
});
