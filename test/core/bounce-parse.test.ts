// Parsing on hand-made reports: RFC 3464 field handling, linking a report to its message,
// complaints and auto-replies, the events they become, and input that is broken on purpose.
import { describe, expect, it } from "vitest";
import { parseDeliveryStatus } from "../../src/core/bounce/dsn.ts";
import { feedbackEvents } from "../../src/core/bounce/events.ts";
import { parseFeedbackMessage } from "../../src/core/bounce/parse.ts";
import { QUEUE_MESSAGE_MAX_BYTES, jsonBytes, planQueueBatches } from "../../src/core/queue.ts";
import { canonicalEvent } from "../../src/core/schema.ts";

const MESSAGE_ID = "5f0c9a2e-8d1b-4c3a-9e7f-1a2b3c4d5e6f";
const OTHER_ID = "0b6a4f3e-2c1d-8e0f-a9b8-c7d6e5f4a3b2";

/** The headers a lasthop message carries (src/channels/email.ts), as a returned message shows them. */
function returnedMessage(opts: { messageId?: string; lasthopHeader?: boolean; to?: string } = {}): string {
  const id = opts.messageId ?? MESSAGE_ID;
  return [
    `Return-Path: <bounce+${id}@bounces.lasthop.test>`,
    "From: Shop <news@lasthop.test>",
    `To: ${opts.to ?? "kijitora@example.jp"}`,
    "Subject: Your order",
    `Message-ID: <${id}@lasthop.test>`,
    ...(opts.lasthopHeader === false ? [] : [`X-Lasthop-Message-Id: ${id}`]),
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Thank you for your order.",
    "",
  ].join("\r\n");
}

