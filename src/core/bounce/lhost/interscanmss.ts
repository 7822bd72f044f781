/**
 * Trend Micro InterScan Messaging Security Suite: From "InterScan MSS", or Subject "Mail could
 * not be delivered" (or its Japanese forms). The report is a transcript, per recipient the
 * command sent (`Sent <<< RCPT TO:<user@example.com>`) and the reply received
 * (`Received >>> 550 5.1.1 <user@example.com>... User unknown`); the Japanese report writes
 * ` >>> RCPT TO:` and ` <<< 550 …`. Markers after Sisimai::Lhost::InterScanMSS, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import type { SmtpCommand } from "../types.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const SUBJECTS = ["Mail could not be delivered", "メッセージを配信できません。", "メール配信に失敗しました"];
const TRANSCRIPT = /[<>]{3}[ \t]+.*<([^\s<>]+@[^\s<>]+)>/;

export const interscanmss: Lhost = {
  name: "InterScanMSS",
  detect: (input) =>
    /^"?InterScan MSS"?/i.test(input.from) || (SUBJECTS.includes(input.subject.trim()) && /^.*[<>]{3}[ \t]+\S/m.test(input.report)),
  read(input) {
    const out: LhostRecipient[] = [];
    let current: LhostRecipient | undefined;
    for (const line of input.report.split("\n")) {
      const named = TRANSCRIPT.exec(line);
      if (named) {
        const address = addressIn(named[1] ?? "");
        if (address && address.toLowerCase() !== current?.recipient.toLowerCase()) {
          current = out.find((r) => r.recipient.toLowerCase() === address.toLowerCase());
          if (!current) {
            current = { recipient: address, diagnostic: "" };
            out.push(current);
          }
        }
      }
      if (!current) continue;
      const sent = /^\s*Sent[ \t]+<<<[ \t]+([A-Z]{4})\b/i.exec(line) ?? /[ ]>>>[ ]([A-Z]{4})\b/.exec(line);
      const received = /^\s*Received[ \t]+>>>[ \t]+(\d{3}[ \t]+.+)$/i.exec(line) ?? /[ ]<<<[ ](\d{3}.+)$/.exec(line);
      if (sent?.[1]) current.command = sent[1].toUpperCase() as SmtpCommand;
      else if (received?.[1]) current.diagnostic = received[1].trim();
    }
    return out;
  },
};
