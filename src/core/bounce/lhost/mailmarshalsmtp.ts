/**
 * Trustwave Secure Email Gateway, formerly MailMarshal SMTP: Subject `Undeliverable Mail: "…"`.
 * The report quotes the message ("Your message:" with From and Subject), gives the reply after
 * "Could not be delivered because of", then lists "The following recipients were affected:",
 * one address per line indented by four spaces, and ends with "Additional Information"
 * (Sender-MTA, Remote-MTA, Reporting-MTA). The one reply is about every listed recipient.
 * Markers after Sisimai::Lhost::MailMarshalSMTP, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { commandIn } from "../codes.ts";
import type { Lhost } from "./types.ts";

export const mailmarshalsmtp: Lhost = {
  name: "MailMarshalSMTP",
  detect: (input) => /^Undeliverable Mail: "/.test(input.subject) && /^Could not be delivered because of/m.test(input.report),
  read(input) {
    const text = input.report;
    const because = /^Could not be delivered because of\s*$([\s\S]*?)^The following recipients were affected:/m.exec(text);
    const affected = /^The following recipients were affected:[^\n]*\n((?:[ \t]+\S+@\S+[ \t]*\n?)+)/m.exec(text);
    if (!affected?.[1]) return [];
    const diagnostic = (because?.[1] ?? "").trim().replace(/\s*\n\s*/g, " ");
    const remoteMta = /^Remote-MTA:[ \t]+<([^>]+)>/m.exec(text)?.[1];
    const command = commandIn(diagnostic);
    return affected[1]
      .split("\n")
      .map((line) => addressIn(line))
      .filter((a): a is string => !!a)
      .map((recipient) => ({
        recipient,
        diagnostic,
        ...(command ? { command } : {}),
        ...(remoteMta ? { remoteMta } : {}),
      }));
  },
};
