/**
 * Aol Mail (https://mail.aol.com/): Postfix-based, marked by X-AOL-IP (and X-AOL-VSS-INFO,
 * x-aol-sid, X-Outbound-Mail-Relay-Queue-ID). Postfix's paragraphs (`<address>: host <mx>[<ip>]
 * said: <reply> (in reply to RCPT TO command)`) and an RFC 3464 part. Its own words: "Host or
 * domain name not found", "type=MX: Malformed or unexpected name server reply". Markers after
 * Sisimai::Lhost::Aol, BSD 2-Clause.
 */
import { reasonIn } from "./block.ts";
import { dsnTextRecipients } from "./dsntext.ts";
import { fromDsn } from "./fromdsn.ts";
import { postfix } from "./postfix.ts";
import type { Lhost } from "./types.ts";

const MESSAGES = [
  ["hostunknown", ["Host or domain name not found"]],
  ["notaccept", ["type=MX: Malformed or unexpected name server reply"]],
] as const;

export const aol: Lhost = {
  name: "Aol",
  detect: (input) =>
    (input.headers.get("x-aol-ip") ?? []).length > 0 && /Final-Recipient:|This is the mail system at host /i.test(input.report),
  read(input) {
    const prose = postfix.read(input);
    const read = prose.length ? prose : dsnTextRecipients(input.report).map((r) => fromDsn(r));
    return read.map((r) => {
      const reason = reasonIn({ messages: MESSAGES }, r.diagnostic);
      return reason ? { ...r, reason } : r;
    });
  },
};
