/**
 * Unknown MTA #1 (Sisimai's X1): Subject "Returned Mail: …" (capital M) or "Mail Delivery
 * Failure", or From "Mail Delivery System". After "The original message was received at …"
 * and "---The following addresses had delivery errors---" each recipient is one line, the
 * address and the error in brackets: `user@example.co.jp [User unknown]`. Markers after
 * Sisimai::Lhost::X1, BSD 2-Clause.
 */
import { blockLhost } from "./block.ts";
import type { Lhost } from "./types.ts";

const base = blockLhost({
  name: "X1",
  detect: { body: /^-+ ?The following addresses had delivery errors ?-+/m },
  begin: /^The original message was received at /m,
  recipient: /^<?([^\s<>@]+@[^\s<>[]+?)>? \[(.+)\]\s*$/,
  following: "none",
});

export const x1: Lhost = {
  ...base,
  detect: (input) =>
    (/^Returned Mail: /.test(input.subject) ||
      /^Mail Delivery Failure/.test(input.subject) ||
      /"Mail Deliver.*System" /.test(input.from)) &&
    base.detect(input),
};
