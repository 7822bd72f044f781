/**
 * RFC 3834 automatic responses (vacation, out of office): they prove the mailbox exists
 * and are never bounces. Only asked once the message is known not to be a DSN or a
 * complaint: bounces often carry `Auto-Submitted: auto-replied` too.
 */
import { header, type Headers } from "./headers.ts";

/** Header evidence, as data: [header, value test, who writes it]. */
const AUTOREPLY_HEADERS: ReadonlyArray<readonly [name: string, test: RegExp, source: string]> = [
  // auto-generated/auto-notified are not replies, but a message to the bounce address that is
  // neither a DSN nor a complaint and says so is an automatic notice all the same (Sisimai reads it so).
  ["auto-submitted", /^auto-(?:replied|generated|notified)/i, "RFC 3834"],
  ["x-autoreply", /^(?!no\b|false\b|0\b)/i, "various (presence)"],
  ["x-autorespond", /./, "various (presence)"],
  ["x-autoreply-from", /./, "various (presence)"],
  ["x-mail-autoreply", /./, "various (presence)"],
  ["precedence", /^auto_reply/i, "various"],
  ["x-apple-action", /^vacation/i, "Apple iCloud"],
  ["x-ms-exchange-inbox-rules-loop", /./, "Exchange inbox rules"],
];

/** Subjects of vacation notices in the languages they come in. */
const AUTOREPLY_SUBJECT =
  /^\s*(?:auto(?:matic)?[ -]?(?:reply|response|answer)\b|auto:|autoreply|out of (?:the )?office|abwesenheitsnotiz|automatische antwort|réponse automatique|respuesta automática|risposta automatica|automatisch antwoord|vacation\b|on vacation|away from (?:the )?office)/i;

/** Senders that never auto-reply on a person's behalf. */
const SYSTEM_SENDER = /^(?:mailer-daemon|postmaster|root)@/i;

export function isAutoReply(headers: Headers, from: string | undefined): boolean {
  if (from && SYSTEM_SENDER.test(from)) return false;
  for (const [name, test] of AUTOREPLY_HEADERS) {
    const value = header(headers, name);
    if (value !== undefined && test.test(value.trim())) return true;
  }
  return AUTOREPLY_SUBJECT.test(header(headers, "subject") ?? "");
}
