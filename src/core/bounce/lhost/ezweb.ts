/**
 * au EZweb (ezweb.ne.jp, au.com): "Mail System Error - Returned Mail" from Postmaster@ezweb.ne.jp
 * (or Postmaster@au.com), relayed by "ezweb.ne.jp (EZweb Mail)" hosts. EZweb's own explanation
 * comes first ("The user(s) account is disabled.", "The user(s) account is temporarily over
 * quota.", "Your message was not delivered within 0 days and 1 hours.", "Each of the following
 * recipients was rejected by a remote mail server."), then each recipient as `<address>` (or
 * `<address>: <reply>`, or "   Recipient: <address>" followed by ">>> RCPT TO:<address>" and
 * "<<< 550 ..."). Markers after Sisimai::Lhost::EZweb, BSD 2-Clause.
 */
import { addressIn } from "../address.ts";
import { commandIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import { reasonIn } from "./block.ts";
import { oneLine } from "./tidy.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

const MESSAGES = [
  ["mailboxfull", ["The user(s) account is temporarily over quota"]],
  ["suspend", ["The user(s) account is disabled.", "The user(s) account is temporarily limited."]],
  ["expired", ["Your message was not delivered within "]],
] as const;
const EXPLANATION = /The user\(s\) |Your message was not delivered within |Each of the following recipients/;

function detect(input: LhostInput): boolean {
  const received = input.headers.get("received") ?? [];
  const messageId = (input.headers.get("message-id") ?? [])[0] ?? "";
  const hits = [
    () => /Postmaster@(?:ezweb\.ne\.jp|au\.com)/i.test(input.from),
    () => input.subject.trim() === "Mail System Error - Returned Mail",
    () => received.some((v) => v.includes("ezweb.ne.jp (EZweb Mail) with") || v.includes(".au.com (")),
    () => /\.ezweb\.ne\.jp>\s*$|\.au\.com>\s*$/.test(messageId),
  ];
  // Two hits decide: stop at the second, or once too few checks are left to make two.
  let count = 0;
  for (const [k, hit] of hits.entries()) {
    if (count + (hits.length - k) < 2) return false;
    if (hit() && ++count === 2) return true;
  }
  return false;
}

function read(input: LhostInput): LhostRecipient[] {
  const lines = input.report.split("\n");
  const begin = lines.findIndex((l) => EXPLANATION.test(l) || /^<[^\s<>]+@[^\s<>]+>/.test(l));
  if (begin < 0) return [];
  const explanation: string[] = [];
  const out: Array<{ recipient: string; text: string[]; command?: SmtpCommand }> = [];
  for (const raw of lines.slice(begin)) {
    if (/^-{20,}\s*$/.test(raw)) break;
    const line = raw.trim();
    if (!line) continue;
    const rcpt = /^<([^\s<>]+@[^\s<>]+)>:?\s*(.*)$/.exec(raw) ?? /^\s+Recipient: <([^\s<>]+@[^\s<>]+)>/.exec(raw);
    const address = rcpt?.[1] && addressIn(rcpt[1]);
    if (address) out.push({ recipient: address, text: rcpt?.[2] ? [rcpt[2]] : [] });
    else if (EXPLANATION.test(line) || (!out.length && !/^[<>]/.test(line))) explanation.push(line);
    else if (/^>>> /.test(line)) {
      const current = out[out.length - 1];
      const command = commandIn(line);
      if (current && command) current.command = command;
    } else out[out.length - 1]?.text.push(line.replace(/^<<< /, ""));
  }
  const filtered = (input.headers.get("x-spasign") ?? []).some((v) => v.trim().toUpperCase() === "NG");
  return out.map(({ recipient, text, command }) => {
    const diagnostic = oneLine(text.join(" ") || explanation.join(" "));
    const reason = filtered ? "filtered" : reasonIn({ messages: MESSAGES }, explanation.join(" "));
    return { recipient, diagnostic, ...(command ? { command } : {}), ...(reason ? { reason } : {}) };
  });
}

export const ezweb: Lhost = { name: "EZweb", detect, read };
