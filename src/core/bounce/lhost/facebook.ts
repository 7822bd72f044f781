/**
 * Facebook (mx.facebook.com): "Sorry, your message could not be delivered" from "Facebook
 * <mailer-daemon@mx.facebook.com>", opening "This message was created automatically by Facebook.",
 * then an RFC 3464 part whose Diagnostic-Code carries Facebook's own response code ("550 5.1.1
 * RCP-P2 ..."), documented at postmaster.facebook.com/response_codes. Markers (the codes) after
 * Sisimai::Lhost::Facebook, BSD 2-Clause.
 */
import { dsnTextRecipients } from "./dsntext.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const CODES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ["userunknown", ["RCP-P1", "INT-P1", "INT-P3", "INT-P4"]],
  ["filtered", ["RCP-P2", "RCP-P3"]],
  ["mesgtoobig", ["MSG-P1", "INT-P2"]],
  ["contenterror", ["MSG-P2", "MSG-P3", "POL-P6", "POL-P7"]],
  ["securityerror", ["POL-P1", "POL-P2", "POL-P5"]],
  ["notaccept", ["POL-P3", "POL-P4", "POL-T1", "POL-T2", "POL-T3"]],
  ["rejected", ["DNS-P1", "DNS-P2", "DNS-T1", "DNS-P3", "DNS-T2"]],
  ["systemerror", ["CON-T1"]],
  ["toomanyconn", ["CON-T3"]],
  ["suspend", ["RCP-T4"]],
];

/** The reason a Facebook response code ("RCP-P2") names. */
export function facebookReason(text: string): string | undefined {
  const code = /\b([A-Z]{3}-[A-Z]\d)\b/.exec(text)?.[1];
  if (!code) return undefined;
  return CODES.find(([, codes]) => codes.includes(code))?.[0] ?? (/^INT-T\d$/.test(code) ? "systemerror" : undefined);
}

export const facebook: Lhost = {
  name: "Facebook",
  detect: (input) =>
    /mailer-daemon@mx\.facebook\.com/i.test(input.from) && input.subject.trim() === "Sorry, your message could not be delivered",
  read(input) {
    return dsnTextRecipients(input.report).map((r): LhostRecipient => {
      const reason = facebookReason(r.diagnostic);
      return {
        recipient: r.recipient,
        diagnostic: r.diagnostic,
        ...(r.status ? { status: r.status } : {}),
        ...(reason ? { reason } : {}),
      };
    });
  },
};
