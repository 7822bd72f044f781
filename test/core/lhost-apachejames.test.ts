import { describe, expect, it } from "vitest";
import { apachejames } from "../../src/core/bounce/lhost/apachejames.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Apache James's notice as AbstractNotify.java writes it, with example addresses. */
const report = `Hi. This is the James mail server at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.  Below
I include the list of recipients and the reason why I was unable to deliver
your message.

Error message below:
550 - Requested action not taken: no such user here

Message details:
  Subject: Hello
  Sent date: Mon Dec 07 01:20:50 JST 2026
  MAIL FROM: sender@example.jp
  RCPT TO: nobody@example.org
  From: Sender <sender@example.jp>
  To: nobody@example.org
  Size (in bytes): 1024
  Number of lines: 64
`;

const input = (text: string, subject = "[BOUNCE]") => lhostInput(text, subject, "postmaster@example.org");

describe("ApacheJames", () => {
  it.each([
    [report, "[BOUNCE]", true],
    [report, "Undeliverable", false],
    ["Hi. This is the qmail-send program at example.net.\n", "[BOUNCE]", false],
  ])("detects its report (%#)", (text, subject, expected) => {
    expect(apachejames.detect(input(text, subject))).toBe(expected);
  });

  it("reads the recipient and the error", () => {
    expect(apachejames.read(input(report))).toEqual([
      { recipient: "nobody@example.org", diagnostic: "550 - Requested action not taken: no such user here" },
    ]);
  });
});
