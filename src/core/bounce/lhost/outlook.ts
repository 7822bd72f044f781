/**
 * Outlook.com (formerly Hotmail, https://outlook.com): a DSN from a *.hotmail.com host with
 * Hotmail's X-Message-Delivery / X-Message-Info headers and Subject "Delivery Status
 * Notification (Failure)"; "This is an automatically generated Delivery Status
 * Notification." opens it, and the message/delivery-status part holds per recipient
 * `Final-Recipient:`, `Status:`, `Remote-MTA:` and `Diagnostic-Code:`. Outlook.com's own
 * diagnostics: "The mail could not be delivered to the recipient because the domain is not
 * reachable" (hostunknown), "Requested action not taken: mailbox unavailable" (userunknown).
 * Markers after Sisimai::Lhost::Outlook, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { dsnFields, unfold } from "./dsnfields.ts";
import type { Lhost, LhostInput } from "./types.ts";

const format = blockLhost({
  name: "Outlook",
  detect: { subject: /Delivery Status Notification/i },
  ...dsnFields,
  messages: [
    ["hostunknown", ["The mail could not be delivered to the recipient because the domain is not reachable"]],
    ["userunknown", ["Requested action not taken: mailbox unavailable"]],
  ],
});

/** Two of Hotmail's marks, as Sisimai asks: its Subject, its two headers, a hotmail.com relay. */
function marks(input: LhostInput): number {
  const h = (name: string) => input.headers.get(name) ?? [];
  return [
    /Delivery Status Notification/i.test(input.subject),
    h("x-message-delivery").length > 0,
    h("x-message-info").length > 0,
    h("received").some((v) => /\.hotmail\.com\b/i.test(v)),
  ].filter(Boolean).length;
}

export const outlook: Lhost = {
  name: "Outlook",
  detect: (input) => marks(input) >= 2 && (input.headers.get("x-message-delivery") ?? input.headers.get("x-message-info") ?? []).length > 0,
  read: (input) => format.read(input).map((r) => ({ ...r, diagnostic: unfold(r.diagnostic) })),
};
