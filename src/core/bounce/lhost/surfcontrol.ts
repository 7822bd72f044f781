/**
 * Websense SurfControl E-mail Filter: X-Mailer "SurfControl E-mail Filter" (with
 * X-SEF-Processed). After "Your message could not be sent." and the number of attempts, each
 * recipient is "Addressed To: user@example.com", then the attempt's date, "Failed to send to
 * identified host," and `user@example.com: [192.0.2.5], 550 …` (the host and its reply), then
 * "--- Message non-deliverable.". Markers after Sisimai::Lhost::SurfControl, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "SurfControl",
  detect: { header: ["x-mailer", /^\s*SurfControl E-mail Filter/] },
  begin: /^Your message could not be sent\./m,
  recipient: /^Addressed To:\s*(\S+@\S+)/,
  following: "block",
  fields: {
    diagnostic: /^\S+@\S+: \[[^\]]+\],\s*(.+)$/m,
    remoteMta: /^\S+@\S+: \[([^\]]+)\],/m,
  },
});

export const surfcontrol: Lhost = { ...base, detect: (input) => input.headers.has("x-sef-processed") && base.detect(input) };
