import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { yahoo } from "../../src/core/bounce/lhost/yahoo.ts";

/** Yahoo! Mail's report as published, with example addresses. */
const report = `Sorry, we were unable to deliver your message to the following address.

<nobody@example.jp>:
Remote host said: 550 5.1.1 <nobody@example.jp>... User Unknown [RCPT_TO]

<full@example.com>:
Remote host said:
552 5.2.2 <full@example.com>... Mailbox Full
[RCPT_TO]

--- Below this line is a copy of the message.
`;

const input = (
  text: string,
  headers: Array<{ key: string; value: string }> = [{ key: "X-YMailISG", value: "abcdef" }],
  from = "MAILER-DAEMON@yahoo.com",
) => ({
  headers: headerMap(headers),
  subject: "Failure Notice",
  from,
  report: text,
});

describe("Yahoo", () => {
  it.each([
    ["its header", input(report), true],
    ["its From and sentence", input(report, [], "MAILER-DAEMON@yahoo.co.jp"), true],
    [
      "qmail's report",
      input(
        "Hi. This is the qmail-send program at mx.example.net.\n\n<nobody@example.jp>:\nSorry, no mailbox here by that name.",
        [],
        "MAILER-DAEMON@mx.example.net",
      ),
      false,
    ],
  ])("detects by %s", (_name, given, expected) => {
    expect(yahoo.detect(given)).toBe(expected);
  });

  it("reads each recipient's reply and command", () => {
    expect(yahoo.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown", command: "RCPT" },
      { recipient: "full@example.com", diagnostic: "552 5.2.2 <full@example.com>... Mailbox Full", command: "RCPT" },
    ]);
  });
});
