/**
 * Unknown MTA #3 (Sisimai's X3): From "Mail Delivery System", Subject "Delivery status
 * notification". Between rules of "=" it says "This is an automatically generated Delivery
 * Status Notification.", lists "Delivery to the following recipients failed permanently:" as
 * `  * user@example.com`, then under "Technical details:" a line per failure:
 * `SMTP:RCPT host 192.0.2.8: 553 5.3.0 <user@example.com>... No such user here` (the command
 * and the reply), `Routing: …` or `Diagnostic-Code: smtp; …`. Markers after Sisimai::Lhost::X3,
 * BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { commandIn, enhancedCodesIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const COMMANDS: readonly SmtpCommand[] = ["CONN", "HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA"];
const MARKER = /This is an automatically generated Delivery Status Notification\./;

export const x3: Lhost = {
  name: "X3",
  detect: (input) =>
    /^"?Mail Delivery System/.test(input.from) &&
    /^Delivery status notification/.test(input.subject) &&
    MARKER.test(input.report) &&
    /^[ \t]+\*[ \t]\S+@\S+\s*$/m.test(input.report),
  read(input) {
    const recipients: string[] = [];
    const details: Array<{ diagnostic: string; command?: SmtpCommand; remoteMta?: string }> = [];
    for (const line of input.report.split("\n")) {
      const listed = /^[ \t]+\*[ \t](\S+@\S+)\s*$/.exec(line);
      const smtp = /^SMTP:(\S+)[ \t](.+)$/.exec(line);
      const other = /^(?:Routing: |Diagnostic-Code: smtp; )(.+)$/i.exec(line);
      if (listed) {
        const address = addressIn(listed[1] ?? "");
        if (address) recipients.push(address);
      } else if (smtp?.[2]) {
        const host = /^host ([^\s:]+):\s*(.+)$/.exec(smtp[2]);
        const word = (smtp[1] ?? "").toUpperCase();
        const command = COMMANDS.includes(word as SmtpCommand) ? (word as SmtpCommand) : commandIn(line);
        details.push({ diagnostic: (host?.[2] ?? smtp[2]).trim(), command, ...(host?.[1] ? { remoteMta: host[1] } : {}) });
      } else if (other?.[1]) details.push({ diagnostic: other[1].trim() });
    }
    return recipients.map((recipient, k): LhostRecipient => {
      const detail = details[k] ?? details[details.length - 1];
      const status = detail ? enhancedCodesIn(detail.diagnostic)[0] : undefined;
      return {
        recipient,
        diagnostic: detail?.diagnostic ?? "",
        ...(detail?.command ? { command: detail.command } : {}),
        ...(status ? { status } : {}),
        ...(detail?.remoteMta ? { remoteMta: detail.remoteMta } : {}),
      };
    });
  },
};
