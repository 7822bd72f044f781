import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { mcafee } from "../../src/core/bounce/lhost/mcafee.ts";
import type { LhostInput } from "../../src/core/bounce/lhost/types.ts";

/** The McAfee appliance's report after its documented layout, with example addresses. */
const report = `Content-Type: text/plain; name="deliveryproblems.txt"

    --- The following addresses had delivery problems ---

<nobody@example.jp>   (User unknown nobody@example.jp)
<busy@example.com>   (Connection timed out)

`;

const postfix = `This is the mail system at host mx.example.net.

<nobody@example.jp>: host mx.example.jp[198.51.100.7] said: 550 5.1.1 User unknown (in reply to RCPT TO command)
`;

const nai = headerMap([{ key: "X-NAI-Header", value: "Modified by McAfee Email and Web Security Virtual Appliance" }]);

const input = (text: string, subject = "Delivery Status", headers = nai): LhostInput => ({
  headers,
  subject,
  from: "postmaster@example.net",
  report: text,
});

describe("McAfee", () => {
  it.each([
    ["its report", input(report), true],
    ["its Subject without its header", input(report, "Delivery Status", headerMap([])), false],
    ["a Postfix report", input(postfix, "Undelivered Mail Returned to Sender", headerMap([])), false],
  ])("detects %s", (_, given, expected) => {
    expect(mcafee.detect(given)).toBe(expected);
  });

  it("reads each recipient and the appliance's summary", () => {
    expect(mcafee.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "User unknown nobody@example.jp", reason: "userunknown" },
      { recipient: "busy@example.com", diagnostic: "Connection timed out" },
    ]);
  });
});