/** A multipart/report; report-type=delivery-status with the given per-message and per-recipient blocks. */
function dsn(opts: {
  to?: string;
  text?: string;
  status: string;
  returned?: string;
  returnedType?: "message/rfc822" | "text/rfc822-headers";
  extraHeaders?: string[];
}): string {
  const boundary = "DSN-boundary-1234";
  return [
    "From: Mail Delivery System <MAILER-DAEMON@mx.sender.test>",
    `To: ${opts.to ?? `bounce+${MESSAGE_ID}@bounces.lasthop.test`}`,
    "Subject: Undelivered Mail Returned to Sender",
    "Date: Thu, 29 Apr 2021 23:34:45 +0900",
    "Message-ID: <20210429233445.AB12@mx.sender.test>",
    "Auto-Submitted: auto-replied",
    ...(opts.extraHeaders ?? []),
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    opts.text ?? "This is the mail system at host mx.sender.test.\r\n\r\nYour message could not be delivered.",
    "",
    `--${boundary}`,
    "Content-Type: message/delivery-status",
    "",
    opts.status,
    "",
    `--${boundary}`,
    `Content-Type: ${opts.returnedType ?? "message/rfc822"}`,
    "",
    opts.returned ?? returnedMessage(),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

function arf(opts: { feedbackType?: string; fields?: string[]; to?: string; returned?: string }): string {
  const boundary = "ARF-boundary-5678";
  return [
    "From: Feedback Loop <fbl@isp.test>",
    `To: ${opts.to ?? "abuse@bounces.lasthop.test"}`,
    "Subject: Abuse report",
    "Date: Fri, 30 Apr 2021 10:00:00 +0000",
    "Message-ID: <fbl-1@isp.test>",
    "MIME-Version: 1.0",
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain",
    "",
    "This is an email abuse report for an email message received from IP 192.0.2.1.",
    "",
    `--${boundary}`,
    "Content-Type: message/feedback-report",
    "",
    `Feedback-Type: ${opts.feedbackType ?? "abuse"}`,
    "User-Agent: SomeISP-FBL/2.1",
    "Version: 1",
    `Original-Mail-From: <bounce+${MESSAGE_ID}@bounces.lasthop.test>`,
    "Original-Rcpt-To: <kijitora@example.jp>",
    "Arrival-Date: Thu, 29 Apr 2021 23:34:45 +0000",
    "Source-IP: 192.0.2.1",
    ...(opts.fields ?? []),
    "",
    `--${boundary}`,
    "Content-Type: message/rfc822",
    "",
    opts.returned ?? returnedMessage(),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

const RECEIVED_AT = "2021-04-30T00:00:00.000Z";

describe("RFC 3464 fields", () => {
  it("unfolds continuation lines and strips address/diagnostic/MTA type prefixes, names in any case", () => {
    const fields = parseDeliveryStatus(
      [
        "reporting-MTA: dns; mx.sender.test",
        "ARRIVAL-DATE: Thu, 29 Apr 2021 23:34:45 +0900",
        "",
        "final-recipient: RFC822; <Kijitora@Example.JP>",
        "ACTION: Failed",
        "Status: 5.1.1 (bad destination mailbox address)",
        "Remote-MTA: DNS; mx.example.jp",
        "Diagnostic-Code: SMTP; 550 5.1.1 <kijitora@example.jp>:",
        "    Recipient address rejected: User unknown in",
        "\tlocal recipient table",
        "Last-Attempt-Date: Thu, 29 Apr 2021 23:35:00 +0900",
      ].join("\r\n"),
    );
    expect(fields).toEqual({
      reportingMta: "mx.sender.test",
      arrivalDate: "Thu, 29 Apr 2021 23:34:45 +0900",
      recipients: [
        {
          recipient: "Kijitora@example.jp",
          action: "failed",
          status: "5.1.1",
          remoteMta: "mx.example.jp",
          diagnosticType: "smtp",
          diagnostic: "550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in local recipient table",
          lastAttemptDate: "Thu, 29 Apr 2021 23:35:00 +0900",
        },
      ],
    });
  });

  it("reads recipient blocks that are not separated by blank lines, and Original-Recipient when Final-Recipient is host-local", () => {
    const fields = parseDeliveryStatus(
      [
        "Reporting-MTA: dns; mx.sender.test",
        "",
        "Final-Recipient: rfc822; a@example.jp",
        "Action: failed",
        "Status: 5.1.1",
        "Final-Recipient: rfc822; b@example.jp",
        "Action: failed",
        "Status: 5.2.2",
        "",
        "Original-Recipient: rfc822;c@example.net",
        "Final-Recipient: rfc822;@smtp.example.net:c@server",
        "Action: failed",
        "Status: 5.2.0",
      ].join("\n"),
    );
    expect(fields.recipients.map((r) => [r.recipient, r.status])).toEqual([
      ["a@example.jp", "5.1.1"],
      ["b@example.jp", "5.2.2"],
      ["c@example.net", "5.2.0"],
    ]);
  });

  it("several recipients → several entries, each with its action and classification", async () => {
    const report = await parseFeedbackMessage(
      dsn({
        status: [
          "Reporting-MTA: dns; mx.sender.test",
          `Original-Envelope-Id: ${MESSAGE_ID}`,
          "Arrival-Date: Thu, 29 Apr 2021 23:34:45 +0900",
          "",
          "Final-Recipient: rfc822; gone@example.jp",
          "Action: failed",
          "Status: 5.1.1",
          "Diagnostic-Code: smtp; 550 5.1.1 <gone@example.jp>... User Unknown",
          "",
          "Final-Recipient: rfc822; full@example.jp",
          "Action: failed",
          "Status: 5.2.2",
          "Diagnostic-Code: smtp; 552 5.2.2 <full@example.jp>... Mailbox Full",
          "",
          "Final-Recipient: rfc822; slow@example.jp",
          "Action: delayed",
          "Status: 4.4.1",
          "Diagnostic-Code: smtp; 421 4.4.1 Connection timed out",
          "Will-Retry-Until: Sun, 2 May 2021 23:34:45 +0900",
        ].join("\r\n"),
      }),
    );
    expect(report.kind).toBe("dsn");
    expect(report).toMatchObject({
      reportingMta: "mx.sender.test",
      originalEnvelopeId: MESSAGE_ID,
      arrivalDate: "Thu, 29 Apr 2021 23:34:45 +0900",
    });
    expect(report.recipients.map((r) => [r.recipient, r.action, r.status, r.smtpCode, r.class, r.reason])).toEqual([
      ["gone@example.jp", "failed", "5.1.1", 550, "hard", "userunknown"],
      ["full@example.jp", "failed", "5.2.2", 552, "soft", "mailboxfull"],
      ["slow@example.jp", "delayed", "4.4.1", 421, "soft", "expired"],
    ]);
    expect(report.recipients[2].willRetryUntil).toBe("Sun, 2 May 2021 23:34:45 +0900");
  });

  it.each([
    ["delivered", "2.0.0"],
    ["relayed", "2.0.0"],
    ["expanded", "2.0.0"],
  ])("Action: %s is not a bounce", async (action, status) => {
    const report = await parseFeedbackMessage(
      dsn({
        status: [
          "Reporting-MTA: dns; mx.sender.test",
          "",
          "Final-Recipient: rfc822; ok@example.jp",
          `Action: ${action}`,
          `Status: ${status}`,
        ].join("\r\n"),
      }),
    );
    expect(report.recipients).toMatchObject([{ recipient: "ok@example.jp", action, class: "undetermined", reason: "delivered" }]);
    expect(await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT })).toEqual([]);
  });

  it("prefers the remote server's specific code to a vague Status: 5.0.0, and reads the command from the prose", async () => {
    const report = await parseFeedbackMessage(
      dsn({
        text: [
          "<kijitora@example.org>: host mx.example.org[192.0.2.2] said: 554 5.7.1",
          "    <kijitora@example.org>: Relay access denied (in reply to RCPT TO command)",
        ].join("\r\n"),
        status: [
          "Final-Recipient: rfc822; kijitora@example.org",
          "Action: failed",
          "Status: 5.0.0 (permanent failure)",
          "Diagnostic-Code: X-Postfix; host mx.example.org[192.0.2.2] said: 554 5.7.1",
          "    <kijitora@example.org>: Relay access denied",
        ].join("\r\n"),
      }),
    );
    expect(report.recipients).toMatchObject([
      {
        recipient: "kijitora@example.org",
        status: "5.0.0",
        enhancedCode: "5.7.1",
        smtpCode: 554,
        command: "RCPT",
        class: "soft",
        reason: "norelaying",
      },
    ]);
  });

  it("takes the diagnostic from the prose when the DSN has none (OpenSMTPD)", async () => {
    const report = await parseFeedbackMessage(
      dsn({
        text: [
          "    An error has occurred while attempting to deliver a message for",
          "    the following list of recipients:",
          "",
          "gone@example.jp: 550 5.1.1 <gone@example.jp>: Recipient address rejected: User unknown",
          "nodomain@nowhere.example: Domain does not exist",
        ].join("\r\n"),
        status: [
          "Reporting-MTA: dns; mx.sender.test",
          "",
          "Final-Recipient: rfc822; gone@example.jp",
          "Action: failed",
          "Status: 5.0.0",
          "",
          "Final-Recipient: rfc822; nodomain@nowhere.example",
          "Action: failed",
          "Status: 5.0.0",
        ].join("\r\n"),
      }),
    );
    expect(report.recipients.map((r) => [r.recipient, r.enhancedCode, r.class, r.reason])).toEqual([
      ["gone@example.jp", "5.1.1", "hard", "userunknown"],
      ["nodomain@nowhere.example", "5.0.0", "hard", "hostunknown"],
    ]);
  });
});

describe("non-standard bounces", () => {
  it("qmail: recipient, reply code and enhanced code from the prose; headers quoted inline link the message", async () => {
    const raw = [
      "From: MAILER-DAEMON@mx.sender.test",
      "To: news@lasthop.test",
      "Subject: failure notice",
      "",
      "Hi. This is the qmail-send program at mx.sender.test.",
      "I'm afraid I wasn't able to deliver your message to the following addresses.",
      "This is a permanent error; I've given up. Sorry it didn't work out.",
      "",
      "<kijitora@example.jp>:",
      "192.0.2.25 does not like recipient.",
      "Remote host said: 550 5.1.1 <kijitora@example.jp>... User Unknown",
      "Giving up on 192.0.2.25.",
      "",
      "--- Below this line is a copy of the message.",
      "",
      returnedMessage({ lasthopHeader: false }),
    ].join("\n");
    const report = await parseFeedbackMessage(raw);
    expect(report).toMatchObject({ kind: "dsn", messageId: MESSAGE_ID, linkedBy: "message-id" });
    expect(report.recipients).toMatchObject([
      {
        recipient: "kijitora@example.jp",
        action: "failed",
        smtpCode: 550,
        enhancedCode: "5.1.1",
        command: "RCPT",
        class: "hard",
        reason: "userunknown",
      },
    ]);
  });

  it("Exim: the address line, then its SMTP error; the copy of the message is not read as the diagnosis", async () => {
    const raw = [
      "From: Mail Delivery System <Mailer-Daemon@mx.sender.test>",
      "To: news@lasthop.test",
      "Subject: Mail delivery failed: returning message to sender",
      "Auto-Submitted: auto-replied",
      "X-Failed-Recipients: kijitora@example.jp",
      "",
      "This message was created automatically by mail delivery software.",
      "",
      "A message that you sent could not be delivered to one or more of its",
      "recipients. This is a permanent error. The following address(es) failed:",
      "",
      "  kijitora@example.jp",
      "    SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>:",
      "    host mx.example.jp [192.0.2.20]: 552 5.2.2 <kijitora@example.jp>... Mailbox Full",
      "",
      "------ This is a copy of the message, including all the headers. ------",
      "",
      returnedMessage().replace("Thank you for your order.", "Your spam score quota is over: user unknown"),
    ].join("\n");
    const report = await parseFeedbackMessage(raw);
    expect(report).toMatchObject({ kind: "dsn", messageId: MESSAGE_ID });
    expect(report.recipients).toMatchObject([
      { recipient: "kijitora@example.jp", smtpCode: 552, enhancedCode: "5.2.2", command: "RCPT", class: "soft", reason: "mailboxfull" },
    ]);
  });

  it("a delay warning without a DSN part is a deferral", async () => {
    const raw = [
      "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>",
      "To: news@lasthop.test",
      "Subject: Delivery Status Notification (Delay)",
      "",
      "This is an automatically generated Delivery Status Notification",
      "",
      "THIS IS A WARNING MESSAGE ONLY.",
      "",
      "YOU DO NOT NEED TO RESEND YOUR MESSAGE.",
      "",
      "Delivery to the following recipient has been delayed:",
      "",
      "     kijitora@example.com",
      "",
      "Message will be retried for 2 more day(s)",
    ].join("\n");
    const report = await parseFeedbackMessage(raw, { envelopeTo: `bounce+${MESSAGE_ID}@bounces.lasthop.test` });
    expect(report.recipients).toMatchObject([{ recipient: "kijitora@example.com", action: "delayed", class: "soft", reason: "expired" }]);
    const events = await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT });
    expect(events.map((e) => e.type)).toEqual(["deferred"]);
  });
});

