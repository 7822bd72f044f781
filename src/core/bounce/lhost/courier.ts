/**
 * Courier MTA (https://www.courier-mta.org/): "NOTICE: mail delivery status." from "Courier mail
 * server at <host>". After "UNDELIVERABLE MAIL" (or "DELAYED MAIL"), each recipient is a line
 * `<address>:`, then the host it talked to and the transcript (`>>>` what Courier sent, `<<<`
 * the reply). A DSN part follows, whose diagnostic keeps only the reply.
 */
import { blockLhost } from "./block.ts";

export const courier = blockLhost({
  name: "Courier",
  detect: { from: /courier mail server at /i },
  begin: /^\s*(?:UNDELIVERABLE|DELAYED) MAIL\s*$/m,
  end: /^-{20,}\s*$/m,
  recipient: /^<([^<>\s]+@[^<>\s]+)>:\s*$/,
  following: "block",
  fields: {
    command: />>> ([A-Z]{4})\b/,
    remoteMta: /^\s+([a-z0-9.-]+\.[a-z]{2,}) \[[\d.:a-f]+\]:/im,
    diagnostic: /^<<< (.+)$/m,
  },
  messages: [
    ["hostunknown", ["no such domain", "unknown host"]],
    ["userunknown", ["user unknown", "no such user"]],
  ],
  delayed: /^\s*DELAYED MAIL\s*$/m,
});
