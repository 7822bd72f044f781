import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { exchange2003 } from "../../src/core/bounce/lhost/exchange2003.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Exchange 2003's NDR text after its documented layout, with example addresses. */
const report = `Your message

  To:      nobody@example.jp
  Subject: Quarterly figures
  Sent:    Mon, 07 Dec 2026 09:12:03 +0900

did not reach the following recipient(s):

nobody@example.jp on Mon, 07 Dec 2026 09:12:05 +0900
    The recipient name is not recognized
    The MTS-ID of the original message is: c=JP;a= ;p=Example;l=EXCH0000000000000000
    MSEXCH:IMS:Example:Tokyo:EXCH 0 (000C05A6) Unknown Recipient
other@example.jp on Mon, 07 Dec 2026 09:12:05 +0900
    Too many recipients
    MSEXCH:IMS:Example:Tokyo:EXCH 0 (00010256) Too many recipients.
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, headers: Array<[string, string]> = [["x-mailer", "Internet Mail Service (5.5.2657.72)"]]): LhostInput => ({
  headers: headerMap(headers.map(([key, value]) => ({ key, value }))),
  subject: "Undeliverable: Quarterly figures",
  from: "System Administrator <postmaster@example.jp>",
  report: text,
});

describe("Exchange2003", () => {
  it.each([
    ["its report (X-Mailer)", input(report), true],
    ["its report (X-MS-Embedded-Report)", input(report, [["x-ms-embedded-report", ""]]), true],
    ["its report (X-MimeOLE)", input(report, [["x-mimeole", "Produced By Microsoft Exchange V6.5"]]), true],
    ["its text without an Exchange header", input(report, []), false],
    ["a Postfix report", input(postfix, []), false],
  ])("detects %s", (_, given, expected) => {
    expect(exchange2003.detect(given)).toBe(expected);
  });

  it("reads each recipient, Exchange's summary and its error code", () => {
    expect(exchange2003.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "The recipient name is not recognized", reason: "userunknown" },
      { recipient: "other@example.jp", diagnostic: "Too many recipients", reason: "systemerror" },
    ]);
  });
});
