import { describe, expect, it } from "vitest";
import { zoho } from "../../src/core/bounce/lhost/zoho.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Zoho Mail's report in its published layout, with example addresses. */
const report = `This message was created automatically by mail delivery software.
A message that you sent could not be delivered to one or more of its recipients. This is a permanent error.

nobody@example.co.jp Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <nobody@example.co.jp>... User Unknown

[Status: Error, Address: <slow@example.jp>, ResponseCode 421, , Host not reachable.]
`;

const zohoHeaders: Array<[string, string]> = [["X-ZohoMail", "Si CHF_MF_NL SS_10 UW48 UB48 FMWL UW48 UB48 SGR3_1_09124_42"]];
const input = (h = zohoHeaders) => lhostInput(report, "Undelivered Mail Returned to Sender", "mailer-daemon@mail.zoho.com", h);

describe("Zoho", () => {
  it.each([
    [zohoHeaders, true],
    [[] as Array<[string, string]>, false],
  ])("detects its report (%#)", (h, expected) => {
    expect(zoho.detect(input(h))).toBe(expected);
  });

  it("reads each recipient, the error, status and Zoho's reason", () => {
    expect(zoho.read(input())).toEqual([
      {
        recipient: "nobody@example.co.jp",
        diagnostic: "Invalid Address, ERROR_CODE :550, ERROR_CODE :5.1.1 <nobody@example.co.jp>... User Unknown",
        status: "5.1.1",
      },
      {
        recipient: "slow@example.jp",
        diagnostic: "Status: Error, Address: <slow@example.jp>, ResponseCode 421, , Host not reachable.",
        reason: "expired",
      },
    ]);
  });
});
