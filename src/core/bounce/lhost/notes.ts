/**
 * Lotus Notes: Subject "Undeliverable message". Under "------- Failure Reasons --------" Notes
 * writes its own reason on one line and the recipient on the next (bare address), one pair per
 * recipient, until "------- Returned Message --------". No SMTP command or status is written.
 * Markers after Sisimai::Lhost::Notes, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { reasonIn } from "./block.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const messages = [
  ["userunknown", ["User not listed in public Name & Address Book", "ディレクトリのリストにありません"]],
  ["networkerror", ["Message has exceeded maximum hop count"]],
] as const;

const BEGIN = /^-+ Failure Reasons\s*-+\s*$/m;

export const notes: Lhost = {
  name: "Notes",
  detect: (input) => /^Undeliverable message/.test(input.subject) && BEGIN.test(input.report),
  read(input) {
    const found = BEGIN.exec(input.report);
    if (!found) return [];
    const out: LhostRecipient[] = [];
    let pending: string[] = [];
    for (const raw of input.report.slice(found.index + found[0].length).split("\n")) {
      const line = raw.trim();
      if (!line) continue;
      if (/^-{3,}/.test(line)) break;
      const address = !/\s/.test(line) && line.includes("@") ? addressIn(line) : undefined;
      if (!address) {
        pending.push(line);
        continue;
      }
      const diagnostic = pending.join(" ");
      const reason = reasonIn({ messages }, diagnostic);
      out.push({ recipient: address, diagnostic, ...(reason ? { reason } : {}) });
      pending = [];
    }
    return out;
  },
};
