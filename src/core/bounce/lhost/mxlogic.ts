/**
 * MX Logic / McAfee SaaS Email Protection: Exim-based, marked by X-MX-Bounce, X-MXL-Hash or
 * X-MXL-NoteHash. "This message was created automatically by mail delivery software." then each
 * recipient indented as `  <address>: <reply>` (the reply wrapped on following lines), up to
 * "Included is a copy of the message header:". Its own words are Exim's ("Unrouteable address",
 * "retry timeout exceeded"). Markers after Sisimai::Lhost::MXLogic, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { tidy } from "./tidy.ts";
import type { Lhost, LhostInput } from "./types.ts";

const base = tidy(
  blockLhost({
    name: "MXLogic",
    detect: { body: /^This message was created automatically by mail delivery software\.$/m },
    begin: /^This message was created automatically by mail delivery software\.$/m,
    end: /^Included is a copy of the message header:|^-{2,}/m,
    recipient: /^ {2}<([^\s<>]+@[^\s<>]+)>:\s*(.*)$/,
    fields: {
      command: /SMTP error from remote (?:mail server|mailer) after (?:end of )?([A-Za-z]{4})\b/,
      remoteMta: /\bhost\s+([a-z0-9.-]+\.[a-z]{2,})\s+\[[0-9a-f.:]+\]/i,
    },
    messages: [
      ["userunknown", ["user not found"]],
      [
        "hostunknown",
        ["all host address lookups failed permanently", "all relevant MX records point to non-existent hosts", "Unrouteable address"],
      ],
      ["mailboxfull", ["mailbox is full", "error: quota exceed"]],
      ["notaccept", ["an MX or SRV record indicated no SMTP service", "no host found for existing SMTP connection"]],
      ["systemerror", ["delivery to file forbidden", "delivery to pipe forbidden", "local delivery failed"]],
      ["contenterror", ['Too many "Received" headers']],
      ["expired", ["retry timeout exceeded", "retry time not reached for any host after a long failure period"]],
    ],
  }),
);

function detect(input: LhostInput): boolean {
  return ["x-mx-bounce", "x-mxl-hash", "x-mxl-notehash"].some((h) => (input.headers.get(h) ?? []).length > 0) && base.detect(input);
}

export const mxlogic: Lhost = { name: "MXLogic", detect, read: base.read };
