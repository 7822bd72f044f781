import { describe, expect, it } from "vitest";
import { biglobe } from "../../src/core/bounce/lhost/biglobe.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** BIGLOBE's report in the published layout, with example addresses. */
const report = `This is a MIME-encapsulated message.

   ----- The following addresses had delivery problems -----
full@example.biglobe.ne.jp

   ----- Non-delivered information -----
The number of messages in recipient's mailbox exceeded the local limit.
`;

const input = (text: string, from = "postmaster@mail.biglobe.ne.jp", subject = "Returned mail: Delivery failed") =>
  lhostInput(text, subject, from);

describe("Biglobe", () => {
  it.each([
    [report, "postmaster@mail.biglobe.ne.jp", true],
    [report, "postmaster@inacatv.ne.jp", true],
    [report, "MAILER-DAEMON@example.net", false],
    ["   ----- Transcript of session follows -----\n", "postmaster@mail.biglobe.ne.jp", false],
  ])("detects its report (%#)", (text, from, expected) => {
    expect(biglobe.detect(input(text, from))).toBe(expected);
  });

  it("reads the recipient and BIGLOBE's reason", () => {
    expect(biglobe.read(input(report))).toEqual([
      {
        recipient: "full@example.biglobe.ne.jp",
        diagnostic: "The number of messages in recipient's mailbox exceeded the local limit.",
        reason: "mailboxfull",
      },
    ]);
    const filtered = report.replace(/The number.*limit\./, "Mail Delivery Failed... User unknown");
    expect(biglobe.read(input(filtered))[0]?.reason).toBe("filtered");
  });
});
