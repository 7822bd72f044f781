import { describe, expect, it } from "vitest";
import { exim } from "../../src/core/bounce/lhost/exim.ts";
import { mailru } from "../../src/core/bounce/lhost/mailru.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Mail.ru's report: its preamble, then Exim's text, with example addresses. */
const report = `Это письмо создано автоматически
сервером Mail.Ru, отвечать на него не
нужно.

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nobody@example.jp
    SMTP error from remote mail server after RCPT TO:<nobody@example.jp>:
    host mx.example.jp [192.0.2.222]: 550 5.1.1 <nobody@example.jp>... User Unknown
`;

const from = "Mail Delivery System <mailer-daemon@f12.mail.ru>";
const subject = "Mail delivery failed: returning message to sender";
const input = (f = from, id = "<E1P1YNN-0003AD-Ga@f12.mail.ru>") => lhostInput(report, subject, f, [["Message-ID", id]]);

describe("MailRu", () => {
  it.each([
    [from, "<E1P1YNN-0003AD-Ga@f12.mail.ru>", true],
    [from, "<E1P1YNN-0003AD-Ga@mx.example.net>", false],
    ["Mail Delivery System <mailer-daemon@mx.example.net>", "<E1P1YNN-0003AD-Ga@f12.mail.ru>", false],
  ])("detects its report (%#)", (f, id, expected) => {
    expect(mailru.detect(input(f, id))).toBe(expected);
  });

  it("is not taken for plain Exim", () => {
    expect(exim.detect(input())).toBe(false);
  });

  it("reads the recipient, reply, command and host", () => {
    expect(mailru.read(input())).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 <nobody@example.jp>... User Unknown",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
    ]);
  });
});
