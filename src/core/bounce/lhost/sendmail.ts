/**
 * Sendmail (https://www.proofpoint.com/us/products/email-protection/open-source-email-solution):
 * "Returned mail: see transcript for details" (or "Warning: could not send message for past 4
 * hours") from "Mail Delivery Subsystem <MAILER-DAEMON@host>". Under "----- The following
 * addresses had permanent fatal errors -----" each recipient is a line `<address>`, with
 * "(reason: <reply>)" and "(expanded from: <alias>)" indented below it. Under "----- Transcript
 * of session follows -----", per remote host "... while talking to <mx>.:", the commands sent
 * (">>> RCPT To:<address>") and the replies ("<<< 550 5.1.1 ..."), then sendmail's own summary
 * line "550 5.1.1 <address>... User unknown". An RFC 3464 part follows, which the DSN path
 * reads. Markers after Sisimai::Lhost::Sendmail, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { commandIn, enhancedCodesIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import { reasonIn } from "./block.ts";
import { oneLine } from "./tidy.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const FATAL = /^\s*-{3,} The following addresses had (permanent fatal|transient non-fatal) errors -{3,}\s*$/m;
const TRANSCRIPT = /^\s*-{3,} Transcript of session follows -{3,}\s*$/m;
const SECTION_END = /^\s*-{3,} .* -{3,}\s*$|^(?:Reporting-MTA|Final-Recipient)\s*:/im;

/** sendmail's own summary wording (its local errors and its summary of a session). */
const MESSAGES = [
  ["hostunknown", [/\.\.\. Host unknown \(Name server:/i, /\.\.\. Host unknown/i]],
  ["userunknown", [/\.\.\. User unknown\s*$/im]],
  ["mailboxfull", [/\.\.\. Mailbox full\s*$/im]],
  ["expired", [/Cannot send message (?:within|for) \d+ (?:days?|hours?)/i, /Message could not be delivered for \d+ (?:days?|hours?)/i]],
  ["mesgtoobig", [/Message is too large; \d+ bytes max/i]],
  ["norelaying", [/\.\.\. Relaying denied\s*$/im]],
] as const;

function detect(input: LhostInput): boolean {
  return (
    /^(?:Returned mail:|Warning: could not send message for past)/i.test(input.subject) &&
    (FATAL.test(input.report) || TRANSCRIPT.test(input.report))
  );
}

function after(text: string, marker: RegExp): string {
  const found = marker.exec(text);
  if (!found) return "";
  const rest = text.slice(found.index + found[0].length);
  const end = SECTION_END.exec(rest);
  return end ? rest.slice(0, end.index) : rest;
}

/** The transcript, cut into one part per "... while talking to" (the first part: local errors). */
function sessions(report: string): Array<{ host?: string; lines: string[] }> {
  const out: Array<{ host?: string; lines: string[] }> = [{ lines: [] }];
  for (const line of after(report, TRANSCRIPT).split("\n")) {
    const talking = /^\.\.\. while talking to ([^\s:]+?)\.?:\s*$/.exec(line.trim());
    if (talking) out.push({ host: talking[1], lines: [] });
    else if (line.trim()) out[out.length - 1]?.lines.push(line.trim());
  }
  return out.filter((s) => s.lines.length);
}

function read(input: LhostInput): LhostRecipient[] {
  const listed: Array<{ address: string; reason: string }> = [];
  for (const line of after(input.report, FATAL).split("\n")) {
    const reason = /^\s+\(reason: (.*)\)\s*$/.exec(line);
    if (reason && listed.length) listed[listed.length - 1]!.reason = reason[1] ?? "";
    else if (/^\s*<?[^\s<>()]+@[^\s<>()]+>?\s*$/.test(line)) {
      const address = addressIn(line);
      if (address) listed.push({ address, reason: "" });
    }
  }
  const parts = sessions(input.report);
  // Without the list, the summary lines of the transcript name the recipients.
  if (!listed.length) {
    for (const part of parts) {
      for (const line of part.lines) {
        const summary = /^[45]\d\d[ -](?:[45]\.\d\.\d+ )?<?([^\s<>]+@[^\s<>]+?)>?\.\.\./.exec(line);
        const address = summary?.[1] && addressIn(summary[1]);
        if (address && !listed.some((l) => l.address === address)) listed.push({ address, reason: "" });
      }
    }
  }
  const delayed = /^Warning: could not send message/i.test(input.subject) || /transient non-fatal/i.test(input.report);
  return listed.map(({ address, reason }) => {
    const lower = address.toLowerCase();
    const part =
      parts.find((p) => p.lines.some((l) => l.toLowerCase().includes(lower))) ??
      (listed.length === 1 ? parts.find((p) => p.host) : undefined);
    const all = part?.lines ?? [];
    // Within the session, this recipient's lines end at its summary line and start after the previous one.
    const isSummary = (l: string) => /^[45]\d\d[ -].*\.\.\. /.test(l);
    const own = all.findIndex((l) => isSummary(l) && l.toLowerCase().includes(`${lower}>...`));
    let start = 0;
    for (let i = own - 1; i >= 0; i--) {
      if (isSummary(all[i] ?? "")) {
        start = i + 1;
        break;
      }
    }
    const lines = own >= 0 ? all.slice(start, own + 1) : all;
    const summary = own >= 0 ? all[own] : lines.find(isSummary);
    // The reply to the command that failed: the first refusal after the last command sent before it.
    const refusal = lines.findIndex((l) => /^<<< [45]\d\d/.test(l));
    const replies: string[] = [];
    for (let i = refusal; refusal >= 0 && i < lines.length && lines[i]?.startsWith("<<< "); i++) replies.push(lines[i]!.slice(4));
    let command: SmtpCommand | undefined;
    for (let i = refusal - 1; i >= 0; i--) {
      const sent = /^>>> ([A-Za-z]{4})\b/.exec(lines[i] ?? "");
      if (sent) {
        command = commandIn(sent[0]) ?? (sent[1]?.toUpperCase() as SmtpCommand);
        break;
      }
    }
    if (refusal >= 0 && !command && /^>>> \./.test(lines[refusal - 1] ?? "")) command = "DATA";
    const diagnostic = oneLine(replies.join(" ") || reason || summary || "");
    const status = enhancedCodesIn(summary ?? reason)[0];
    const mine = reasonIn({ messages: MESSAGES }, [summary ?? "", lines.filter((l) => !l.startsWith("<<<")).join("\n")].join("\n"));
    return {
      recipient: address,
      diagnostic,
      ...(command ? { command } : {}),
      ...(status ? { status } : {}),
      ...(part?.host ? { remoteMta: part.host } : {}),
      ...(mine ? { reason: mine } : {}),
      ...(delayed ? { action: "delayed" as const } : {}),
    };
  });
}

export const sendmail: Lhost = { name: "Sendmail", detect, read };
