/**
 * Bigfoot (bigfoot.com forwarding): "Returned mail: ..." from an @bigfoot.com address or relayed
 * by *.bigfoot.com hosts. Under "   ----- Transcript of session follows -----" the commands sent
 * (">>> RCPT TO:<address>") and the replies ("<<< 553 Invalid recipient ..."), then an RFC 3464
 * part (Final-Recipient, Status, Diagnostic-Code). The command is the last one the transcript
 * sent; a reply with no command sent was the greeting. Markers after Sisimai::Lhost::Bigfoot,
 * BSD 2-Clause.
 */
import { commandIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import { dsnTextRecipients } from "./dsntext.ts";
import { fromDsn } from "./fromdsn.ts";
import type { Lhost, LhostInput } from "./types.ts";

function detect(input: LhostInput): boolean {
  return (
    (/@bigfoot\.com>/i.test(input.from) || (input.headers.get("received") ?? []).some((v) => v.includes(".bigfoot.com "))) &&
    /^\s*-{3,} Transcript of session follows -{3,}/m.test(input.report)
  );
}

export const bigfoot: Lhost = {
  name: "Bigfoot",
  detect,
  read(input) {
    const lines = input.report.split("\n");
    const sent = lines.filter((l) => l.startsWith(">>> ")).pop();
    const replied = lines.some((l) => l.startsWith("<<< "));
    const command: SmtpCommand | undefined = sent ? commandIn(sent) : replied ? "EHLO" : undefined;
    return dsnTextRecipients(input.report).map((r) => fromDsn(r, command ? { command } : {}));
  },
};
