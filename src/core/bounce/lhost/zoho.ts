/**
 * Zoho Mail (https://www.zoho.com/mail/): reports carrying X-ZohoMail. "This message was created
 * automatically by mail delivery software." then per recipient one line "<address> Invalid
 * Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <address>... User Unknown", or, for a host that
 * did not answer, "[Status: Error, Address: <address>, ResponseCode 421, , Host not reachable.]"
 * (Zoho's own words: the retries ran out). Markers after Sisimai::Lhost::Zoho, BSD 2-Clause.
 */
import { addressIn, addressesIn } from "../address.ts";
import { enhancedCodesIn } from "../codes.ts";
import { reasonIn } from "./block.ts";
import { oneLine } from "./tidy.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const START = /^This message was created automatically by mail delivery\b.*$/m;
const MESSAGES = [["expired", ["Host not reachable"]]] as const;

function read(input: LhostInput): LhostRecipient[] {
  const start = START.exec(input.report);
  if (!start) return [];
  const out: LhostRecipient[] = [];
  for (const raw of input.report.slice(start.index + start[0].length).split("\n")) {
    const line = raw.trim();
    const invalid = /^(\S+@\S+)\s+(.*ERROR_CODE\s*:.*)$/.exec(line);
    const status = /^\[Status: .*\]$/.test(line) ? line : undefined;
    const recipient = invalid ? addressIn(invalid[1]!) : status ? addressesIn(status)[0] : undefined;
    if (!recipient) continue;
    const diagnostic = oneLine(invalid ? invalid[2]! : status!.replace(/^\[|\]$/g, ""));
    const code = enhancedCodesIn(diagnostic.replace(/ERROR_CODE :(\d)\.(\d)\.\s?(\d)/, "ERROR_CODE :$1.$2.$3"))[0];
    const reason = reasonIn({ messages: MESSAGES }, diagnostic);
    out.push({ recipient, diagnostic, ...(code ? { status: code } : {}), ...(reason ? { reason } : {}) });
  }
  return out;
}

export const zoho: Lhost = {
  name: "Zoho",
  detect: (input) => (input.headers.get("x-zohomail") ?? []).length > 0 && START.test(input.report),
  read,
};
