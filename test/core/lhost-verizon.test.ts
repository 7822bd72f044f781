import { describe, expect, it } from "vitest";
import { verizon } from "../../src/core/bounce/lhost/verizon.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** Verizon's vtext.com and vzwpix.com notices in the published layout, with example addresses. */
const vtext = `Error: 550 - Requested action not taken: no such user here

Message details:
  Subject: Hello
  Sent date: Wed Jun 12 02:21:53 GMT 2026
  MAIL FROM: sender@example.com
  RCPT TO: 5555550100@vtext.com
  From: Sender <sender@example.com>
  To: 5555550100@vtext.com
`;

const pix = `Message could not be delivered to mobile.
Error: No valid recipients for this MM

Original Message:
To: 5555550100@vzwpix.com
Subject: hello
`;

const received: Array<[string, string]> = [["Received", "from smtp.vtext.com (smtp.vtext.com [192.0.2.40]) by mx.example.com"]];

describe("Verizon", () => {
  it.each([
    [lhostInput(vtext, "Undeliverable Message", "post_master@vtext.com", received), true],
    [lhostInput(pix, "Undeliverable Message", "sysadmin@mms.vzwpix.com"), true],
    [lhostInput(vtext, "Undeliverable Message", "post_master@vtext.com"), false],
    [lhostInput(vtext, "[BOUNCE]", "postmaster@example.org", received), false],
  ])("detects its notices (%#)", (input, expected) => {
    expect(verizon.detect(input)).toBe(expected);
  });

  it("reads the recipient, the error and the reason", () => {
    expect(verizon.read(lhostInput(vtext, "Undeliverable Message", "post_master@vtext.com", received))).toEqual([
      { recipient: "5555550100@vtext.com", diagnostic: "550 - Requested action not taken: no such user here", reason: "userunknown" },
    ]);
    expect(verizon.read(lhostInput(pix, "Undeliverable Message", "sysadmin@mms.vzwpix.com"))).toEqual([
      { recipient: "5555550100@vzwpix.com", diagnostic: "No valid recipients for this MM", reason: "userunknown" },
    ]);
  });
});
