/**
 * Some MTAs write little prose and put their facts in the RFC 3464 fields (Final-Recipient,
 * Status, Diagnostic-Code, Remote-MTA), sometimes with their own X- fields. Their readers read
 * those fields from the report's text, per recipient, and map what is the MTA's own.
 */
import { addressIn } from "../address.ts";
import { oneLine } from "./tidy.ts";

export type DsnTextRecipient = {
  recipient: string;
  status?: string;
  diagnostic: string;
  remoteMta?: string;
  action?: string;
  /** Every field of the recipient's block, by lower-case name (continuation lines joined). */
  fields: Record<string, string>;
};

export function dsnTextRecipients(report: string): DsnTextRecipient[] {
  const out: DsnTextRecipient[] = [];
  // Each recipient's fields are one paragraph; the Final-Recipient field may come anywhere in it.
  for (const paragraph of report.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | undefined;
    for (const line of paragraph.split("\n")) {
      const field = /^([A-Za-z][\w-]*):\s*(.*)$/.exec(line);
      if (field) {
        last = field[1]!.toLowerCase();
        fields[last] = field[2]!.trim();
      } else if (/^\s+\S/.test(line) && last) fields[last] = `${fields[last] ?? ""} ${line.trim()}`;
    }
    const recipient = fields["final-recipient"] && addressIn(fields["final-recipient"].replace(/^[\w-]+;\s*/, ""));
    if (recipient) out.push({ recipient, diagnostic: "", fields });
  }
  for (const r of out) {
    const f = r.fields;
    r.diagnostic = oneLine((f["diagnostic-code"] ?? "").replace(/^[\w-]+;\s*/, ""));
    const status = /^\s*([245]\.\d{1,3}\.\d{1,3})/.exec(f.status ?? "")?.[1];
    if (status) r.status = status;
    const remote = (f["remote-mta"] ?? "").replace(/^[\w-]+;\s*/, "").trim();
    if (remote) r.remoteMta = remote;
    if (f.action) r.action = f.action.toLowerCase();
  }
  return out;
}
