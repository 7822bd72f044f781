/**
 * Mimecast (https://www.mimecast.com/): Subject "[Postmaster] Email Delivery Failure",
 * Message-Id "<…@…mimecast.lan>". "An email that you attempted to send to the following
 * address could not be delivered:" and the address on a line "-- <address>"; then "The
 * problem appears to be :" and "Additional information follows :", each followed by a line
 * "-- <text>" (Mimecast's summary, then the reply or its own error); a
 * message/delivery-status part may repeat `Status:` and `Diagnostic-Code:`.
 * Markers after Sisimai::Lhost::Mimecast, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost, LhostInput } from "./types.ts";

const format = blockLhost({
  name: "Mimecast",
  detect: { body: /^-- \S+@\S+\s*$/m },
  recipient: /^-- ([^\s@]+@[^\s@]+)\s*$/,
  following: "block",
  fields: {
    status: /^Status:\s*([245]\.\d{1,3}\.\d{1,3})/im,
    diagnostic: /^Additional information follows\s*:\s*\n-- (.+)$/im,
  },
});

function fromMimecast(input: LhostInput): boolean {
  return /Email Delivery Failure/i.test(input.subject) || (input.headers.get("message-id") ?? []).some((v) => /\.mimecast\.lan>/i.test(v));
}

export const mimecast: Lhost = {
  name: "Mimecast",
  detect: (input) => fromMimecast(input) && format.detect(input),
  read: (input) =>
    format.read(input).map((r) => {
      // Without "Additional information", Mimecast's own "-- " lines are the diagnostic.
      if (!/^--/m.test(r.diagnostic)) return r;
      const lines = r.diagnostic
        .split("\n")
        .filter((l) => /^-- /.test(l))
        .map((l) => l.slice(3).trim());
      return { ...r, diagnostic: lines.join(" ") };
    }),
};