describe("linking a report to its message", () => {
  const status = ["Final-Recipient: rfc822; kijitora@example.jp", "Action: failed", "Status: 5.1.1"].join("\r\n");

  it("by the VERP address in To:", async () => {
    expect(await parseFeedbackMessage(dsn({ status, returned: returnedMessage({ messageId: OTHER_ID }) }))).toMatchObject({
      messageId: MESSAGE_ID,
      linkedBy: "verp",
      envelopeTo: `bounce+${MESSAGE_ID}@bounces.lasthop.test`,
    });
  });

  it("by the VERP envelope recipient the caller passes, before any header", async () => {
    const report = await parseFeedbackMessage(
      dsn({ to: "someone@sender.test", status, returned: returnedMessage({ messageId: OTHER_ID }) }),
      {
        envelopeTo: `<bounce+${MESSAGE_ID.toUpperCase()}@bounces.lasthop.test>`,
      },
    );
    expect(report).toMatchObject({ messageId: MESSAGE_ID, linkedBy: "verp" });
  });

  it("by Delivered-To / X-Original-To when To: is the original sender", async () => {
    const report = await parseFeedbackMessage(
      dsn({
        to: "news@lasthop.test",
        status,
        extraHeaders: [`X-Original-To: bounce+${MESSAGE_ID}@bounces.lasthop.test`],
        returned: "Subject: x\r\n\r\n",
      }),
    );
    expect(report).toMatchObject({ messageId: MESSAGE_ID, linkedBy: "verp" });
  });

  it("by X-Lasthop-Message-Id in the returned message", async () => {
    const report = await parseFeedbackMessage(dsn({ to: "news@lasthop.test", status }));
    expect(report).toMatchObject({ messageId: MESSAGE_ID, linkedBy: "x-lasthop-message-id" });
  });

  it("by Message-ID <uuid@domain> in text/rfc822-headers", async () => {
    const headersOnly = `${returnedMessage({ lasthopHeader: false }).split("\r\n\r\n")[0]}\r\n`;
    const report = await parseFeedbackMessage(
      dsn({ to: "news@lasthop.test", status, returned: headersOnly, returnedType: "text/rfc822-headers" }),
    );
    expect(report).toMatchObject({ messageId: MESSAGE_ID, linkedBy: "message-id" });
  });

  it("by Original-Envelope-Id when the returned message is gone", async () => {
    const report = await parseFeedbackMessage(
      dsn({
        to: "news@lasthop.test",
        status: `Reporting-MTA: dns; mx.sender.test\r\nOriginal-Envelope-Id: ${MESSAGE_ID}\r\n\r\n${status}`,
        returned: "Subject: stripped\r\n\r\n",
      }),
    );
    expect(report).toMatchObject({ messageId: MESSAGE_ID, linkedBy: "original-envelope-id" });
  });

  it("to nothing: no uuid anywhere, or only an id not shaped like ours (Apple Mail's upper-case UUIDs)", async () => {
    const apple = returnedMessage({ lasthopHeader: false }).replace(
      `<${MESSAGE_ID}@lasthop.test>`,
      "<AA6C0062-22D4-4D7E-8766-4494D07205C1@icloud.com>",
    );
    const report = await parseFeedbackMessage(dsn({ to: "news@lasthop.test", status, returned: apple }));
    expect(report.messageId).toBeNull();
    expect(report.recipients).toHaveLength(1);
    expect(await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT })).toEqual([]);
  });
});

