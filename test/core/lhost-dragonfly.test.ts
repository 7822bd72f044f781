import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { dragonfly } from "../../src/core/bounce/lhost/dragonfly.ts";

/** DMA's bounce as its source writes it (mail.c, net.c, dma.c), with example addresses. */
const refused = `This is the DragonFly Mail Agent v0.13 at mail.example.org.

There was an error delivering your mail to <nobody@example.jp>.

mx.example.jp [192.0.2.25] did not like our RCPT TO:
550 5.1.1 <nobody@example.jp>: Recipient address rejected: User unknown

Original message follows.
`;

const nohost = `This is the DragonFly Mail Agent v0.13 at mail.example.org.

There was an error delivering your mail to <someone@nowhere.example.com>.

DNS lookup failure: host nowhere.example.com not found

Original message follows.
`;

const giveup = `This is the DragonFly Mail Agent v0.13 at mail.example.org.

There was an error delivering your mail to <slow@example.com>.

Could not deliver for the last 432000 seconds. Giving up.

Original message follows.
`;

const input = (report: string) => ({ headers: headerMap([]), subject: "Mail delivery failed", from: "MAILER-DAEMON", report });

describe("DragonFly", () => {
  it.each([
    [refused, true],
    ["This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered", false],
  ])("detects by its opening line", (report, expected) => {
    expect(dragonfly.detect(input(report))).toBe(expected);
  });

  it.each([
    [
      refused,
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>: Recipient address rejected: User unknown",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
    ],
    [
      nohost,
      {
        recipient: "someone@nowhere.example.com",
        diagnostic: "DNS lookup failure: host nowhere.example.com not found",
        reason: "hostunknown",
      },
    ],
    [giveup, { recipient: "slow@example.com", diagnostic: "Could not deliver for the last 432000 seconds. Giving up.", reason: "expired" }],
  ])("reads recipient, command, host, diagnostic and reason (%#)", (report, expected) => {
    expect(dragonfly.read(input(report))).toEqual([expected]);
  });
});
