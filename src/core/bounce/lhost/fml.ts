/**
 * fml, the mailing list manager (fml.org): an X-MLServer header, From "<list>-admin@…" and a
 * Message-ID ending in ".FML". fml returns a message it would not distribute with one line of
 * its own saying why and naming the address in angle brackets ("You are not a member of this
 * mailing list <list@example.jp>."), then "Original mail as follows:". Its Subject names the
 * kind of error too ("NOT MEMBER article from …", "Loop Alert: …"). Markers after
 * Sisimai::Lhost::FML, BSD 2-Clause.
 */
import { blockLhost, reasonIn } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "FML",
  detect: { from: /-admin@/i, header: ["message-id", /\.FML/] },
  recipient: /<([^\s<>]+@[^\s<>]+)>/,
  following: "paragraph",
  fields: { diagnostic: /^([\s\S]+)$/ },
  messages: [
    [
      "rejected",
      [
        " header may cause mail loop",
        "NOT MEMBER article from ",
        "reject mail from ",
        "reject spammers:",
        "You are not a member of this mailing list",
      ],
    ],
    ["systemerror", [" has detected a loop condition so that", "Duplicated Message-ID", "Loop Back Warning:"]],
    ["securityerror", ["Security alert:"]],
  ],
});

const titles = [
  ["rejected", [" are not member", "NOT MEMBER article from ", "reject mail ", "Spam mail from a spammer is rejected"]],
  ["systemerror", ["fml system error message", "Loop Alert: ", "Loop Back Warning: ", "WARNING: UNIX FROM Loop"]],
  ["securityerror", ["Security Alert"]],
] as const;

export const fml: Lhost = {
  ...base,
  detect: (input) => input.headers.has("x-mlserver") && base.detect(input),
  read(input) {
    const bySubject = reasonIn({ messages: titles }, input.subject);
    return base.read(input).map((r) => (r.reason || !bySubject ? r : { ...r, reason: bySubject }));
  },
};
