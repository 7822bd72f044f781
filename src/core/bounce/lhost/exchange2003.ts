/**
 * Microsoft Exchange Server 5.5–2003 (its Internet Mail Service): recognised by an
 * X-MS-Embedded-Report header, an X-Mailer "Internet Mail Service (…)" / "Microsoft Exchange
 * Server Internet Mail Connector", or X-MimeOLE "Produced By Microsoft Exchange". After "did
 * not reach the following recipient(s):" each recipient is a line `<address> on <date>`,
 * followed by indented lines: Exchange's summary ("The recipient name is not recognized"), the
 * MTS-ID, and an `MSEXCH:…` line whose hexadecimal code in parentheses names the error. No SMTP
 * command or status. Markers and codes after Sisimai::Lhost::Exchange2003, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost, LhostInput } from "./types.ts";

const base = blockLhost({
  name: "Exchange2003",
  detect: { body: /did not reach the following recipient\(s\):/ },
  begin: /did not reach the following recipient\(s\):/,
  recipient: /^\s*(?:.*?SMTP=)?<?([^\s<>@]+@[^\s<>]+?)>? on /i,
  following: "block",
  fields: { diagnostic: /^[ \t]+((?!The MTS-ID)(?!MSEXCH:)\S.*)$/m },
  messages: [
    ["userunknown", [/\(000C05A6\)/]],
    ["systemerror", [/\(00010256\)/, /\(000D06B5\)/]],
    ["networkerror", [/\(00120270\)/]],
    ["contenterror", [/\(00050311\)/, /\(000502CC\)/]],
    ["securityerror", [/\(000B0981\)/]],
    ["filtered", [/\(000C0595\)/]],
  ],
});

const has = (input: LhostInput, name: string, re: RegExp) => (input.headers.get(name) ?? []).some((v) => re.test(v));

export const exchange2003: Lhost = {
  ...base,
  detect: (input) =>
    (input.headers.has("x-ms-embedded-report") ||
      has(input, "x-mailer", /^\s*(?:Internet Mail Service \(|Microsoft Exchange Server Internet Mail Connector)/) ||
      has(input, "x-mimeole", /^\s*Produced By Microsoft Exchange/) ||
      has(input, "received", / with Internet Mail Service \(/)) &&
    base.detect(input),
};
