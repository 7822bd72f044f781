/**
 * 1&1 / IONOS (https://www.1und1.de/): "Mail delivery failed: returning message to sender" from
 * "Mail Delivery System". "This message was created automatically by mail delivery software."
 * then the failed address on a line of its own and, after "For the following reason:", 1&1's
 * explanation ("Mail size limit exceeded. For explanation visit http://postmaster.1and1.com/...");
 * or, for a remote refusal, after "<address>:" the line "SMTP error from remote server for <CMD>
 * command, host: <mx> (<ip>) reason: <reply>" (TEXT is the message data). The original header
 * follows "--- The header of the original message is following. ---". Markers after
 * Sisimai::Lhost::EinsUndEins, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { enhancedCodesIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import { reasonIn } from "./block.ts";
import { oneLine } from "./tidy.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const START = /^This message was created automatically by mail delivery software\.?\s*$/m;
const MESSAGES = [["mesgtoobig", ["Mail size limit exceeded"]]] as const;

function detect(input: LhostInput): boolean {
  return (
    /^"?Mail Delivery System"?/i.test(input.from) &&
    /^Mail delivery failed: returning message to sender$/i.test(input.subject.trim()) &&
    START.test(input.report) &&
    (/^For the following reason:\s*$/m.test(input.report) ||
      /postmaster\.1and1\.|kundenserver\.de|\bionos\./i.test(input.report) ||
      /SMTP error from remote server for \w+ command, host:/i.test(input.report))
  );
}

function read(input: LhostInput): LhostRecipient[] {
  const start = START.exec(input.report);
  if (!start) return [];
  const lines = input.report.slice(start.index + start[0].length).split("\n");
  const found: Array<{ recipient: string; text: string[] }> = [];
  let reason: string[] | undefined;
  for (const raw of lines) {
    const line = raw.trim();
    if (/^-{3} The header of the original message/.test(line)) break;
    const address = /^([^\s@]+@[^\s@]+?):?$/.exec(line)?.[1];
    if (address && addressIn(address)) {
      found.push({ recipient: addressIn(address)!, text: [] });
      reason = undefined;
    } else if (/^For the following reason:/i.test(line)) reason = [];
    else if (line && reason) reason.push(line);
    else if (line && found.length && !/^(?:A message that you|recipients|its recipients)/i.test(line))
      found[found.length - 1]!.text.push(line);
    if (reason) for (const f of found) if (!f.text.length || f.text === reason) f.text = reason;
  }
  return found.map(({ recipient, text }) => {
    const diagnostic = oneLine(text.join(" "));
    const smtp = /SMTP error from remote server for (\w+) command,\s*host:\s*(\S+).*?reason:\s*(.+)$/i.exec(diagnostic);
    const verb = smtp?.[1]?.toUpperCase();
    const command = (verb === "TEXT" ? "DATA" : verb) as SmtpCommand | undefined;
    const status = smtp ? enhancedCodesIn(smtp[3] ?? "")[0] : undefined;
    const mine = reasonIn({ messages: MESSAGES }, diagnostic);
    return {
      recipient,
      diagnostic: smtp?.[3] ?? diagnostic,
      ...(command && ["CONN", "HELO", "EHLO", "MAIL", "RCPT", "DATA"].includes(command) ? { command } : {}),
      ...(status ? { status } : {}),
      ...(smtp?.[2] ? { remoteMta: smtp[2] } : {}),
      ...(mine ? { reason: mine } : {}),
    };
  });
}

export const einsundeins: Lhost = { name: "EinsUndEins", detect, read };
