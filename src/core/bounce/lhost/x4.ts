/**
 * Unknown MTA #4 (Sisimai's X4): qmail clones. Subject "failure notice" or "Permanent Delivery
 * Failure", or a Received header "(qmail N invoked for bounce)" / "(qmail N invoked from
 * network)", and one of the clones' openings ("Unable to deliver message to the following
 * address", "This is the mail delivery agent at", …). Like qmail each recipient is a line
 * `<user@example.jp>:` followed by what qmail-remote says ("192.0.2.153 does not like
 * recipient.", "Remote host said: 550 …", "Giving up on 192.0.2.153."). qmail-remote's own
 * phrases name the command ("does not like recipient" → RCPT, "but sender was rejected" →
 * MAIL, "failed on DATA command" → DATA). Markers after Sisimai::Lhost::X4, BSD 2-Clause.
 */
import { blockLhost, reasonIn } from "./block.ts";
import type { SmtpCommand } from "../types.ts";
import type { Lhost, LhostInput } from "./types.ts";

const OPENINGS =
  /He\/Her is not |unable to deliver your message to the following addresses|Su mensaje no pudo ser entregado|This is the machine generated message from mail service|This is the mail delivery agent at|Unable to deliver message to the following address|Unfortunately, your mail was not delivered to the following address:|Your mail message to the following address|Your message to the following addresses|We're sorry\./;

const base = blockLhost({
  name: "X4",
  detect: { body: OPENINGS },
  begin: OPENINGS,
  recipient: /^<([^\s<>]+@[^\s<>]+)>:\s*$/,
  following: "block",
  fields: { remoteMta: /(?:Giving up on |Connected to |remote host )\[?([^\s\]:]+?)\]?\.?(?:\s|:|$)/ },
});

/** qmail-remote.c's messages, by the command they report. */
const COMMANDS: ReadonlyArray<readonly [SmtpCommand, RegExp]> = [
  ["CONN", / but greeting failed\./],
  ["EHLO", / but my name was rejected\./],
  ["MAIL", / but sender was rejected\./],
  ["RCPT", / does not like recipient\./],
  ["DATA", / failed on DATA command| failed after I sent the message/],
];

/** qmail's and the qmail-ldap patch's own wording. */
const messages = [
  ["userunknown", ["Sorry, no mailbox here by that name"]],
  ["mailboxfull", ["disk quota exceeded"]],
  ["mesgtoobig", ["Message size exceeds fixed maximum message size:"]],
  ["exceedlimit", ["The message exeeded the maximum size the user accepts"]],
  ["hostunknown", ["Sorry, I couldn't find any host "]],
  ["systemfull", ["Requested action not taken: mailbox unavailable (not enough free space)"]],
  ["suspend", [/Mailaddress is administrative?le?y disabled/]],
  [
    "networkerror",
    [
      "Sorry, I wasn't able to establish an SMTP connection",
      "Sorry, I couldn't find a mail exchanger or IP address",
      "Sorry. Although I'm listed as a best-preference MX or A for that host",
    ],
  ],
  [
    "systemerror",
    [
      "bad interpreter: No such file or directory",
      "Automatic homedir creator crashed",
      "Illegal value in LDAP attribute",
      "LDAP attribute is not given but mandatory",
      "Timeout while performing search on LDAP server",
      "Too many results returned but needs to be unique",
      "Permanent error while executing qmail-forward",
      "Temporary error in automatic homedir creation",
      "Temporary error while executing qmail-forward",
      "Temporary failure in LDAP lookup",
      "Unable to contact LDAP server",
      "Unable to login into LDAP server, bad credentials",
    ],
  ],
  ["expired", ["this message has been in the queue too long."]],
] as const;

export const x4: Lhost = {
  ...base,
  detect: (input: LhostInput) =>
    (/^(?:failure notice|Permanent Delivery Failure)/.test(input.subject) ||
      (input.headers.get("received") ?? []).some((v) => /\(qmail \d+ invoked (?:for bounce|from network)\)/.test(v))) &&
    base.detect(input),
  read(input) {
    return base.read(input).map((r) => {
      const command = COMMANDS.find(([, re]) => re.test(r.diagnostic))?.[0] ?? r.command;
      const reason =
        command === "MAIL" ? "rejected" : command === "HELO" || command === "EHLO" ? "blocked" : reasonIn({ messages }, r.diagnostic);
      const { reason: _, command: __, ...rest } = r;
      return { ...rest, ...(command ? { command } : {}), ...(reason ? { reason } : {}) };
    });
  },
};
