/**
 * MessageLabs / Symantec.cloud: "Mail Delivery Failure" from MAILER-DAEMON@messagelabs.com, with
 * X-Msg-Ref ("server-11.tower-143.messagelabs.com!…"). The facts are in the RFC 3464 part
 * (Final-Recipient, Status, Diagnostic-Code). MessageLabs' own wording: "Please turn on SMTP
 * Authentication in your mail client". Markers after Sisimai::Lhost::MessageLabs, BSD 2-Clause.
 */
import { reasonIn } from "./block.ts";
import { dsnTextRecipients } from "./dsntext.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const MESSAGES = [["securityerror", ["Please turn on SMTP Authentication in your mail client"]]] as const;

export const messagelabs: Lhost = {
  name: "MessageLabs",
  detect: (input) =>
    (input.headers.get("x-msg-ref") ?? []).length > 0 &&
    /MAILER-DAEMON@messagelabs\.com/i.test(input.from) &&
    /^Mail Delivery Failure/i.test(input.subject),
  read(input) {
    return dsnTextRecipients(input.report).map((r): LhostRecipient => {
      const reason = reasonIn({ messages: MESSAGES }, r.diagnostic);
      return {
        recipient: r.recipient,
        diagnostic: r.diagnostic,
        ...(r.status ? { status: r.status } : {}),
        ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
        ...(reason ? { reason } : {}),
      };
    });
  },
};
