/**
 * qmail (https://cr.yp.to/qmail.html): qmail-send writes "Hi. This is the qmail-send program at
 * <host>." (Subject "failure notice"), then after "I'm afraid I wasn't able to deliver your
 * message to the following addresses." each recipient as a line `<address>:` followed by its
 * paragraph: qmail-remote's own account of the session ("<ip> does not like recipient.",
 * "Connected to <ip> but sender was rejected.", "... failed after I sent the message."), the
 * remote reply after "Remote host said:", and "Giving up on <ip>."; or qmail-local's own
 * message ("Sorry, no mailbox here by that name. (#5.1.1)"). The returned message follows
 * "--- Below this line is a copy of the message.". The command is implied by qmail-remote's
 * sentence, not written. Markers after Sisimai::Lhost::qmail, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "qmail",
  detect: { body: /^Hi\. This is the qmail(?:-send)? program/m },
  begin: /^Hi\. This is the qmail.*$/m,
  end: /^--- (?:Below this line is a copy of the message|Enclosed are the original headers)/m,
  recipient: /^<([^<>\s]+@[^<>\s]+)>:\s*$/,
  fields: {
    diagnostic: /^Remote host said:\s*(.+)$/m,
    remoteMta: /^(?:Giving up on|Connected to) ([0-9a-z.:-]*[0-9a-z])\.?(?:\s|$)/im,
  },
  messages: [
    ["userunknown", ["no mailbox here by that name"]],
    ["mailboxfull", ["disk quota exceeded"]],
    ["mesgtoobig", ["Message size exceeds fixed maximum message size:"]],
    ["hostunknown", ["Sorry, I couldn't find any host "]],
    ["systemfull", ["Requested action not taken: mailbox unavailable (not enough free space)"]],
    ["suspend", [/Mailaddress is administrative?le?y disabled/i]],
    ["exceedlimit", ["The message exeeded the maximum size the user accepts"]],
    [
      "networkerror",
      [
        "Sorry, I wasn't able to establish an SMTP connection",
        "Sorry, I couldn't find a mail exchanger or IP address",
        "Sorry. Although I'm listed as a best-preference MX or A for that host",
      ],
    ],
    ["expired", ["this message has been in the queue too long."]],
  ],
});

/** qmail-remote's sentences, each naming the command the remote host refused. */
const COMMANDS: ReadonlyArray<readonly [RegExp, "CONN" | "EHLO" | "MAIL" | "RCPT" | "DATA"]> = [
  [/ but greeting failed\./, "CONN"],
  [/ but my name was rejected\./, "EHLO"],
  [/ but sender was rejected\./, "MAIL"],
  [/ does not like recipient\./, "RCPT"],
  [/ failed on DATA command| failed after I sent the message/, "DATA"],
];

export const qmail: Lhost = {
  name: "qmail",
  detect: base.detect,
  read(input) {
    const section = input.report.split("\n");
    return base.read(input).map((r) => {
      // The paragraph of this recipient: from its line to the next blank line.
      const at = section.findIndex((l) => l.trim().toLowerCase() === `<${r.recipient.toLowerCase()}>:`);
      const lines: string[] = [];
      for (let i = at + 1; at >= 0 && i < section.length && section[i]?.trim() !== ""; i++) lines.push(section[i] ?? "");
      const paragraph = lines.join("\n");
      const command = COMMANDS.find(([re]) => re.test(paragraph))?.[1] ?? r.command;
      const diagnostic = r.diagnostic || paragraph.trim();
      const status = /\(#([245]\.\d\.\d{1,3})\)/.exec(paragraph)?.[1];
      return {
        ...r,
        diagnostic,
        ...(command ? { command } : {}),
        ...(status && !r.status ? { status } : {}),
      };
    });
  },
};
