/**
 * PowerMTA (https://www.bird.com/en-us/powermta): Subject "Delivery report", opening "Hello, this
 * is the mail server on <host>.", each affected recipient as " <address>  delivery failed; will
 * not continue trying", then an RFC 3464 part in which each recipient carries PowerMTA's own
 * classification, "X-PowerMTA-BounceCategory: bad-mailbox" (bad-domain, quota-issues,
 * spam-related, policy-related, ...). Markers after Sisimai::Lhost::PowerMTA, BSD 2-Clause.
 */
import { dsnTextRecipients } from "./dsntext.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

/** PowerMTA's bounce categories, in Sisimai's vocabulary. */
const CATEGORIES: Record<string, string> = {
  "bad-domain": "hostunknown",
  "bad-mailbox": "userunknown",
  "inactive-mailbox": "suspend",
  "message-expired": "expired",
  "no-answer-from-host": "networkerror",
  "policy-related": "policyviolation",
  "quota-issues": "mailboxfull",
  "routing-errors": "systemerror",
  "spam-related": "spamdetected",
};

export const powermta: Lhost = {
  name: "PowerMTA",
  detect: (input) => /Delivery report/i.test(input.subject) && /Hello, this is the mail server on /.test(input.report),
  read(input) {
    return dsnTextRecipients(input.report).map((r): LhostRecipient => {
      const reason = CATEGORIES[(r.fields["x-powermta-bouncecategory"] ?? "").trim().toLowerCase()];
      return {
        recipient: r.recipient,
        diagnostic: r.diagnostic,
        ...(r.status ? { status: r.status } : {}),
        ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
        ...(reason ? { reason } : {}),
        ...(r.action === "delayed" ? { action: "delayed" as const } : {}),
      };
    });
  },
};
