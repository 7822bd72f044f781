/**
 * Yandex.Mail (https://mail.yandex.ru/): Postfix under its own name. From mailer-daemon@yandex.ru
 * with X-Yandex-Uniq (and X-Yandex-Front, X-Yandex-TimeMark ...); "This is the mail system at host
 * yandex.ru." then Postfix's paragraphs, `<address>: host <mx>[<ip>] said: <reply> (in reply to
 * RCPT TO command)`, and an RFC 3464 part. Markers after Sisimai::Lhost::Yandex, BSD 2-Clause.
 */
import { dsnTextRecipients } from "./dsntext.ts";
import { fromDsn } from "./fromdsn.ts";
import { postfix } from "./postfix.ts";
import type { Lhost } from "./types.ts";

export const yandex: Lhost = {
  name: "Yandex",
  detect: (input) => (input.headers.get("x-yandex-uniq") ?? []).length > 0 && /mailer-daemon@yandex\.ru/i.test(input.from),
  read(input) {
    const prose = postfix.read(input);
    return prose.length ? prose : dsnTextRecipients(input.report).map((r) => fromDsn(r));
  },
};
