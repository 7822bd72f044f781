import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { interscanmss } from "../../src/core/bounce/lhost/interscanmss.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** InterScan MSS's transcript after its documented layout, with example addresses. */
const report = `Mail could not be delivered to the following recipient(s).

Sent <<< RCPT TO:<nobody@example.jp>
Received >>> 550 5.1.1 <nobody@example.jp>... User unknown

Sent <<< RCPT TO:<full@example.com>
Received >>> 452 4.2.2 <full@example.com>... Mailbox full
`;

const japanese = `メッセージを配信できません。

 >>> RCPT TO:<nobody@example.jp>
 <<< 550 5.1.1 <nobody@example.jp>... User unknown
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "Mail could not be delivered", from = '"InterScan MSS" <postmaster@example.net>'): LhostInput => ({
  headers: headerMap([]),
  subject,
  from,
  report: text,
});

describe("InterScanMSS", () => {
  it.each([
    ["its report (From)", input(report), true],
    ["its report (Subject)", input(report, "Mail could not be delivered", "postmaster@example.net"), true],
    ["its Japanese report", input(japanese, "メッセージを配信できません。", "postmaster@example.net"), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", "MAILER-DAEMON@example.net"), false],
    ["its Subject over other text", input(postfix, "Mail could not be delivered", "MAILER-DAEMON@example.net"), false],
  ])("detects %s", (_, given, expected) => {
    expect(interscanmss.detect(given)).toBe(expected);
  });

  it("reads each recipient's command and reply", () => {
    expect(interscanmss.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 <nobody@example.jp>... User unknown", command: "RCPT" },
      { recipient: "full@example.com", diagnostic: "452 4.2.2 <full@example.com>... Mailbox full", command: "RCPT" },
    ]);
  });

  it("reads the Japanese transcript", () => {
    expect(interscanmss.read(input(japanese))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 <nobody@example.jp>... User unknown", command: "RCPT" },
    ]);
  });
});
