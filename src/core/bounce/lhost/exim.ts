/**
 * Exim (https://www.exim.org/, src/deliver.c): "Mail delivery failed: returning message to
 * sender" from "Mail Delivery System <Mailer-Daemon@host>", X-Failed-Recipients, Message-Id
 * `<XXXXXX-XXXXXX-XX@host>`. "This message was created automatically by mail delivery
 * software." then "The following address(es) failed:" and each recipient indented two spaces,
 * the lines about it indented four: "SMTP error from remote mail server after RCPT
 * TO:<address>:" and "host <mx> [<ip>]: <reply>", or Exim's own words ("Unrouteable address",
 * "mailbox is full", "retry timeout exceeded"). The returned message follows "------ This is a
 * copy of the message, including all the headers. ------"; newer versions add an RFC 3464 part.
 * A delay warning says "This message has not yet been delivered to one or more of its
 * recipients." Markers after Sisimai::Lhost::Exim, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { tidy } from "./tidy.ts";
import type { Lhost, LhostInput } from "./types.ts";

const SUBJECT =
  /^(?:Mail delivery failed(?:: returning message to sender)?|Warning: message \S+ delayed|Delivery Status Notification|Mail failure|Message frozen|error\(s\) in forwarding or filtering)/i;

function isExim(input: LhostInput): boolean {
  if (/@(?:[\w-]+\.)*mail\.ru\b/i.test(input.from)) return false;
  const messageId = (input.headers.get("message-id") ?? [])[0] ?? "";
  const hits = [
    /^"?Mail Delivery System"?\s*</i.test(input.from),
    /^\s*<E?\w{6}-\w{6,11}-\w{2,4}@/.test(messageId),
    SUBJECT.test(input.subject),
    /^This message was created automatically by mail delivery software\.$/m.test(input.report),
  ].filter(Boolean).length;
  return (
    hits >= 2 &&
    /^This message was created automatically by mail delivery software\.$|^Message \S+ (?:has been frozen|was frozen on arrival)/m.test(
      input.report,
    )
  );
}

/** Exim's layout, read: shared by services that run Exim under their own name (Mail.ru). */
export const eximLayout = tidy(
  blockLhost({
    name: "Exim",
    detect: { body: /^This message was created automatically by mail delivery software\.$/m },
    begin: /^This message was created automatically by mail delivery software\.$/m,
    end: /^-{4,} This is a copy of (?:the|your) message|^Content-Type: message\/(?:delivery-status|rfc822)|^Reporting-MTA:/im,
    recipient: /^ {2}([^\s<>:]+@[^\s<>:]+?)\.?(?::\s*(.*)|\s+<[^<>]+>:.*)?$/,
    fields: {
      command: /(?:SMTP error from remote (?:mail server|mailer)|LMTP error) after (?:pipelined )?(?:end of )?([A-Za-z]{4})\b/,
      remoteMta: /\bhost\s+([a-z0-9.-]+\.[a-z]{2,})\s+\[[0-9a-f.:]+\]/i,
      diagnostic: /\bhost\s+\S+\s+\[[0-9a-f.:]+\]:\s*([\s\S]+)/i,
    },
    messages: [
      ["userunknown", ["user not found"]],
      [
        "hostunknown",
        ["all host address lookups failed permanently", "all relevant MX records point to non-existent hosts", "Unrouteable address"],
      ],
      ["mailboxfull", ["mailbox is full", "error: quota exceed"]],
      ["notaccept", ["an MX or SRV record indicated no SMTP service", "no host found for existing SMTP connection"]],
      [
        "syntaxerror",
        ["angle-brackets nested too deep", 'expected word or "<"', "domain missing in source-routed address", "malformed address:"],
      ],
      ["systemerror", ["delivery to file forbidden", "delivery to pipe forbidden", "local delivery failed", "LMTP error after "]],
      ["contenterror", ['Too many "Received" headers']],
      [
        "expired",
        [
          "retry timeout exceeded",
          "retry time not reached for any host after a long failure period",
          "all hosts have been failing for a long time and were last tried",
        ],
      ],
    ],
    delayed: /has not yet been delivered to one or more of its|^No action is required on your part/m,
  }),
);

export const exim: Lhost = { name: "Exim", detect: isExim, read: eximLayout.read };
