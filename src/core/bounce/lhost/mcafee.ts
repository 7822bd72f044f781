/**
 * McAfee Email Gateway / Email and Web Security appliance: X-NAI-Header "Modified by McAfee …",
 * Subject "Delivery Status". Under "--- The following addresses had delivery problems ---"
 * each recipient is one line, the address in angle brackets and the appliance's summary in
 * parentheses: `<user@example.com>   (User unknown user@example.com)`. A DSN part follows.
 * Markers after Sisimai::Lhost::McAfee, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";

export const mcafee = blockLhost({
  name: "McAfee",
  detect: { subject: /^Delivery Status$/, header: ["x-nai-header", /Modified by McAfee/] },
  begin: /--- The following addresses had delivery problems ---/,
  recipient: /^<([^\s<>]+@[^\s<>]+)>[ \t]+\((.+)\)\s*$/,
  following: "none",
  messages: [
    ["userunknown", [/ User \(.+@.+\) unknown\. /, /550 Unknown user [^ ]+@[^ ]+/, /550 <.+?@.+?>\.+ User not exist/, /^User unknown /i]],
  ],
});
