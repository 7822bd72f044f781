// throttlingReply over real replies, as nodemailer hands them to the bridge (a multi-line reply's
// lines joined with "\n", each with its code): does this transient reply ask the sender to slow
// down (the destination's adaptive throttle), or is it about something else (a mailbox, TLS,
// authentication, greylisting)? And smtpOutcome carries the answer as `throttled` on a retry.
import { describe, expect, it } from "vitest";
import { smtpOutcome, throttlingReply } from "../../src/core/smtp.ts";

/** A reply line as the server sent it: its code is read from the text as the bridge does. */
const reply = (text: string) => ({ code: Number(text.slice(0, 3)), text });

const PACE: Array<[string, string]> = [
  [
    "Gmail: unusual rate of unsolicited mail",
    [
      "421-4.7.0 [203.0.113.5      15] Our system has detected an unusual rate of",
      "421-4.7.0 unsolicited mail originating from your IP address. To protect our",
      "421-4.7.0 users from spam, mail sent from your IP address has been temporarily",
      "421-4.7.0 rate limited. Please visit",
      "421-4.7.0  https://support.google.com/mail/?p=UnsolicitedRateLimitError to",
      "421 4.7.0 review our Bulk Email Senders Guidelines. d75a77b69052e-4a5b1c2d3e4si12345qkb.99 - gsmtp",
    ].join("\n"),
  ],
  [
    "Yahoo: [TSS04] unexpected volume or user complaints",
    "421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
  ],
  [
    "Microsoft: 4.7.500 Server busy",
    "451 4.7.500 Server busy. Please try again later from [203.0.113.5]. (S77719) [BN8NAM12FT012.eop-nam12.prod.protection.outlook.com]",
  ],
  [
    "Microsoft: 4.7.650 rate limited due to IP reputation",
    "451 4.7.650 The mail server [203.0.113.5] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://aka.ms/postmaster (S775) [AM4PEPF00027A5F.eurprd04.prod.outlook.com]",
  ],
  ["Postfix: too many connections from the client", "421 4.7.0 mx.example.net Error: too many connections from 203.0.113.5"],
  ["a 4xx without an enhanced code that speaks of rate", "450 Too many messages, slow down"],
  ["smtp-server's own: too many connected clients", "421 mx.example.net Too many connected clients, try again in a moment"],
];

const NOT_PACE: Array<[string, string, string]> = [
  [
    "greylisting (Postgrey)",
    "450 4.2.0 <rcpt@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html",
    "a later retry, not a slower pace",
  ],
  [
    "greylisting as 4.7.1 (rspamd, Exim's greylistd)",
    "451 4.7.1 Greylisted, please try again later",
    "4.7.x, yet a greylist: the retry is what it asks",
  ],
  ["a full mailbox", "452 4.2.2 The email account that you tried to reach is over quota.", "the recipient's mailbox"],
  ["a full mailbox (450)", "450 4.2.2 Mailbox full", "the recipient's mailbox"],
  [
    "Gmail: one recipient receiving mail too fast",
    [
      "450-4.2.1 The user you are trying to contact is receiving mail at a rate that",
      "450-4.2.1 prevents additional messages from being delivered. Please resend your",
      "450-4.2.1 message at a later time. If the user is able to receive mail at that",
      "450-4.2.1 time, your message will be delivered. For more information, visit",
      "450 4.2.1  https://support.google.com/mail/?p=ReceivingRate d75a77b69052e-4a5b1c2d3e4si12345qkb.100 - gsmtp",
    ].join("\n"),
    "one mailbox's rate (X.2.x: mailbox status), not the destination's: slowing all of gmail.com would not help",
  ],
  [
    "STARTTLS not available (RFC 3207)",
    "454 4.7.0 TLS not available due to temporary reason",
    "the server's TLS, not our pace (454 is TLS or AUTH)",
  ],
  ["a temporary AUTH failure (RFC 4954)", "454 4.7.0 Temporary authentication failure", "authentication"],
  [
    "Gmail: unauthenticated mail (4.7.26)",
    [
      "421-4.7.26 [203.0.113.5] This mail has been rate limited because it is unauthenticated.",
      "421-4.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.",
      "421-4.7.26",
      "421-4.7.26  Authentication results:",
      "421-4.7.26  DKIM = did not pass",
      "421-4.7.26  SPF [example.com] with ip: [203.0.113.5] = did not pass",
      "421-4.7.26",
      "421 4.7.26 For instructions on setting up authentication, go to https://support.google.com/mail/answer/81126#authentication - gsmtp",
    ].join("\n"),
    "authentication, though the text says rate limited",
  ],
  [
    "Gmail 4.7.26, its first line alone (as a log quotes it)",
    "421-4.7.26 [203.0.113.5] This mail has been rate limited because it is unauthenticated.",
    "authentication",
  ],
  [
    "a bad destination mailbox, temporarily",
    "450 4.1.1 <x@example.net>: Recipient address rejected: unverified address: busy, try later",
    "the address",
  ],
  [
    "a permanent refusal that speaks of rate",
    "550 5.7.1 Message rejected: rate of complaints too high",
    "not a 4xx: a bounce, never a throttle",
  ],
  ["accepted", "250 2.0.0 Ok: queued as 4Bx7yz", "not a 4xx"],
];

describe("throttlingReply: a transient reply that asks the sender to slow down", () => {
  it.each(PACE)("%s → true", (_, text) => {
    expect(throttlingReply(reply(text))).toBe(true);
  });

  it.each(NOT_PACE.map(([name, text, why]) => ({ name, text, why })))("$name → false: $why", ({ text }) => {
    expect(throttlingReply(reply(text))).toBe(false);
  });

  it("an enhanced code given apart from the text is the one read", () => {
    expect(throttlingReply({ code: 451, enhancedCode: "4.7.500", text: "451 Server busy" })).toBe(true);
    expect(throttlingReply({ code: 421, enhancedCode: "4.7.26", text: "421 rate limited, unauthenticated" })).toBe(false);
  });
});

describe("smtpOutcome carries it: throttled on a retry, and only there", () => {
  it("421 4.7.0 and 451 4.7.500 → retry with throttled; 450 4.2.2 → retry without; 5xx → bounced without", () => {
    expect(smtpOutcome(reply("421 4.7.0 Try again later, closing connection"))).toMatchObject({
      kind: "retry",
      detail: { reason: "deferred", smtpCode: 421, enhancedCode: "4.7.0", throttled: true },
    });
    expect(smtpOutcome(reply("451 4.7.500 Server busy. Please try again later"))).toMatchObject({
      kind: "retry",
      detail: { reason: "deferred", enhancedCode: "4.7.500", throttled: true },
    });
    const full = smtpOutcome(reply("450 4.2.2 Mailbox full"));
    expect(full).toMatchObject({ kind: "retry", detail: { reason: "deferred", enhancedCode: "4.2.2" } });
    expect(full.detail).not.toHaveProperty("throttled");
    const bounced = smtpOutcome(reply("550 5.7.1 Message rejected: rate of complaints too high"));
    expect(bounced.kind).toBe("bounced");
    expect(bounced.detail).not.toHaveProperty("throttled");
  });
});
