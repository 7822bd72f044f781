/**
 * IBM (HCL) Domino: Subject "DELIVERY FAILURE: …". The report says "Your message", quotes its
 * Subject, then "was not delivered to:" with the recipient on a line indented by two spaces,
 * then "because:" and Domino's own reason on the next line ("User … not listed in Domino
 * Directory"). A DSN part may follow; Domino writes neither the SMTP command nor a status in
 * the prose. Markers after Sisimai::Lhost::Domino, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";

export const domino = blockLhost({
  name: "Domino",
  detect: { subject: /^DELIVERY FAILURE:/, body: /^was not delivered to:\s*$/m },
  begin: /^Your message\s*$/m,
  recipient: /^ {2}<?([^\s<>@]+@[^\s<>]+?)>?\s*$/,
  following: "block",
  fields: { diagnostic: /^because:\s*\n(?:\s*\n)*\s*(.+)$/m },
  messages: [
    [
      "userunknown",
      ["not listed in Domino Directory", "not listed in public Name & Address Book", "Domino ディレクトリには見つかりません"],
    ],
    ["filtered", ["Cannot route mail to user"]],
    ["systemerror", ["Several matches found in Domino Directory"]],
  ],
});
