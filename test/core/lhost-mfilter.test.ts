import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { mfilter } from "../../src/core/bounce/lhost/mfilter.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** m-FILTER's report after its documented layout, with example addresses. */
const report = `このメールは「m-FILTER」が自動的に生成して送信しています。
メールサーバーとの通信中、下記の理由により
このメールは送信できませんでした。

以下のメールアドレスへの送信に失敗しました。
nobody@example.jp


-------server message
550 5.1.1 unknown user <nobody@example.jp>

-------SMTP command
RCPT

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "failure notice", mailer = "m-FILTER"): LhostInput => ({
  headers: headerMap([{ key: "X-Mailer", value: mailer }]),
  subject,
  from: "MAILER-DAEMON@example.net",
  report: text,
});

describe("mFILTER", () => {
  it.each([
    ["its report", input(report), true],
    ["a qmail-like failure notice", input(postfix, "failure notice", "qmail"), false],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", "Postfix"), false],
  ])("detects %s", (_, given, expected) => {
    expect(mfilter.detect(given)).toBe(expected);
  });

  it("reads the recipient, the server message and the SMTP command", () => {
    expect(mfilter.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 5.1.1 unknown user <nobody@example.jp>", command: "RCPT" },
    ]);
  });
});
