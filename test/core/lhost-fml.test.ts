import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { fml } from "../../src/core/bounce/lhost/fml.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** fml's rejection notice after its documented wording, with example addresses. */
const report = `You are not a member of this mailing list <members@example.jp>.

If you know the general guide of this list, please send mail with the mail body
`;

const loop = `Duplicated Message-ID in <members@example.jp>.
`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const fmlHeaders = headerMap([
  { key: "X-MLServer", value: "fml [fml 4.0.3 release (20011202/4.0.3)]" },
  { key: "Message-ID", value: "<202612070912.FMLAAB12345.members@example.jp>" },
]);

const input = (text: string, subject = "NOT MEMBER article from sender@example.org", headers = fmlHeaders): LhostInput => ({
  headers,
  subject,
  from: "members-admin@example.jp",
  report: text,
});

describe("FML", () => {
  it.each([
    ["its notice", input(report), true],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", headerMap([])), false],
  ])("detects %s", (_, given, expected) => {
    expect(fml.detect(given)).toBe(expected);
  });

  it("reads the address and fml's reason", () => {
    expect(fml.read(input(report))).toEqual([
      {
        recipient: "members@example.jp",
        diagnostic:
          "You are not a member of this mailing list <members@example.jp>.\nIf you know the general guide of this list, please send mail with the mail body",
        reason: "rejected",
      },
    ]);
  });

  it("takes the reason from the Subject when the text has none", () => {
    expect(fml.read(input("Your mail could not be posted to <members@example.jp>.\n", "Loop Alert: members@example.jp"))).toMatchObject([
      { recipient: "members@example.jp", reason: "systemerror" },
    ]);
    expect(fml.read(input(loop))).toMatchObject([{ reason: "systemerror" }]);
  });
});
