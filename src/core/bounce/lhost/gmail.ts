/**
 * Gmail (https://mail.google.com): "Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
 * Subject "Delivery Status Notification (Failure|Delay)". Two forms:
 * - the older one: "Delivery to the following recipient failed permanently:" (or "has been
 *   delayed:"), the address indented on a line of its own, then "Technical details of
 *   permanent failure:", Google's summary ("DNS Error: Domain name not found", "… rejected
 *   by the server for the recipient domain example.jp by mx.example.jp. [192.0.2.1].") and
 *   "The error that the other server returned was:" followed by the reply, often ending in
 *   "(state N)", the SMTP session state Gmail was in;
 * - the current one: a heading "** Address not found **" (or "** Message not delivered **",
 *   "** Delivery incomplete **"), "Your message wasn't delivered to <address> because …",
 *   and "The response from the remote server was:" (or "The response was:") over the reply.
 * "----- Original message -----" ends the report.
 * Markers and the state table after Sisimai::Lhost::Gmail, BSD 2-Clause.
 */
import type { SmtpCommand } from "../types.ts";
import { blockLhost } from "./block.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const messages = [
  [
    "hostunknown",
    ["DNS Error: Domain name not found", "DNS Error: DNS server returned answer with no data", /because the domain \S+ couldn't be found/i],
  ],
  ["expired", ["DNS Error: Could not contact DNS servers", "The recipient server did not accept our requests to connect"]],
  ["userunknown", ["because the address couldn't be found"]],
] as const;

const delayed =
  /^Delivery to the following recipient has been delayed|^\*\* Delivery incomplete \*\*|^There was a temporary problem delivering your message/m;

const older = blockLhost({
  name: "Gmail",
  detect: { from: /mailer-daemon@google(?:mail)?\.com/i },
  begin: /^Delivery to the following recipients? (?:failed permanently|has been delayed)[^\n]*$/m,
  end: /^-+ ?Original message -+\s*$|^\s*-+ Message header follows -+/m,
  recipient: /^\s+([^\s@<>]+@[^\s@<>]+)\s*$/,
  following: "block",
  fields: {
    remoteMta: / by ([a-z0-9.-]+\.[a-z]{2,})\. \[[\d.:a-f]+\]\./i,
    diagnostic: /The error that the other server returned was:\s*([\s\S]+?)\s*$/,
  },
  messages,
  delayed,
});

const current = blockLhost({
  name: "Gmail",
  detect: { from: /mailer-daemon@google(?:mail)?\.com/i },
  end: /^-+ ?Original message -+\s*$/m,
  recipient:
    /^(?:Your message wasn't delivered to|Your message to|Your message couldn't be delivered to|There was a temporary problem delivering your message to)\s+<?([^\s<>]+@[^\s<>]+?)>?[.,]?(?:\s|$)/,
  following: "block",
  fields: { diagnostic: /^The response(?: from the remote server)? was:\s*\n((?:[^\n]*\S[^\n]*\n?)+)/m },
  messages,
  delayed,
});

/** The SMTP state Gmail reports in "(state N)": the command it was at, and for some states the reason. */
const STATES: Record<string, { command: SmtpCommand; reason?: string }> = {
  "6": { command: "MAIL", reason: "systemerror" },
  "8": { command: "AUTH", reason: "systemerror" },
  "9": { command: "AUTH", reason: "systemerror" },
  "12": { command: "AUTH", reason: "norelaying" },
  "13": { command: "EHLO" },
  "14": { command: "RCPT" },
  "15": { command: "DATA" },
  "17": { command: "DATA" },
  "18": { command: "DATA" },
};

function withState(r: LhostRecipient): LhostRecipient {
  const state = /\(state (\d+)\)/.exec(r.diagnostic)?.[1];
  const known = state ? STATES[state] : undefined;
  if (!known) return r;
  return { ...r, command: known.command, ...(!r.reason && known.reason ? { reason: known.reason } : {}) };
}

export const gmail: Lhost = {
  name: "Gmail",
  detect: (input) => /mailer-daemon@google(?:mail)?\.com/i.test(input.from) && /Delivery Status Notification/i.test(input.subject),
  read: (input) => {
    const first = older.read(input);
    const found = first.length ? first : current.read(input);
    return found.map((r) => withState({ ...r, diagnostic: r.diagnostic.trim() }));
  },
};
