import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { outlook } from "../../src/core/bounce/lhost/outlook.ts";

/** Outlook.com's (Hotmail's) DSN, with example addresses. */
const report = `This is an automatically generated Delivery Status Notification.

Delivery to the following recipients failed.

       nodomain@example.invalid

Reporting-MTA: dns;BAY004-OMC1S10.hotmail.com

Final-Recipient: rfc822;nodomain@example.invalid
Action: failed
Status: 5.5.0
Diagnostic-Code: smtp;550 The mail could not be delivered to the recipient because the domain is not reachable. Please check the domain and try again
`;

const hotmail = [
  { key: "X-Message-Delivery", value: "Vj0xLjE7RD0wO0dEPTA7U0NMPTk7bD0xO3VzPTE=" },
  { key: "Received", value: "from BAY004-OMC1S10.hotmail.com ([65.54.190.85]) by mx.example.org" },
];
const input = (headers: Array<{ key: string; value: string }>, subject = "Delivery Status Notification (Failure)") => ({
  headers: headerMap(headers),
  subject,
  from: "postmaster@hotmail.com",
  report,
});

describe("Outlook", () => {
  it.each([
    ["its header and Subject", input(hotmail), true],
    ["a DSN Subject alone", input([]), false],
    ["a hotmail relay alone", input([hotmail[1]!], "Undelivered Mail Returned to Sender"), false],
  ])("detects by %s", (_name, given, expected) => {
    expect(outlook.detect(given)).toBe(expected);
  });

  it("reads the DSN fields and Outlook.com's own reason", () => {
    expect(outlook.read(input(hotmail))).toEqual([
      {
        recipient: "nodomain@example.invalid",
        diagnostic:
          "550 The mail could not be delivered to the recipient because the domain is not reachable. Please check the domain and try again",
        status: "5.5.0",
        reason: "hostunknown",
      },
    ]);
  });
});
