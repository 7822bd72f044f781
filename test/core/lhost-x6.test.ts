import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";
import { x6 } from "../../src/core/bounce/lhost/x6.ts";

/** Unknown MTA #6's report after the layout Sisimai documents, with example addresses. */
const report = `We had trouble delivering your message. Full details follow:

Subject: 'Quarterly figures'
Date: 'Mon, 7 Dec 2026 09:12:03 +0900'

2 error(s):

SMTP Server <mx.example.jp> rejected recipient <nobody@example.jp> 
  (Error following RCPT command). It responded as follows: [550 5.1.1 User unknown]
The following recipients returned permanent errors: other@example.com.

The attachment contains the original mail headers.
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "There was an error sending your mail"): LhostInput => ({
  headers: headerMap([]),
  subject,
  from: "postmaster@example.net",
  report: text,
});

describe("X6", () => {
  it.each([
    ["its report", input(report), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
    ["its Subject over other text", input(postfix), false],
  ])("detects %s", (_, given, expected) => {
    expect(x6.detect(given)).toBe(expected);
  });

  it("reads each failure's recipient, command, server and reply", () => {
    expect(x6.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 User unknown", command: "RCPT", remoteMta: "mx.example.jp" },
      { recipient: "other@example.com", diagnostic: "The following recipients returned permanent errors: other@example.com." },
    ]);
  });
});
