/**
 * Yahoo! Mail (https://mail.yahoo.com): a qmail-like report with Yahoo's X-YMailISG header.
 * After "Sorry, we were unable to deliver your message to the following address.", each
 * recipient is a line "<address>:", then "Remote host said: <reply> [RCPT_TO]" (the reply
 * and the bracketed command sometimes on lines of their own). "--- Below this line is a
 * copy of the message." ends it. Markers after Sisimai::Lhost::Yahoo, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const format = blockLhost({
  name: "Yahoo",
  detect: { body: /^Sorry, we were unable to deliver your message to the following address/m },
  begin: /^Sorry, we were unable to deliver your message\b.*$/m,
  end: /^-+ ?Below this line is a copy of the message/im,
  recipient: /^<([^<>\s]+@[^<>\s]+)>:\s*$/,
  following: "paragraph",
  fields: {
    command: /\[(RCPT|MAIL|DATA|HELO|EHLO)(?:_TO|_FROM)?\]/,
    diagnostic: /Remote host said:\s*([^[]+?)\s*(?:\[[A-Z_]+\]|$)/,
  },
});

export const yahoo: Lhost = {
  name: "Yahoo",
  // Its own header, or its sentence in a message from Yahoo.
  detect: (input) =>
    (input.headers.get("x-ymailisg") ?? []).length > 0
      ? format.detect(input) || /Sorry, we were unable to deliver/.test(input.report)
      : /@(?:[\w-]+\.)*yahoo(?:mail)?\.[a-z.]+\b/i.test(input.from) && format.detect(input),
  read: (input) => format.read(input),
};