describe("complaints (RFC 5965 and friends)", () => {
  it("an abuse report: fields, link through the VERP Original-Mail-From, a complained event", async () => {
    const report = await parseFeedbackMessage(arf({ returned: returnedMessage({ messageId: OTHER_ID, lasthopHeader: false }) }));
    expect(report).toMatchObject({
      kind: "arf",
      messageId: MESSAGE_ID,
      linkedBy: "verp",
      feedback: {
        feedbackType: "abuse",
        userAgent: "SomeISP-FBL/2.1",
        version: "1",
        originalRcptTo: ["kijitora@example.jp"],
        originalMailFrom: `bounce+${MESSAGE_ID}@bounces.lasthop.test`,
        arrivalDate: "Thu, 29 Apr 2021 23:34:45 +0000",
        sourceIp: "192.0.2.1",
      },
    });
    const [event] = await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT });
    expect(event).toMatchObject({ type: "complained", messageId: MESSAGE_ID, account: "acct", occurredAt: "2021-04-30T10:00:00.000Z" });
    expect(event.detail).toEqual({
      feedbackType: "abuse",
      userAgent: "SomeISP-FBL/2.1",
      sourceIp: "192.0.2.1",
      arrivalDate: "Thu, 29 Apr 2021 23:34:45 +0000",
      originalMailFrom: `bounce+${MESSAGE_ID}@bounces.lasthop.test`,
      originalRcptTo: ["kijitora@example.jp"],
    });
  });

  it.each(["fraud", "virus", "other", "not-spam"])(
    "feedback type %s is recorded as it is (suppression.ts decides it does not suppress)",
    async (type) => {
      const report = await parseFeedbackMessage(arf({ feedbackType: type }));
      expect(report.feedback?.feedbackType).toBe(type);
      const events = await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT });
      expect(events.map((e) => [e.type, e.detail.feedbackType])).toEqual([["complained", type]]);
    },
  );

  it("an Amazon SES complaint notification delivered by mail links through the headers SES returns", async () => {
    const json = JSON.stringify({
      notificationType: "Complaint",
      complaint: {
        complainedRecipients: [{ emailAddress: "kijitora@example.jp" }],
        timestamp: "2021-04-30T01:49:01.000Z",
        userAgent: "Yahoo!-Mail-Feedback/2.0",
        complaintFeedbackType: "abuse",
      },
      mail: { source: "news@lasthop.test", headers: [{ name: "X-Lasthop-Message-Id", value: MESSAGE_ID }] },
    });
    const raw = [
      "From: no-reply@sns.amazonaws.com",
      "To: ops@lasthop.test",
      "Subject: AWS Notification Message",
      "Content-Type: text/plain; charset=UTF-8",
      "",
      json,
      "",
      "--",
      "If you wish to stop receiving notifications...",
    ].join("\r\n");
    expect(await parseFeedbackMessage(raw)).toMatchObject({
      kind: "arf",
      messageId: MESSAGE_ID,
      linkedBy: "x-lasthop-message-id",
      feedback: { feedbackType: "abuse", userAgent: "Yahoo!-Mail-Feedback/2.0", originalRcptTo: ["kijitora@example.jp"] },
    });
  });
});

