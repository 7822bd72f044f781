/**
 * Amazon SES, sending (https://aws.amazon.com/ses/), its email bounce form: From
 * MAILER-DAEMON@email-bounces.amazonses.com, headers X-SES-Outgoing (or X-AWS-Outgoing),
 * opening "The following message to <address> was undeliverable." or "An error occurred
 * while trying to deliver the mail to the following recipients:", then a
 * message/delivery-status part: per recipient `Final-Recipient:`, `Status:`, `Remote-MTA:`
 * and `Diagnostic-Code:` holding the remote reply. SES's own "Delivery expired" means expired.
 * (The JSON notifications are the webhook reader's.) Markers after Sisimai::Lhost::AmazonSES,
 * BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { dsnFields, unfold } from "./dsnfields.ts";
import type { Lhost } from "./types.ts";

const format = blockLhost({
  name: "AmazonSES",
  detect: {
    body: /^(?:The following message to <[^>\s]+> was undeliverable|An error occurred while trying to deliver the mail to the following recipients)/m,
  },
  ...dsnFields,
  messages: [["expired", ["Delivery expired"]]],
});

const sesHeader = (input: Parameters<Lhost["detect"]>[0]) =>
  (input.headers.get("x-ses-outgoing") ?? []).length > 0 ||
  (input.headers.get("x-aws-outgoing") ?? []).length > 0 ||
  /@email-bounces\.amazonses\.com/i.test(input.from);

export const amazonses: Lhost = {
  name: "AmazonSES",
  detect: (input) => sesHeader(input) && !/Amazon WorkMail/i.test((input.headers.get("x-mailer") ?? []).join(" ")) && format.detect(input),
  read: (input) => format.read(input).map((r) => ({ ...r, diagnostic: unfold(r.diagnostic) })),
};
