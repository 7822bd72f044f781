/**
 * SendGrid (https://sendgrid.com/), its email bounce: Return-Path <apps@sendgrid.net>,
 * Subject "Undelivered Mail Returned to Sender", opening "This is an automatically generated
 * message from SendGrid.". Each recipient is a line
 * `<account>:<id>:<address> : <sending ip> : <mx host>:[<mx ip>] :`, the remote reply
 * indented on the next, ending "in RCPT TO" / "in MAIL FROM" / "end of DATA"; a
 * message/delivery-status part repeats `Final-Recipient:`, `Status:`, `Diagnostic-Code:`.
 * Markers after Sisimai::Lhost::SendGrid, BSD 2-Clause.
 */
import type { SmtpCommand } from "../types.ts";
import { blockLhost } from "./block.ts";
import { dsnFields, unfold } from "./dsnfields.ts";
import type { Lhost, LhostRecipient } from "./types.ts";

const OPENING = /^This is an automatically generated message from SendGrid\.\s*$/m;

const prose = blockLhost({
  name: "SendGrid",
  detect: { body: OPENING },
  begin: OPENING,
  end: /^Content-Type:|^X-SendGrid-QueueID:|^Final-Recipient:/im,
  recipient: /^[^\s<>]*:?<([^<>\s]+@[^<>\s]+)>\s*:\s*\S+\s*:/,
  following: "paragraph",
  fields: {
    remoteMta: /:\s*([a-z0-9.-]+\.[a-z]{2,}):\[[\d.:a-f]+\]/i,
    diagnostic: /^[ \t]+(\S.*?)(?:\s+(?:in|end of)\s+(?:RCPT TO|MAIL FROM|DATA)\b.*)?$/im,
  },
});

const fields = blockLhost({ name: "SendGrid", detect: { body: OPENING }, ...dsnFields });

function commandOf(text: string): SmtpCommand | undefined {
  const found = /\b(?:in|end of)\s+(RCPT|MAIL|DATA)\b/i.exec(text)?.[1]?.toUpperCase();
  return found as SmtpCommand | undefined;
}

export const sendgrid: Lhost = {
  name: "SendGrid",
  detect: (input) => OPENING.test(input.report),
  read: (input) => {
    const fromProse = prose.read(input);
    const fromFields = fields.read(input);
    const list: LhostRecipient[] = fromProse.length ? fromProse : fromFields;
    return list.map((r) => {
      const other = fromFields.find((f) => f.recipient === r.recipient);
      const at = input.report.toLowerCase().indexOf(r.recipient.toLowerCase());
      const end = at < 0 ? -1 : input.report.indexOf("\n\n", at);
      const command = (at < 0 ? undefined : commandOf(input.report.slice(at, end < 0 ? undefined : end))) ?? r.command;
      return {
        ...r,
        diagnostic: unfold(r.diagnostic),
        ...(command ? { command } : {}),
        ...(!r.status && other?.status ? { status: other.status } : {}),
      };
    });
  },
};
