/**
 * Unknown MTA #2 (Sisimai's X2): From "MAILER-DAEMON@…" or Subject "Delivery failure",
 * "failure delivery", "failed delivery". After "Message from example.com." and "Unable to
 * deliver message to the following address(es)." each recipient is a line `<user@example.com>:`
 * and the error on the lines below ("This user doesn't have a example.com account …"), until
 * "--- Original message follows.". Markers after Sisimai::Lhost::X2, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "X2",
  detect: { body: /^Unable to deliver message to the following address/m },
  begin: /^Unable to deliver message to the following address.*$/m,
  recipient: /^<([^\s<>]+@[^\s<>]+)>:\s*$/,
  following: "block",
});

export const x2: Lhost = {
  ...base,
  detect: (input) =>
    (/MAILER-DAEMON@/i.test(input.from) || /^(?:Delivery failure|failure delivery|failed delivery)/.test(input.subject)) &&
    base.detect(input),
};
