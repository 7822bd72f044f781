/**
 * au by KDDI (https://www.au.kddi.com/): reports from no-reply@<host>.dion.ne.jp or relayed by
 * ezweb.ne.jp / au.com hosts. After "Your mail sent on: <date>" (or "Your mail attempted to be
 * delivered on: <date>") each recipient is an indented line "Could not be delivered to:
 * <address>", followed by KDDI's own reason ("As their mailbox is full.", "As the remote domain
 * doesnt exist.", "Due to the following SMTP relay error"). No command or status is written.
 * A report carrying X-SPASIGN: NG was filtered. Markers after Sisimai::Lhost::KDDI, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import { tidy } from "./tidy.ts";
import type { Lhost, LhostInput } from "./types.ts";

const base = tidy(
  blockLhost({
    name: "KDDI",
    detect: { body: /^(?:Your mail sent on:|Your mail attempted to be delivered on:)/m },
    begin: /^(?:Your mail sent on:|Your mail attempted to be delivered on:).*$/m,
    recipient: /^\s*Could not be delivered to:\s*<([^<>\s]+@[^<>\s]+)>/,
    messages: [
      ["mailboxfull", ["As their mailbox is full"]],
      ["norelaying", ["Due to the following SMTP relay error"]],
      ["hostunknown", ["As the remote domain doesnt exist"]],
    ],
  }),
);

function detect(input: LhostInput): boolean {
  const received = input.headers.get("received") ?? [];
  const fromKddi =
    /no-reply@(?:[\w-]+\.)*dion\.ne\.jp/i.test(input.from) ||
    (input.headers.get("reply-to") ?? []).some((v) => /no-reply@app\.auone-net\.jp/i.test(v)) ||
    received.some((v) => /ezweb\.ne\.jp \(|\.au\.com \(/i.test(v));
  return fromKddi && base.detect(input);
}

export const kddi: Lhost = {
  name: "KDDI",
  detect,
  read(input) {
    const filtered = (input.headers.get("x-spasign") ?? []).some((v) => v.trim().toUpperCase() === "NG");
    return base.read(input).map((r) => (filtered ? { ...r, reason: "filtered" } : r));
  },
};
