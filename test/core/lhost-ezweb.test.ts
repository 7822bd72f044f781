import { describe, expect, it } from "vitest";
import { ezweb } from "../../src/core/bounce/lhost/ezweb.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** au EZweb's report in the published layout, with example addresses. */
const disabled = `The user(s) account is disabled.

<nobody@ezweb.ne.jp>: 550 user unknown (in reply to RCPT TO command)
`;

const remote = `Each of the following recipients was rejected by a remote
mail server.

    Recipient: <nobody@example.jp>
    >>> RCPT TO:<nobody@example.jp>
    <<< 550 <nobody@example.jp>: User unknown
`;

const subject = "Mail System Error - Returned Mail";
const input = (text: string, from = "<Postmaster@ezweb.ne.jp>", s = subject, headers: Array<[string, string]> = []) =>
  lhostInput(text, s, from, headers);

describe("EZweb", () => {
  it.each([
    [disabled, "<Postmaster@ezweb.ne.jp>", subject, true],
    [disabled, "<Postmaster@au.com>", subject, true],
    [disabled, "MAILER-DAEMON@example.net", subject, false],
    [disabled, "<Postmaster@ezweb.ne.jp>", "Returned mail: see transcript for details", false],
  ])("detects its report (%#)", (text, from, s, expected) => {
    expect(ezweb.detect(input(text, from, s))).toBe(expected);
  });

  it("reads each recipient, the reply, the command and EZweb's reason", () => {
    expect(ezweb.read(input(disabled))).toEqual([
      { recipient: "nobody@ezweb.ne.jp", diagnostic: "550 user unknown (in reply to RCPT TO command)", reason: "suspend" },
    ]);
    expect(ezweb.read(input(remote))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "550 <nobody@example.jp>: User unknown", command: "RCPT" },
    ]);
  });

  it("X-SPASIGN: NG means filtered", () => {
    expect(ezweb.read(input(disabled, undefined, subject, [["X-SPASIGN", "NG"]]))[0]?.reason).toBe("filtered");
  });
});
