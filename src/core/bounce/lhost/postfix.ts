/**
 * Postfix (http://www.postfix.org/bounce.5.html): "Undelivered Mail Returned to Sender" (or
 * "Delayed Mail (still being retried)") from MAILER-DAEMON, opening "This is the mail system at
 * host <host>." (older: "This is the Postfix program at host <host>."). Under "The mail system"
 * each recipient is a paragraph `<address>: <diagnostic>` (or `<address> (expanded from
 * <alias>): ...`), wrapped over indented lines: for a remote refusal "host <mx>[<ip>] said:
 * <reply> (in reply to RCPT TO command)", else Postfix's own words ("Host or domain name not
 * found. ...", "unknown user: ..."). An RFC 3464 part follows (Reporting-MTA, Final-Recipient,
 * Status, Diagnostic-Code), which the DSN path reads. Markers after Sisimai::Lhost::Postfix,
 * BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { tidy } from "./tidy.ts";

export const postfix = tidy(
  blockLhost({
    name: "Postfix",
    detect: { body: /^This is the (?:mail system|Postfix program) at host \S+/m },
    end: /^(?:Reporting-MTA|Final-Recipient|Original-Recipient|Content-Description: Delivery report)\s*:?/im,
    recipient: /^<([^<>\s]+@[^<>\s]+)>(?: \(expanded from <[^<>]*>\))?:\s*(.*)$/,
    fields: {
      command: /\(in\s+reply\s+to\s+(?:end\s+of\s+)?([A-Za-z]{4})\b/,
      remoteMta: /\bhost\s+([a-z0-9.-]+\.[a-z]{2,})\[[0-9a-f.:]+\]/i,
    },
    messages: [
      ["hostunknown", ["Host or domain name not found", /Name service error for name=\S+ type=\w+: Host not found(?!, try again)/]],
      ["userunknown", [/\bunknown user: "/]],
      ["mailboxfull", ["cannot update mailbox", /error writing message: (?:Disk quota exceeded|File too large)/i]],
      ["mesgtoobig", [/message size \d+ exceeds size limit \d+ of server/i]],
      ["mailererror", [/Command died with status \d+/]],
    ],
    delayed: /^# THIS IS A WARNING ONLY\./m,
  }),
);
