/**
 * Unknown MTA #6 (Sisimai's X6): Subject "There was an error sending your mail". After "We had
 * trouble delivering your message. Full details follow:", the message's Subject and Date and
 * "N error(s):", each failure is one (wrapped) sentence: "SMTP Server <mx.example.jp> rejected
 * recipient <user@example.jp> (Error following RCPT command). It responded as follows: [550
 * 5.1.1 User unknown]", or "The following recipients returned permanent errors: user@example.jp.".
 * The section ends at "The attachment contains the original mail headers". Markers after
 * Sisimai::Lhost::X6, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import type { SmtpCommand } from "../types.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const BEGIN = /We had trouble delivering your message\. Full details follow:/;
const END = /^The attachment contains the original mail headers/m;

export const x6: Lhost = {
  name: "X6",
  detect: (input) => /^There was an error sending your mail/.test(input.subject) && BEGIN.test(input.report),
  read(input) {
    const begin = BEGIN.exec(input.report);
    if (!begin) return [];
    let text = input.report.slice(begin.index + begin[0].length);
    const end = END.exec(text);
    if (end) text = text.slice(0, end.index);
    // A failure's sentence may be wrapped: it runs to the next failure or a blank line.
    const sentences = text.split(/\n(?=SMTP Server <|The following recipients returned permanent errors: )|\n[ \t]*\n/);
    const out: LhostRecipient[] = [];
    for (const raw of sentences) {
      const sentence = raw.trim().replace(/\s*\n\s*/g, " ");
      const server = /^SMTP Server <([^>]*)> rejected recipient <([^<>\s]+)>/.exec(sentence);
      const listed = /^The following recipients returned permanent errors: (.+)$/.exec(sentence);
      if (server) {
        const recipient = addressIn(server[2] ?? "");
        if (!recipient) continue;
        const reply = /responded as follows:\s*\[([^\]]+)\]/.exec(sentence)?.[1]?.trim();
        const command = /Error following ([A-Z]{4}) command/i.exec(sentence)?.[1]?.toUpperCase() as SmtpCommand | undefined;
        out.push({
          recipient,
          diagnostic: reply ?? sentence,
          ...(command ? { command } : {}),
          ...(server[1] ? { remoteMta: server[1] } : {}),
        });
      } else if (listed?.[1]) {
        const recipient = addressIn(listed[1]);
        if (recipient) out.push({ recipient, diagnostic: sentence });
      }
    }
    return out;
  },
};
