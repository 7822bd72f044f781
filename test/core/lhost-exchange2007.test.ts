import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { exchange2007 } from "../../src/core/bounce/lhost/exchange2007.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** Exchange 2007+'s plain NDR after its documented layout, with example addresses. */
const report = `Delivery has failed to these recipients or groups:

nobody@example.jp
The e-mail address you entered couldn't be found.

Diagnostic information for administrators:

Generating server: exch01.example.jp

nobody@example.jp
#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

late@example.com
Remote Server returned '550 4.4.7 QUEUE.Expired; message expired'

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const input = (text: string, subject = "Undeliverable: Quarterly figures", language = true): LhostInput => ({
  headers: headerMap(language ? [{ key: "Content-Language", value: "en-US" }] : []),
  subject,
  from: "Microsoft Exchange <postmaster@example.jp>",
  report: text,
});

describe("Exchange2007", () => {
  it.each([
    ["its report", input(report), true],
    ["its report in French", input(report, "Non remis: Quarterly figures"), true],
    ["its text without Content-Language", input(report, "Undeliverable: x", false), false],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender"), false],
  ])("detects %s", (_, given, expected) => {
    expect(exchange2007.detect(given)).toBe(expected);
  });

  it("reads each recipient's reply, status and Exchange's error name", () => {
    expect(exchange2007.read(input(report))).toEqual([
      {
        recipient: "nobody@example.jp",
        diagnostic: "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
        status: "5.1.1",
        reason: "userunknown",
      },
      { recipient: "late@example.com", diagnostic: "550 4.4.7 QUEUE.Expired; message expired", status: "4.4.7", reason: "expired" },
    ]);
  });
});
