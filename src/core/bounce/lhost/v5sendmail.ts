/**
 * Sendmail version 5 (and appliances built on it): Subject "Returned mail: …", a plain-text
 * report without the DSN part or the "addresses had permanent fatal errors" list of Sendmail
 * 8. After "----- Transcript of session follows -----" comes the SMTP transcript: ">>> RCPT
 * To:<user@example.org>" (the command), "<<< 550 …" (the reply), then Sendmail's summary line
 * per recipient, `550 <user@example.org>... User unknown`; a connection failure reads "421
 * example.org (smtp)... Deferred: …". The report ends at "----- Unsent message follows -----".
 * Markers after Sisimai::Lhost::V5sendmail, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { commandIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const TRANSCRIPT = /-+ Transcript of session follows -+/;

export const v5sendmail: Lhost = {
  name: "V5sendmail",
  detect: (input) =>
    /^Returned mail: /.test(input.subject) &&
    TRANSCRIPT.test(input.report) &&
    !/addresses had permanent fatal errors|The original message was received at|^Final-Recipient:/im.test(input.report) &&
    !(input.headers.get("content-type") ?? []).some((v) => /multipart\/report/i.test(v)),
  read(input) {
    const found = TRANSCRIPT.exec(input.report);
    if (!found) return [];
    const out: LhostRecipient[] = [];
    let command: SmtpCommand | undefined;
    let response: string | undefined;
    let host: string | undefined;
    for (const line of input.report.slice(found.index + found[0].length).split("\n")) {
      const talking = /while talking to ([^\s:]+?)\.?:\s*$/i.exec(line);
      const summary = /^[45]\d\d <([^\s<>]+@[^\s<>]+)>\.\.\.\s*(.*)$/.exec(line);
      if (talking?.[1]) host = talking[1];
      else if (line.startsWith(">>> ")) command = commandIn(line);
      else if (line.startsWith("<<< ")) response = line.slice(4).trim();
      else if (summary) {
        const recipient = addressIn(summary[1] ?? "");
        if (!recipient) continue;
        const diagnostic = response ?? line.trim();
        out.push({
          recipient,
          diagnostic,
          ...(command ? { command } : {}),
          ...(host ? { remoteMta: host } : {}),
        });
        command = undefined;
        response = undefined;
      }
    }
    return out;
  },
};
