/**
 * BIGLOBE (https://www.biglobe.ne.jp/) and the cable ISPs on its platform (inacatv, tmtv, ttv):
 * "Returned mail: ..." from postmaster@<isp>.ne.jp. Under "----- The following addresses had
 * delivery problems -----" one address a line; under "----- Non-delivered information -----"
 * BIGLOBE's own explanation, shared by them ("The number of messages in recipient's mailbox
 * exceeded the local limit.", "Mail Delivery Failed... User unknown"). No command or status.
 * Markers after Sisimai::Lhost::Biglobe, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { reasonIn } from "./block.ts";
import { oneLine } from "./tidy.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const PROBLEMS = /^\s*-{3,} The following addresses had delivery problems -{3,}\s*$/m;
const INFORMATION = /^\s*-{3,} Non-delivered information -{3,}\s*$/m;
const MESSAGES = [
  ["filtered", ["Mail Delivery Failed... User unknown"]],
  ["mailboxfull", ["The number of messages in recipient's mailbox exceeded the local limit."]],
] as const;

function section(report: string, marker: RegExp): string[] {
  const found = marker.exec(report);
  if (!found) return [];
  const lines = report.slice(found.index + found[0].length).split("\n");
  const out: string[] = [];
  for (const line of lines) {
    if (/^\s*-{3,} .* -{3,}\s*$/.test(line) || /^-{2,}\S/.test(line)) break;
    if (line.trim()) out.push(line.trim());
  }
  return out;
}

function read(input: LhostInput): LhostRecipient[] {
  const diagnostic = oneLine(section(input.report, INFORMATION).join(" "));
  const reason = reasonIn({ messages: MESSAGES }, diagnostic);
  return section(input.report, PROBLEMS)
    .filter((l) => /^[^\s@]+@[^\s@]+$/.test(l))
    .flatMap((l) => addressIn(l) ?? [])
    .map((recipient) => ({ recipient, diagnostic, ...(reason ? { reason } : {}) }));
}

export const biglobe: Lhost = {
  name: "Biglobe",
  detect: (input) =>
    /postmaster@(?:[\w-]+\.)*(?:biglobe|inacatv|tmtv|ttv)\.ne\.jp/i.test(input.from) &&
    /^Returned mail:/i.test(input.subject) &&
    PROBLEMS.test(input.report),
  read,
};
