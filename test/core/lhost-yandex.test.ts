import { describe, expect, it } from "vitest";
import { yandex } from "../../src/core/bounce/lhost/yandex.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Yandex.Mail's report (Postfix's layout), with example addresses. */
const report = `This is the mail system at host yandex.ru.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<nobody@example.jp>: host mx.example.jp[192.0.2.153] said: 550
    5.1.1 <nobody@example.jp>... User Unknown (in reply to RCPT TO
    command)

Reporting-MTA: dns; forward1h.mail.yandex.net

Final-Recipient: rfc822; nobody@example.jp
Action: failed
Status: 5.1.1
`;

const yandexHeaders: Array<[string, string]> = [["X-Yandex-Uniq", "92309766-f1c8-4bd4-92bc-657c75766587"]];
const input = (h = yandexHeaders, from = "mailer-daemon@yandex.ru") => lhostInput(report, "Undelivered Mail Returned to Sender", from, h);

describe("Yandex", () => {
  it.each([
    [yandexHeaders, "mailer-daemon@yandex.ru", true],
    [[] as Array<[string, string]>, "mailer-daemon@yandex.ru", false],
    [yandexHeaders, "MAILER-DAEMON@example.net", false],
  ])("detects its report (%#)", (h, from, expected) => {
    expect(yandex.detect(input(h, from))).toBe(expected);
  });

  it("reads the recipient, reply, command and host", () => {
    expect(yandex.read(input())).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "host mx.example.jp[192.0.2.153] said: 550 5.1.1 <nobody@example.jp>... User Unknown (in reply to RCPT TO command)",
        command: "RCPT",
        remoteMta: "mx.example.jp",
      },
    ]);
  });
});
