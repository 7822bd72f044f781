import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";
import { x4 } from "../../src/core/bounce/lhost/x4.ts";

/** A qmail clone's report: qmail-remote's messages under a clone's own opening. */
const report = `This is the mail delivery agent at mail.example.jp.
I was not able to deliver your message to the following addresses.

<nobody@example.jp>:
198.51.100.7 does not like recipient.
Remote host said: 550 5.1.1 <nobody@example.jp>... User Unknown
Giving up on 198.51.100.7.

<sender-refused@example.com>:
Connected to 198.51.100.8 but sender was rejected.
Remote host said: 553 sorry, your envelope sender is in my badmailfrom list
Giving up on 198.51.100.8.

<gone@example.jp>:
Sorry, no mailbox here by that name. (#5.1.1)

`;

/** qmail's own report opens differently: it is not X4's. */
const qmail = `Hi. This is the qmail-send program at mail.example.jp.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<nobody@example.jp>:
198.51.100.7 does not like recipient.
`;

const input = (text: string, subject = "failure notice"): LhostInput => ({
  headers: headerMap([{ key: "Received", value: "(qmail 12345 invoked for bounce); 7 Dec 2026 00:12:03 -0000" }]),
  subject,
  from: "MAILER-DAEMON@mail.example.jp",
  report: text,
});

describe("X4", () => {
  it.each([
    ["its report", input(report), true],
    ["qmail's own report", input(qmail), false],
  ])("detects %s", (_, given, expected) => {
    expect(x4.detect(given)).toBe(expected);
  });

  it("reads each recipient, the command qmail-remote names and its reason", () => {
    expect(x4.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic:
          "198.51.100.7 does not like recipient.\nRemote host said: 550 5.1.1 <nobody@example.jp>... User Unknown\nGiving up on 198.51.100.7.",
        command: "RCPT",
        remoteMta: "198.51.100.7",
      },
      {
        recipient: "sender-refused@example.com",
        diagnostic:
          "Connected to 198.51.100.8 but sender was rejected.\nRemote host said: 553 sorry, your envelope sender is in my badmailfrom list\nGiving up on 198.51.100.8.",
        command: "MAIL",
        remoteMta: "198.51.100.8",
        reason: "rejected",
      },
      {
        recipient: "gone@example.jp",
        diagnostic: "Sorry, no mailbox here by that name. (#5.1.1)",
        reason: "userunknown",
      },
    ]);
  });
});
