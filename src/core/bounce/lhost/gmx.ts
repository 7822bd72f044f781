/**
 * GMX and mail.com (https://www.gmx.net/): reports carrying X-GMX-Antispam. "This message was
 * created automatically by mail delivery software." then per recipient a line `"<address>":` (or
 * `<address>`), "SMTP error from remote server after RCPT command:", "host: <mx>" and the reply
 * ("5.1.1 <address>... User Unknown"); or "Reason:" and GMX's own words on the next line
 * ("delivery retry timeout exceeded"). The original header follows "--- The header of the
 * original message is following. ---". Markers after Sisimai::Lhost::GMX, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { commandIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import { reasonIn } from "./block.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const START = /^This message was created automatically by mail delivery software\.?\s*$/m;
const MESSAGES = [["expired", ["delivery retry timeout exceeded"]]] as const;

function read(input: LhostInput): LhostRecipient[] {
  const start = START.exec(input.report);
  if (!start) return [];
  const out: Array<{ recipient: string; diagnostic: string; command?: SmtpCommand; remoteMta?: string; reasonNext?: boolean }> = [];
  for (const raw of input.report.slice(start.index + start[0].length).split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const current = out[out.length - 1];
    if (/^["<][^\s"<>]+@[^\s"<>]+[">]:?$/.test(line)) {
      const recipient = addressIn(line);
      if (recipient) out.push({ recipient, diagnostic: "" });
    } else if (!current) continue;
    else if (/^SMTP error /i.test(line)) {
      const command = commandIn(line);
      if (command) current.command = command;
    } else if (/^host:\s+/i.test(line)) current.remoteMta = line.replace(/^host:\s+/i, "").split(/\s/)[0];
    else if (/^Reason:$/i.test(line)) current.reasonNext = true;
    else if (current.reasonNext || (!current.diagnostic && (/\b[245]\.\d\.\d{1,3}\b/.test(line) || /<[^>]*@[^>]*>/.test(line)))) {
      current.diagnostic = line;
      current.reasonNext = false;
    }
  }
  return out.map(({ recipient, diagnostic, command, remoteMta }) => {
    const reason = reasonIn({ messages: MESSAGES }, diagnostic);
    return { recipient, diagnostic, ...(command ? { command } : {}), ...(remoteMta ? { remoteMta } : {}), ...(reason ? { reason } : {}) };
  });
}

export const gmx: Lhost = {
  name: "GMX",
  detect: (input) => (input.headers.get("x-gmx-antispam") ?? []).length > 0 && START.test(input.report),
  read,
};
