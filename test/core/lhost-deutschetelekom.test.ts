import { describe, expect, it } from "vitest";
import { headerMap } from "../../src/core/bounce/headers.ts";
import { deutschetelekom } from "../../src/core/bounce/lhost/deutschetelekom.ts";

/** T-Online's Smail-style bounce, and Smail 3's own (notify.c), with example addresses. */
const tonline = `|------------------------- Failed addresses follow: ---------------------|
 <full@example.de>
   552 5.2.2 <full@example.de> Quota exceeded (mailbox for user is full)

|------------------------- Message header follows: ----------------------|
`;

const smail = `|------------------------- Message log follows: -------------------------|
no valid recipients were found for this message
|------------------------- Failed addresses follow: ---------------------|
 someone@host.example.com ... unknown host
|------------------------- Message text follows: ------------------------|
`;

const input = (report: string) => ({
  headers: headerMap([]),
  subject: "mail failed, returning to sender",
  from: "Mail Delivery System <Mailer-Daemon@t-online.de>",
  report,
});

describe("DeutscheTelekom", () => {
  it.each([
    [tonline, true],
    [smail, true],
    [
      "This message was created automatically by mail delivery software.\n\n  nobody@example.jp\n    SMTP error from remote mail server",
      false,
    ],
  ])("detects by its banner (%#)", (report, expected) => {
    expect(deutschetelekom.detect(input(report))).toBe(expected);
  });

  it.each([
    [tonline, { recipient: "full@example.de", diagnostic: "552 5.2.2 <full@example.de> Quota exceeded (mailbox for user is full)" }],
    [smail, { recipient: "someone@host.example.com", diagnostic: "unknown host", reason: "hostunknown" }],
  ])("reads recipient, diagnostic and reason (%#)", (report, expected) => {
    expect(deutschetelekom.read(input(report))).toEqual([expected]);
  });
});
