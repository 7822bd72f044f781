/**
 * Verizon Wireless mail gateways. vtext.com (SMS): from post_master@vtext.com, relayed by
 * "*.vtext.com" hosts, in Apache James's layout: "Error: <reply>" ("550 - Requested action not
 * taken: no such user here"), then "Message details:" with "  RCPT TO: <recipient>".
 * vzwpix.com (MMS): from sysadmin@<host>.vzwpix.com, "Message could not be delivered to mobile."
 * and "Error: No valid recipients for this MM", then "Original Message:" with "To: <recipient>".
 * Markers after Sisimai::Lhost::Verizon, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { readJamesNotice } from "./apachejames.ts";
import { reasonIn } from "./block.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const MESSAGES = [["userunknown", ["550 - Requested action not taken: no such user here", "No valid recipients for this MM"]]] as const;

function vtext(input: LhostInput): boolean {
  return /post_master@vtext\.com/i.test(input.from) && (input.headers.get("received") ?? []).some((v) => v.includes(".vtext.com ("));
}

function vzwpix(input: LhostInput): boolean {
  return /sysadmin@(?:[\w-]+\.)*vzwpix\.com/i.test(input.from) && /^Message could not be delivered to mobile/m.test(input.report);
}

function readPix(input: LhostInput): LhostRecipient[] {
  const start = /^Message could not be delivered to mobile.*$/m.exec(input.report);
  if (!start) return [];
  const lines = input.report.slice(start.index).split("\n");
  const error =
    lines
      .find((l) => /^Error: /.test(l))
      ?.slice(7)
      .trim() ?? "";
  return lines
    .filter((l) => /^To: /.test(l))
    .flatMap((l) => addressIn(l.slice(4)) ?? [])
    .map((recipient) => ({ recipient, diagnostic: error }));
}

export const verizon: Lhost = {
  name: "Verizon",
  detect: (input) => vtext(input) || vzwpix(input),
  read(input) {
    return (vtext(input) ? readJamesNotice(input) : readPix(input)).map((r) => {
      const reason = reasonIn({ messages: MESSAGES }, r.diagnostic);
      return reason ? { ...r, reason } : r;
    });
  },
};
