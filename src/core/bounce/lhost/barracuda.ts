/**
 * Barracuda Email Security Gateway: Subject "**Message you sent blocked by our bulk email
 * filter**", opening "Your message to: <address>", then an RFC 3464 part (Final-Recipient,
 * Status, Diagnostic-Code "550 permanent failure for one or more recipients (<address>:blocked)").
 * The subject is Barracuda's own statement that its spam filter refused the message. Markers
 * after Sisimai::Lhost::Barracuda, BSD 2-Clause.
 */
import { dsnTextRecipients } from "./dsntext.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

export const barracuda: Lhost = {
  name: "Barracuda",
  detect: (input) => /our bulk email filter/i.test(input.subject) && /^Your message to:/m.test(input.report),
  read(input) {
    return dsnTextRecipients(input.report).map(
      (r): LhostRecipient => ({
        recipient: r.recipient,
        diagnostic: r.diagnostic,
        ...(r.status ? { status: r.status } : {}),
        ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
        reason: "spamdetected",
      }),
    );
  },
};