describe("auto-replies (RFC 3834)", () => {
  const reply = (headers: string[], subject = "Re: Your order") =>
    [
      `From: Kijitora <kijitora@example.jp>`,
      "To: news@lasthop.test",
      `Subject: ${subject}`,
      `In-Reply-To: <${MESSAGE_ID}@lasthop.test>`,
      ...headers,
      "",
      "I am out of the office until Monday.",
    ].join("\r\n");

  it.each([
    ["Auto-Submitted: auto-replied", reply(["Auto-Submitted: auto-replied"])],
    ["X-Autoreply: yes", reply(["X-Autoreply: yes"])],
    ["Precedence: auto_reply", reply(["Precedence: auto_reply"])],
    ["a vacation subject", reply([], "Out of Office: Your order")],
    ["an Automatic reply subject", reply([], "Automatic reply: Your order")],
  ])("%s → autoreply, linked through In-Reply-To, no event", async (_name, raw) => {
    const report = await parseFeedbackMessage(raw);
    expect(report).toMatchObject({
      kind: "autoreply",
      messageId: MESSAGE_ID,
      linkedBy: "in-reply-to",
      recipients: [{ recipient: "kijitora@example.jp", reason: "vacation", class: "undetermined" }],
    });
    expect(await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT })).toEqual([]);
  });

  it("a bounce that also says Auto-Submitted: auto-replied is still a bounce", async () => {
    const report = await parseFeedbackMessage(
      dsn({ status: "Final-Recipient: rfc822; kijitora@example.jp\r\nAction: failed\r\nStatus: 5.1.1" }),
    );
    expect(report.kind).toBe("dsn");
  });
});

