import { describe, expect, it } from "vitest";
import { einsundeins } from "../../src/core/bounce/lhost/einsundeins.ts";
import { lhostInput } from "./lhost-helpers.ts";

/** 1&1's report in the published layout, with example addresses. */
const report = `This message was created automatically by mail delivery software.

A message that you have sent could not be delivered to one or more
recipients.  This is a permanent error.  The following address failed:

big@example.eu

For the following reason:

Mail size limit exceeded. For explanation visit
http://postmaster.1and1.com/en/error-messages?ip=%1s
`;

const remote = `This message was created automatically by mail delivery software.

A message that you have sent could not be delivered to one or more
recipients.  This is a permanent error.  The following address failed:

neko@example.fr:
SMTP error from remote server for TEXT command, host: mx.example.fr (192.0.2.25) reason: 550 5.2.0 Mail rejected.
`;

const subject = "Mail delivery failed: returning message to sender";
const input = (text: string, from = '"Mail Delivery System" <mailer-daemon@kundenserver.de>', s = subject) => lhostInput(text, s, from);

describe("EinsUndEins", () => {
  it.each([
    [report, '"Mail Delivery System" <mailer-daemon@kundenserver.de>', true],
    [remote, '"Mail Delivery System" <mailer-daemon@kundenserver.de>', true],
    [report, "MAILER-DAEMON@example.net", false],
    [
      "This message was created automatically by mail delivery software.\n\n  a@example.jp\n    Unrouteable address\n",
      '"Mail Delivery System" <x@example.net>',
      false,
    ],
  ])("detects its report (%#)", (text, from, expected) => {
    expect(einsundeins.detect(input(text, from))).toBe(expected);
  });

  it("reads 1&1's own reason and a remote refusal", () => {
    expect(einsundeins.read(input(report))).toEqual([
      {
        recipient: "big@example.eu",
        diagnostic: "Mail size limit exceeded. For explanation visit http://postmaster.1and1.com/en/error-messages?ip=%1s",
        reason: "mesgtoobig",
      },
    ]);
    expect(einsundeins.read(input(remote))).toEqual([
      {
        recipient: "neko@example.fr",
        diagnostic: "550 5.2.0 Mail rejected.",
        command: "DATA",
        status: "5.2.0",
        remoteMta: "mx.example.fr",
      },
    ]);
  });
});
