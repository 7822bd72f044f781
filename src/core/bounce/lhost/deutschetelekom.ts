/**
 * Deutsche Telekom / T-Online (https://www.telekom.com/, @t-online.de, @magenta.de), whose
 * bounces keep Smail 3's layout (http://www.weird.com/~woods/projects/smail.html): From
 * "Mail Delivery System <Mailer-Daemon@t-online.de>", Subject "mail failed, …", the text in
 * banner-framed sections: "|---- Message log follows: ----|" (Smail's log lines), then
 * "|---- Failed addresses follow: ----|" with, per recipient, either " <address>" and the
 * reply indented on the next line (T-Online) or " address ... failed: <error>" on one line
 * (Smail 3), then "|---- Message header follows: ----|" (or "Message text follows").
 * Markers after Sisimai::Lhost::DeutscheTelekom, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const FAILED = /^\|-+ Failed addresses follow: -+\|\s*$/m;

const format = blockLhost({
  name: "DeutscheTelekom",
  detect: { body: FAILED },
  begin: FAILED,
  end: /^\|-+ Message (?:header|text) follows: -+\|/m,
  recipient: /^ <?([^\s<>]+@[^\s<>]+?)>?(?:\s*$| \.\.\. (?:failed: )?(.+)$)/,
  following: "paragraph",
  messages: [["hostunknown", [/\.\.\. (?:failed: )?unknown host/i]]],
});

export const deutschetelekom: Lhost = {
  name: "DeutscheTelekom",
  detect: (input) => FAILED.test(input.report),
  read: (input) => format.read(input).map((r) => ({ ...r, diagnostic: r.diagnostic.replace(/\s*\n\s*/g, " ").trim() })),
};
