/**
 * Sun Java System / Oracle Communications Messaging Server: a MIME boundary "Boundary_(ID_…)"
 * or Subject "Delivery Notification: …". After "This report relates to a message you sent with
 * the following header fields:" and "Your message cannot be delivered to the following
 * recipients:", each recipient is a block of indented fields: `Recipient address:`,
 * `Original address:`, `Reason:` (the server's summary), `Diagnostic code: smtp;550 5.1.1 …`
 * and `Remote system: dns;mx.example.jp (TCP|…)`. A DSN part usually follows. Markers after
 * Sisimai::Lhost::MessagingServer, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "MessagingServer",
  detect: { body: /^This report relates to a message you sent with the following header fields:/m },
  begin: /^This report relates to a message you sent with the following header fields:/m,
  recipient: /^\s+Recipient address:\s*(\S+)/,
  following: "paragraph",
  fields: {
    diagnostic: /^\s*Diagnostic code:\s*[\w-]+;\s*(.+)$/m,
    remoteMta: /^\s*Remote system:\s*dns;\s*([^\s(]+)/m,
  },
});

export const messagingserver: Lhost = {
  ...base,
  detect: (input) =>
    ((input.headers.get("content-type") ?? []).some((v) => v.includes("Boundary_(ID_")) ||
      /^Delivery Notification: /.test(input.subject)) &&
    base.detect(input),
  read(input) {
    // Without a diagnostic code, the server's own "Reason:" line is what it says.
    return base.read(input).map((r) => {
      if (!/^\s*(?:Original address|Reason|Remote system):/m.test(r.diagnostic)) return r;
      const reason = /^\s*Reason:\s*(.+)$/m.exec(r.diagnostic)?.[1]?.trim();
      return reason ? { ...r, diagnostic: reason } : r;
    });
  },
};
