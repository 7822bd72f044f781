/**
 * Apache James (https://james.apache.org/, mailets/AbstractNotify.java): Subject "[BOUNCE]",
 * relayed by "JAMES SMTP Server", Message-Id "<n.JavaMail.…@host>". "Error message below:" and
 * the error ("550 - Requested action not taken: no such user here"), then "Message details:"
 * with the envelope indented: "  MAIL FROM: <sender>", "  RCPT TO: <recipient>" (one line per
 * recipient, sharing the error). No command or status beyond the reply. Markers after
 * Sisimai::Lhost::ApacheJames, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { oneLine } from "./tidy.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

/** The James notice layout, shared by gateways built on it (Verizon's vtext.com). */
export function readJamesNotice(input: LhostInput): LhostRecipient[] {
  const lines = input.report.split("\n");
  const errorAt = lines.findIndex((l) => /^Error message below:\s*$/.test(l.trim()) || /^Error: /.test(l));
  const detailsAt = lines.findIndex((l) => /^Message details:\s*$/.test(l.trim()));
  if (detailsAt < 0) return [];
  const error =
    errorAt >= 0
      ? oneLine(
          [lines[errorAt]!.replace(/^\s*Error(?: message below)?:\s*/, ""), ...lines.slice(errorAt + 1, detailsAt)]
            .filter((l) => l.trim())
            .join(" "),
        )
      : "";
  return lines
    .slice(detailsAt + 1)
    .map((l) => /^\s+RCPT TO:\s*(.+)$/i.exec(l)?.[1])
    .flatMap((v) => (v ? (addressIn(v) ?? []) : []))
    .map((recipient) => ({ recipient, diagnostic: error }));
}

function detect(input: LhostInput): boolean {
  const james =
    input.subject.trim() === "[BOUNCE]" ||
    (input.headers.get("message-id") ?? []).some((v) => v.includes(".JavaMail.")) ||
    (input.headers.get("received") ?? []).some((v) => v.includes("JAMES SMTP Server"));
  return james && /^Error message below:\s*$/m.test(input.report) && /^Message details:\s*$/m.test(input.report);
}

export const apachejames: Lhost = { name: "ApacheJames", detect, read: readJamesNotice };
