/**
 * Mail.ru (https://mail.ru/): Exim under its own name. From mailer-daemon@<host>.mail.ru,
 * Message-Id ending ".mail.ru>" or "smailru.net>", an Exim subject ("Mail delivery failed:
 * returning message to sender"). A Russian preamble ("Это письмо создано автоматически сервером
 * Mail.Ru ...") precedes Exim's text: "This message was created automatically by mail delivery
 * software.", each recipient indented two spaces, "SMTP error from remote mail server after RCPT
 * TO:<address>:", "host <mx> [<ip>]: <reply>", or Exim's own words. Markers after
 * Sisimai::Lhost::MailRu, BSD 2-Clause.
 */
import { eximLayout } from "./exim.ts";
import type { Lhost, LhostInput } from "./types.ts";

function detect(input: LhostInput): boolean {
  const messageId = (input.headers.get("message-id") ?? [])[0] ?? "";
  return (
    /mailer-daemon@(?:[\w-]+\.)*mail\.ru\b/i.test(input.from) &&
    /\.mail\.ru>|smailru\.net>/i.test(messageId) &&
    /Delivery Status Notification|Mail delivery failed|Mail failure|Message frozen|Warning: message |error\(s\) in forwarding or filtering/i.test(
      input.subject,
    )
  );
}

export const mailru: Lhost = { name: "MailRu", detect, read: eximLayout.read };
