/**
 * Ipswitch IMail Server: Subject "Undeliverable Mail …" or X-Mailer "<SMTP32 v…>". Each failed
 * recipient is one line, IMail's own reason then the address ("Unknown user: user@example.com",
 * "User mailbox exceeds allowed size: user@example.com") or "undeliverable to user@example.com";
 * a remote reply, when there was one, follows "Body of message generated response:". The
 * report ends at "Original message follows.". Markers after Sisimai::Lhost::IMailServer, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost, LhostInput } from "./types.ts";

const base = blockLhost({
  name: "IMailServer",
  detect: { body: /^(?:[A-Za-z][^:\n]{7,}: |undeliverable to )<?[^\s<>@]+@[^\s<>]+>?\s*$/m },
  recipient: /^(?:[A-Za-z][^:\n]{7,}: |undeliverable to )<?([^\s<>@]+@[^\s<>]+?)>?\s*$/,
  following: "paragraph",
  fields: { diagnostic: /^([\s\S]+)$/ },
  messages: [
    ["hostunknown", ["Unknown host"]],
    ["userunknown", ["Unknown user", "Invalid final delivery userid"]],
    ["mailboxfull", ["User mailbox exceeds allowed size"]],
    ["expired", [/Delivery failed \d+ attempts/i]],
  ],
});

export const imailserver: Lhost = {
  ...base,
  detect: (input: LhostInput) =>
    (/^Undeliverable Mail /.test(input.subject) || (input.headers.get("x-mailer") ?? []).some((v) => /^\s*<SMTP32 v/.test(v))) &&
    base.detect(input),
  read(input) {
    // The remote server's reply, when IMail quotes it, is about every recipient of the report.
    const response = /Body of message generated response:\s*\n(?:\s*\n)*(.+)/.exec(input.report)?.[1]?.trim();
    return base.read(input).map((r) => (response ? { ...r, diagnostic: `${r.diagnostic}\n${response}` } : r));
  },
};