describe("events", () => {
  const status = [
    "Reporting-MTA: dns; mx.sender.test",
    "",
    "Final-Recipient: rfc822; kijitora@example.jp",
    "Action: failed",
    "Status: 5.1.1",
    "Remote-MTA: dns; mx.example.jp",
    "Diagnostic-Code: smtp; 550 5.1.1 <kijitora@example.jp>... User Unknown",
    "Last-Attempt-Date: Thu, 29 Apr 2021 23:35:00 +0900",
  ].join("\r\n");

  it("a hard bounce → one canonical `bounced` event with the bounce detail; the id is stable across replays", async () => {
    const report = await parseFeedbackMessage(dsn({ status }));
    const events = await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT });
    expect(events).toHaveLength(1);
    const [event] = events;
    expect(canonicalEvent.parse(event)).toEqual(event);
    expect(event).toMatchObject({
      account: "acct",
      messageId: MESSAGE_ID,
      type: "bounced",
      provider: "email",
      occurredAt: "2021-04-29T14:35:00.000Z",
      receivedAt: RECEIVED_AT,
    });
    expect(event.detail).toEqual({
      class: "hard",
      reason: "userunknown",
      rule: "status-code",
      smtpCode: 550,
      enhancedCode: "5.1.1",
      diagnostic: "550 5.1.1 <kijitora@example.jp>... User Unknown",
      remoteMta: "mx.example.jp",
      recipient: "kijitora@example.jp",
      action: "failed",
      status: "5.1.1",
    });
    const again = await feedbackEvents(await parseFeedbackMessage(dsn({ status })), {
      account: "acct",
      receivedAt: "2021-05-01T00:00:00.000Z",
    });
    expect(again[0].id).toBe(event.id);
    const otherAccount = await feedbackEvents(report, { account: "other", receivedAt: RECEIVED_AT });
    expect(otherAccount[0].id).not.toBe(event.id);
  });
});

