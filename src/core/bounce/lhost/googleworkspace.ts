/**
 * Google Workspace (https://workspace.google.com): a Workspace account's message that Google
 * could not hand on comes back from "<mailer-daemon@googlemail.com>", Subject "Delivery Status
 * Notification (Failure)", with no RFC 3464 fields: a heading "** Message not delivered **"
 * (or "** Address not found **"), Google's explanation, and "The response was:" (or "The
 * response from the remote server was:") over the reply; the diagnostic keeps them all; the failed address is only in
 * X-Failed-Recipients (or the returned message's To:, which recipients.ts reads). Gmail's own
 * form that names the address in the text is Gmail's (gmail.ts).
 * Markers after Sisimai::Lhost::GoogleWorkspace, BSD 2-Clause.
 */
import { addressesIn } from "../address.ts";
import { reasonIn } from "./block.ts";
import { gmail } from "./gmail.ts";
import type { Lhost } from "./types.ts";

const HEADING = /^\*\* [^*\n]+ \*\*\s*$/m;
const messages = [
  ["userunknown", ["because the address couldn't be found. Check for typos or unnecessary spaces and try again."]],
] as const;

export const googleworkspace: Lhost = {
  name: "GoogleWorkspace",
  detect: (input) =>
    /mailer-daemon@google(?:mail)?\.com/i.test(input.from) &&
    /Delivery Status Notification/i.test(input.subject) &&
    HEADING.test(input.report) &&
    !/^(?:Final-Recipient|Diagnostic-Code):/im.test(input.report) &&
    gmail.read(input).length === 0,
  read: (input) => {
    const start = HEADING.exec(input.report);
    if (!start) return [];
    const text = input.report.slice(start.index);
    // Google's explanation and the response it quotes: the explanation is the cause when the response says little.
    const diagnostic = text
      .replace(/^Learn more here:.*$/gm, "")
      .replace(/\s+/g, " ")
      .trim();
    const reason = reasonIn({ messages }, text);
    const failed = (input.headers.get("x-failed-recipients") ?? []).flatMap((v) => addressesIn(v));
    return failed.map((recipient) => ({ recipient, diagnostic, ...(reason ? { reason } : {}) }));
  },
};
