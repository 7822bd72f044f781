import { describe, expect, it } from "vitest";
import { kddi } from "../../src/core/bounce/lhost/kddi.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** au by KDDI's report in the published layout, with example addresses. */
const report = `Your mail sent on: Mon, 07 Dec 2026 11:04:47 +0900
    Could not be delivered to: <full@example.jp>
    As their mailbox is full.

Your mail sent on: Mon, 07 Dec 2026 11:04:47 +0900
    Could not be delivered to: <nodomain@example.jp>
    As the remote domain doesnt exist.
`;

const from = "no-reply@mx.example.dion.ne.jp";
const input = (text: string, f = from, headers: Array<[string, string]> = []) => lhostInput(text, "Mail delivery failure", f, headers);

describe("KDDI", () => {
  it.each([
    [report, from, [], true],
    [
      report,
      "MAILER-DAEMON@example.net",
      [["Received", "from mx.ezweb.ne.jp (mx.ezweb.ne.jp [192.0.2.1])"]] as Array<[string, string]>,
      true,
    ],
    [report, "MAILER-DAEMON@example.net", [], false],
    ["Hi. This is the qmail-send program at example.net.\n", from, [], false],
  ])("detects its report (%#)", (text, f, headers, expected) => {
    expect(kddi.detect(input(text, f, headers))).toBe(expected);
  });

  it("reads each recipient and KDDI's reason", () => {
    expect(kddi.read(input(report))).toEqual([
      { recipient: "full@example.jp", diagnostic: "As their mailbox is full.", reason: "mailboxfull" },
      { recipient: "nodomain@example.jp", diagnostic: "As the remote domain doesnt exist.", reason: "hostunknown" },
    ]);
  });

  it("X-SPASIGN: NG means filtered", () => {
    expect(kddi.read(input(report, from, [["X-SPASIGN", "NG"]])).map((r) => r.reason)).toEqual(["filtered", "filtered"]);
  });
});