describe("bad input: a clear outcome, never a throw", () => {
  const status =
    "Final-Recipient: rfc822; kijitora@example.jp\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown";

  it.each([
    ["empty", ""],
    ["plain text", "hello, is this the right address?"],
    ["binary noise", new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256))],
    ["headers only", "From: someone@example.com\r\nSubject: hi\r\n"],
    [
      "a MIME bomb of nested multiparts",
      `Content-Type: multipart/mixed; boundary=a\r\n\r\n${"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n".repeat(2000)}`,
    ],
  ])("%s → kind unknown", async (_name, raw) => {
    const report = await parseFeedbackMessage(raw);
    expect(report.kind).toBe("unknown");
    expect(report.recipients).toEqual([]);
    expect(report.messageId).toBeNull();
  });

  it("truncated MIME: the report part cut short still yields what it holds", async () => {
    const full = dsn({ status });
    const cut = full.slice(0, full.indexOf("Diagnostic-Code"));
    const report = await parseFeedbackMessage(cut);
    expect(report).toMatchObject({
      kind: "dsn",
      messageId: MESSAGE_ID,
      recipients: [{ recipient: "kijitora@example.jp", reason: "userunknown", class: "hard" }],
    });
  });

  it("wrong boundaries: the parts are read from the raw body", async () => {
    const wrong = dsn({ status }).replace('boundary="DSN-boundary-1234"', 'boundary="not-the-one-used"');
    const report = await parseFeedbackMessage(wrong);
    expect(report).toMatchObject({
      kind: "dsn",
      messageId: MESSAGE_ID,
      recipients: [{ recipient: "kijitora@example.jp", reason: "userunknown" }],
    });
  });

  it("non-UTF-8 bytes (Latin-1, Shift_JIS, stray 8-bit) are read, not fatal", async () => {
    const text = "Ihre Nachricht konnte nicht zugestellt werden: Empf\u00e4nger unbekannt.";
    const raw = dsn({ status, text: "@@TEXT@@" });
    const [head, tail] = raw.split("@@TEXT@@");
    const bytes = new Uint8Array([
      ...new TextEncoder().encode(head),
      ...Array.from(text, (c) => c.charCodeAt(0)), // Latin-1, declared us-ascii
      0x0d,
      0x0a,
      0x82,
      0xa0,
      0x82,
      0xa2,
      0xff,
      0xfe,
      0x80, // Shift_JIS and stray bytes
      ...new TextEncoder().encode(tail),
    ]);
    const report = await parseFeedbackMessage(bytes.buffer);
    expect(report).toMatchObject({
      kind: "dsn",
      messageId: MESSAGE_ID,
      recipients: [{ recipient: "kijitora@example.jp", reason: "userunknown" }],
    });
  });

  it("a 10 MB message is parsed in bounded time", async () => {
    const huge =
      returnedMessage() +
      "x"
        .repeat(76)
        .concat("\r\n")
        .repeat(Math.ceil((10 * 1024 * 1024) / 78));
    const raw = dsn({ status, returned: huge });
    expect(raw.length).toBeGreaterThan(10 * 1024 * 1024);
    const started = performance.now();
    const report = await parseFeedbackMessage(raw);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(report).toMatchObject({
      kind: "dsn",
      messageId: MESSAGE_ID,
      recipients: [{ recipient: "kijitora@example.jp", reason: "userunknown" }],
    });
  });

  it("a DSN with 500 recipients → 500 entries", async () => {
    const blocks = Array.from(
      { length: 500 },
      (_, i) => `Final-Recipient: rfc822; user${i}@example.jp\r\nAction: failed\r\nStatus: 5.${i % 2 ? "2.2" : "1.1"}`,
    );
    const report = await parseFeedbackMessage(dsn({ status: ["Reporting-MTA: dns; mx.sender.test", ...blocks].join("\r\n\r\n") }));
    expect(report.recipients).toHaveLength(500);
    expect(report.recipients[0]).toMatchObject({ recipient: "user0@example.jp", reason: "userunknown", class: "hard" });
    expect(report.recipients[499]).toMatchObject({ recipient: "user499@example.jp", reason: "mailboxfull", class: "soft" });
    const events = await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT });
    expect(new Set(events.map((e) => e.id)).size).toBe(500);
  });
});

