/**
 * Amazon WorkMail (https://aws.amazon.com/workmail/): sent through SES (X-SES-Outgoing) with
 * "X-Mailer: Amazon WorkMail" (or X-Original-Mailer); a human part, then after "Technical
 * report:" the RFC 3464 fields per recipient: `Final-Recipient:`, `Status:`, `Remote-MTA:`,
 * `Diagnostic-Code:` (the remote reply, or WorkMail's own "554 4.4.7 Message expired: unable
 * to deliver in 840 minutes." / "<421 4.4.2 Connection timed out>").
 * Markers after Sisimai::Lhost::AmazonWorkMail, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { dsnFields, unfold } from "./dsnfields.ts";
import type { Lhost } from "./types.ts";

const format = blockLhost({
  name: "AmazonWorkMail",
  detect: { header: ["x-ses-outgoing", /./] },
  begin: /^Technical report:\s*$/m,
  ...dsnFields,
  messages: [["expired", ["Message expired: unable to deliver in"]]],
});

const mailer = (input: Parameters<Lhost["detect"]>[0]) =>
  [...(input.headers.get("x-mailer") ?? []), ...(input.headers.get("x-original-mailer") ?? [])].some((v) =>
    /^\s*Amazon WorkMail\b/i.test(v),
  );

export const amazonworkmail: Lhost = {
  name: "AmazonWorkMail",
  detect: (input) =>
    mailer(input) && ((input.headers.get("x-ses-outgoing") ?? []).length > 0 || /^Technical report:\s*$/m.test(input.report)),
  read: (input) => format.read(input).map((r) => ({ ...r, diagnostic: unfold(r.diagnostic) })),
};
