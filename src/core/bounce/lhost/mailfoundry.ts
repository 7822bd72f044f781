/**
 * MailFoundry: Subject "Message delivery has failed", a Received header "(MAILFOUNDRY) id".
 * Each recipient is a line "Unable to deliver message to: <user@example.org>", then "Delivery
 * failed for the following reason:" and "Server mx.example.org[192.0.2.1] failed with: 550 …",
 * then whether the failure is permanent. Markers after Sisimai::Lhost::MailFoundry, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";

export const mailfoundry = blockLhost({
  name: "MailFoundry",
  detect: { subject: /^Message delivery has failed$/, header: ["received", /\(MAILFOUNDRY\) id/] },
  recipient: /^Unable to deliver message to: <([^\s<>]+@[^\s<>]+)>/,
  following: "paragraph",
  fields: {
    diagnostic: /^Delivery failed for the following reason:\s*\n(.+)$/m,
    remoteMta: /^Server ([^\s[]+)\[/m,
  },
});
