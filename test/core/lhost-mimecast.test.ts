import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { mimecast } from "../../src/core/bounce/lhost/mimecast.ts";

/** Mimecast's delivery failure notice as published, with example addresses. */
const report = `Your message couldn't be delivered

An email that you attempted to send to the following address could not be delivered:
-- nobody@example.jp

The problem appears to be :
-- Recipient email address is possibly incorrect

Additional information follows :
-- 5.4.1 Recipient address rejected: Access denied

This error is treated as permanent and will not be retried.
`;

const input = (text: string, subject = "[Postmaster] Email Delivery Failure") => ({
  headers: headerMap([{ key: "Message-Id", value: "<0123456789-1102117314000@us-mta-25.us.mimecast.lan>" }]),
  subject,
  from: "Postmaster <postmaster@example.com>",
  report: text,
});

describe("Mimecast", () => {
  it.each([
    ["its Subject and Message-Id", input(report), true],
    ["without its address line", input("An email could not be delivered."), false],
  ])("detects by %s", (_name, given, expected) => {
    expect(mimecast.detect(given)).toBe(expected);
  });

  it("reads the address and the additional information", () => {
    expect(mimecast.read(input(report))).toEqual([
      { recipient: "nobody@example.jp", diagnostic: "5.4.1 Recipient address rejected: Access denied" },
    ]);
  });
});
