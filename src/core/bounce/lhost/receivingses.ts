/**
 * Amazon SES, receiving (https://aws.amazon.com/ses/): a bounce a receipt rule's Bounce
 * action sends, X-SES-Outgoing, opening "This message could not be delivered.", then the
 * RFC 3464 fields per recipient (`Final-Recipient:`, `Status:`, `Diagnostic-Code:`). The
 * diagnostic is the rule's template message; SES's templates name the reason ("Mailbox does
 * not exist", "Mailbox full", "Message too large", "Message content rejected").
 * Markers after Sisimai::Lhost::ReceivingSES, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { dsnFields, unfold } from "./dsnfields.ts";
import type { Lhost } from "./types.ts";

const format = blockLhost({
  name: "ReceivingSES",
  detect: { header: ["x-ses-outgoing", /./], body: /^This message could not be delivered\.\s*$/m },
  ...dsnFields,
  messages: [
    ["filtered", ["Mailbox does not exist"]],
    ["mesgtoobig", ["Message too large"]],
    ["mailboxfull", ["Mailbox full"]],
    ["contenterror", ["Message content rejected"]],
  ],
});

export const receivingses: Lhost = {
  name: "ReceivingSES",
  detect: (input) => format.detect(input),
  read: (input) => format.read(input).map((r) => ({ ...r, diagnostic: unfold(r.diagnostic) })),
};