describe("pathological text stays linear", () => {
  it.each([
    ["a 1 MB line without a single space", "a".repeat(1024 * 1024)],
    ["64 KB of dashes", "-".repeat(64 * 1024)],
    ["a phrase prefix repeated without its end", "spam ".repeat(13000)],
    ["local parts without domains", `${"kijitora.".repeat(7000)}@`],
  ])("%s", async (_name, body) => {
    const raw = `From: MAILER-DAEMON@mx.sender.test\r\nTo: bounce+${MESSAGE_ID}@bounces.lasthop.test\r\nSubject: Undelivered Mail\r\n\r\n${body}\r\n`;
    const started = performance.now();
    const report = await parseFeedbackMessage(raw);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(report.messageId).toBe(MESSAGE_ID);
  });

  it("a person's reply to the bounce address that talks about a failed delivery is not a bounce", async () => {
    const raw = [
      "From: Kijitora <kijitora@example.jp>",
      `To: bounce+${MESSAGE_ID}@bounces.lasthop.test`,
      "Subject: Re: Your order",
      "",
      "Your mail could not be delivered to my colleague bob@example.org, the server said user unknown.",
    ].join("\r\n");
    const report = await parseFeedbackMessage(raw);
    expect(report).toMatchObject({ kind: "unknown", recipients: [], messageId: MESSAGE_ID });
    expect(await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT })).toEqual([]);
  });

  it("a null envelope sender marks a plain-text report from an unfamiliar gateway as a bounce", async () => {
    const raw = [
      "From: Mail Gateway <gw@mx.example.org>",
      "To: news@lasthop.test",
      "Subject: Returned",
      "",
      "Could not be delivered to <gone@example.org>:",
      "550 5.1.1 <gone@example.org>: Recipient address rejected: User unknown (in reply to RCPT TO command)",
    ].join("\r\n");
    expect((await parseFeedbackMessage(raw)).kind).toBe("unknown");
    const report = await parseFeedbackMessage(raw, { envelopeFrom: "<>", envelopeTo: `bounce+${MESSAGE_ID}@bounces.lasthop.test` });
    expect(report).toMatchObject({
      kind: "dsn",
      messageId: MESSAGE_ID,
      recipients: [{ recipient: "gone@example.org", class: "hard", reason: "userunknown" }],
    });
  });
});

describe("hostile reports stay within the events queue's limits", () => {
  it("150 failed recipients: 150 events, in sendBatch calls of at most 100", async () => {
    const status = Array.from({ length: 150 }, (_, i) =>
      [`Final-Recipient: rfc822; r${i}@example.jp`, "Action: failed", "Status: 5.1.1", ""].join("\r\n"),
    ).join("\r\n");
    const events = await feedbackEvents(await parseFeedbackMessage(dsn({ status })), { account: "acct", receivedAt: RECEIVED_AT });
    expect(events).toHaveLength(150);
    const plan = planQueueBatches(events);
    expect(plan.ok && plan.batches.map((b) => b.length)).toEqual([100, 50]);
  });

  it("fields of 20,000 characters are kept to 512: each event far under a queue message", async () => {
    const long = "ü".repeat(20_000);
    const status = [
      `Final-Recipient: rfc822; r-${"a".repeat(20_000)}@example.jp`,
      "Action: failed",
      `Status: 5.1.1 ${long}`,
      `Remote-MTA: dns; ${long}`,
      `Diagnostic-Code: smtp; 550 5.1.1 ${long}`,
    ].join("\r\n");
    const events = await feedbackEvents(await parseFeedbackMessage(dsn({ status })), { account: "acct", receivedAt: RECEIVED_AT });
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) {
      expect(jsonBytes(event)).toBeLessThan(QUEUE_MESSAGE_MAX_BYTES / 4);
      for (const value of Object.values(event.detail)) if (typeof value === "string") expect(value.length).toBeLessThanOrEqual(512);
    }
  });

  it("an ARF complaint naming 500 original recipients keeps 20, each at most 512 characters", async () => {
    const fields = Array.from({ length: 500 }, (_, i) => `Original-Rcpt-To: <r${i}-${"b".repeat(2_000)}@example.jp>`);
    const report = await parseFeedbackMessage(arf({ fields, returned: returnedMessage() }));
    const [event] = await feedbackEvents(report, { account: "acct", receivedAt: RECEIVED_AT });
    expect(event!.type).toBe("complained");
    const listed = event!.detail.originalRcptTo as string[];
    expect(listed.length).toBeLessThanOrEqual(20);
    for (const address of listed) expect(address.length).toBeLessThanOrEqual(512);
    expect(jsonBytes(event)).toBeLessThan(QUEUE_MESSAGE_MAX_BYTES / 4);
  });
});
