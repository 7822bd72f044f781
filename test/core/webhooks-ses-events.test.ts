import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type NormalizeResult, type ProviderEvent, providerEvent } from "../../src/core/provider-event.ts";
import { recipientEffect } from "../../src/core/suppression.ts";
import { normalize } from "../../src/webhooks/ses.ts";

/*
 * Fixtures (test/fixtures/webhooks/ses) are AWS's own examples from the SES developer guide:
 * event-*.json from "Examples of event data that Amazon SES publishes to Amazon SNS" (the
 * Subscription record as the guide prints it for event destinations), notification-*.json
 * from "Amazon SNS notification examples for Amazon SES". Variants are those, changed.
 */

type Body = Record<string, any>;
const fixture = (name: string): Body => JSON.parse(readFileSync(new URL(`../fixtures/webhooks/ses/${name}.json`, import.meta.url), "utf8"));

const RECEIVED = "2026-03-01T12:00:00.000Z";
const CTX = { account: "acct_ses", receivedAt: RECEIVED };
const OURS = "5f0c7a1e-3b2d-4c8e-9a6f-1d2e3f4a5b6c";
const EXAMPLE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000";

async function run(body: unknown, receivedAt = RECEIVED): Promise<Extract<NormalizeResult, { ok: true }>> {
  const result = await normalize(body, { ...CTX, receivedAt });
  if (!result.ok) throw new Error(`not normalized: ${JSON.stringify(result.issues)}`);
  // Every output is a valid ProviderEvent as it stands.
  for (const event of result.events) expect(providerEvent.parse(event)).toEqual(event);
  return result;
}
const only = async (body: unknown): Promise<ProviderEvent> => {
  const { events, skipped } = await run(body);
  expect(skipped).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
};
const change = (name: string, edit: (body: Body) => void): Body => {
  const body = structuredClone(fixture(name));
  edit(body);
  return body;
};
const tagged = (name: string, value: unknown) => change(name, (b) => (b.mail.tags = { ...b.mail.tags, lasthop_id: value }));

describe("SES normalize: every documented type, from AWS's examples", () => {
  it.each([
    {
      name: "event-bounce",
      type: "bounced",
      recipients: ["recipient@example.com"],
      at: "2017-08-05T00:41:02.669Z",
      detail: {
        providerType: "Bounce/Permanent/General",
        class: "hard",
        reason: "userunknown",
        smtpCode: 550,
        enhancedCode: "5.1.1",
        diagnostic: "smtp; 550 5.1.1 user unknown",
        bounceType: "Permanent",
        bounceSubType: "General",
      },
    },
    {
      name: "event-complaint",
      type: "complained",
      recipients: ["recipient@example.com"],
      at: "2017-08-05T00:41:02.669Z",
      detail: { providerType: "Complaint", feedbackType: "abuse" },
    },
    {
      name: "event-delivery",
      type: "delivered",
      recipients: ["recipient@example.com"],
      at: "2016-10-19T23:21:04.133Z",
      detail: { providerType: "Delivery", smtpResponse: "250 2.6.0 Message received", reportingMta: "mta.example.com" },
    },
    // Send has no time of its own: the mail's.
    {
      name: "event-send",
      type: "accepted",
      recipients: ["recipient@example.com"],
      at: "2016-10-14T05:02:16.645Z",
      detail: { providerType: "Send" },
    },
    {
      name: "event-reject",
      type: "failed",
      recipients: ["sender@example.com"],
      at: "2016-10-14T17:38:15.211Z",
      detail: { providerType: "Reject", reason: "Bad content" },
    },
    {
      name: "event-open",
      type: "opened",
      recipients: ["recipient@example.com"],
      at: "2017-08-09T22:00:19.652Z",
      detail: { providerType: "Open", ip: "192.0.2.1", userAgent: expect.stringContaining("iPhone") },
    },
    {
      name: "event-click",
      type: "clicked",
      recipients: ["recipient@example.com"],
      at: "2017-08-09T23:51:25.570Z",
      detail: { providerType: "Click", url: "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html", ip: "192.0.2.1" },
    },
    {
      name: "event-rendering-failure",
      type: "failed",
      recipients: ["recipient@example.com"],
      at: "2018-01-22T18:43:06.197Z",
      detail: {
        providerType: "Rendering Failure",
        reason: "rendering_failure",
        templateName: "MyTemplate",
        errorMessage: expect.any(String),
      },
    },
    {
      name: "event-delivery-delay",
      type: "deferred",
      recipients: ["recipient@example.com"],
      at: "2020-06-16T00:25:40.095Z",
      detail: { providerType: "DeliveryDelay", delayType: "TransientCommunicationFailure", smtpCode: 421, enhancedCode: "4.4.1" },
    },
    {
      name: "event-subscription",
      type: "unsubscribed",
      recipients: ["recipient@example.com"],
      at: "2022-01-12T01:00:17.910Z",
      messageId: "EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000",
      detail: { providerType: "Subscription", contactList: "ContactListName", source: "UnsubscribeHeader" },
    },
    {
      name: "notification-bounce-dsn",
      type: "bounced",
      recipients: ["jane@example.com"],
      at: "2016-01-27T14:59:38.237Z",
      messageId: "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
      detail: { class: "hard", reason: "userunknown", enhancedCode: "5.1.1", smtpCode: 550, action: "failed" },
    },
    {
      name: "notification-bounce-no-dsn",
      type: "bounced",
      recipients: ["jane@example.com", "richard@example.com"],
      at: "2016-01-27T14:59:38.237Z",
      messageId: "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
      detail: { providerType: "Bounce/Permanent/General", class: "hard" },
    },
    {
      name: "notification-complaint-feedback",
      type: "complained",
      recipients: ["richard@example.com"],
      at: "2016-01-27T14:59:38.237Z",
      messageId: "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
      detail: { providerType: "Complaint", feedbackType: "abuse" },
    },
    {
      name: "notification-delivery",
      type: "delivered",
      recipients: ["jane@example.com"],
      at: "2016-01-27T14:59:38.237Z",
      messageId: "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
      detail: { providerType: "Delivery", remoteMtaIp: "127.0.2.0", smtpResponse: "250 ok:  Message 64111812 accepted" },
    },
  ])("$name → $type", async (row) => {
    const { events, skipped } = await run(fixture(row.name));
    expect(skipped).toEqual([]);
    expect(events.map((e) => e.recipient)).toEqual(row.recipients);
    for (const event of events) {
      expect(event).toMatchObject({
        type: row.type,
        account: "acct_ses",
        provider: "ses",
        channel: "email",
        occurredAt: row.at,
        receivedAt: RECEIVED,
        providerMessageId: row.messageId ?? EXAMPLE_ID,
        detail: row.detail,
      });
      // AWS's examples carry no lasthop_id tag: no id of ours is made up.
      expect(event).not.toHaveProperty("messageId");
    }
    // The same notification again (a retry, received later) gives the same ids; recipients differ.
    const again = await run(fixture(row.name), "2026-03-02T00:00:00.000Z");
    expect(again.events.map((e) => e.id)).toEqual(events.map((e) => e.id));
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  });

  it("names a report by SES's feedbackId and the recipient, the same in both shapes", async () => {
    const published = await only(fixture("event-bounce"));
    expect(published.id).toBe("ses:01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000:recipient@example.com");
    const identity = await only(
      change("event-bounce", (b) => {
        b.notificationType = b.eventType;
        delete b.eventType;
      }),
    );
    expect(identity.id).toBe(published.id);
    const twice = await run(fixture("notification-bounce-no-dsn"));
    expect(twice.events.map((e) => e.id)).toEqual([
      "ses:00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000:jane@example.com",
      "ses:00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000:richard@example.com",
    ]);
  });

  it("derives an id from stable fields where SES gives none: never the time it was received", async () => {
    const first = await only(fixture("event-delivery"));
    expect(first.id).toMatch(/^ses:[0-9a-f]{64}$/);
    const later = await run(fixture("event-delivery"), "2027-01-01T00:00:00.000Z");
    expect(later.events[0]!.id).toBe(first.id);
    const another = await only(change("event-delivery", (b) => (b.delivery.timestamp = "2016-10-19T23:22:00.000Z")));
    expect(another.id).not.toBe(first.id);
    const otherMessage = await only(change("event-delivery", (b) => (b.mail.messageId = "another-message")));
    expect(otherMessage.id).not.toBe(first.id);
    // Two opens of one message are two events.
    const open = await only(fixture("event-open"));
    const reopened = await only(change("event-open", (b) => (b.open.timestamp = "2017-08-10T08:00:00.000Z")));
    expect(reopened.id).not.toBe(open.id);
  });

  it("falls back to the mail's time, then to when it was received", async () => {
    expect((await only(change("event-delivery", (b) => delete b.delivery.timestamp))).occurredAt).toBe("2016-10-19T23:20:52.240Z");
    const timeless = await only(
      change("event-delivery", (b) => {
        delete b.delivery.timestamp;
        delete b.mail.timestamp;
      }),
    );
    expect(timeless.occurredAt).toBe(RECEIVED);
  });
});

describe("SES normalize: our id from the lasthop_id tag", () => {
  it.each([
    { name: "a UUID in SES's array form", tag: [OURS], expected: OURS },
    { name: "a bare string", tag: OURS, expected: OURS },
    { name: "not a UUID", tag: ["msg-123"], expected: undefined },
    { name: "an empty array", tag: [], expected: undefined },
  ])("$name", async ({ tag, expected }) => {
    for (const name of ["event-send", "event-bounce", "event-click"]) {
      const event = await only(tagged(name, tag));
      if (expected) expect(event.messageId).toBe(expected);
      else expect(event).not.toHaveProperty("messageId");
      expect(event.providerMessageId).toBe(EXAMPLE_ID);
    }
  });
});

describe("SES normalize: bounces", () => {
  const bounce = (fields: Body, recipient: Body = {}) =>
    change("event-bounce", (b) => {
      Object.assign(b.bounce, fields);
      b.bounce.bouncedRecipients = [{ emailAddress: "recipient@example.com", ...recipient }];
    });
  it.each([
    {
      name: "Transient/MailboxFull with a DSN",
      body: bounce(
        { bounceType: "Transient", bounceSubType: "MailboxFull" },
        { status: "4.2.2", diagnosticCode: "smtp; 452 4.2.2 Mailbox full" },
      ),
      detail: { class: "soft", reason: "mailboxfull", smtpCode: 452, enhancedCode: "4.2.2", providerType: "Bounce/Transient/MailboxFull" },
    },
    {
      name: "Transient/MailboxFull without a DSN: SES's subtype names the reason",
      body: bounce({ bounceType: "Transient", bounceSubType: "MailboxFull" }),
      detail: { class: "soft", reason: "mailboxfull" },
    },
    {
      name: "Transient/ContentRejected without a DSN",
      body: bounce({ bounceType: "Transient", bounceSubType: "ContentRejected" }),
      detail: { class: "soft", reason: "contenterror" },
    },
    {
      name: "Transient says soft even with a 5xx",
      body: bounce(
        { bounceType: "Transient", bounceSubType: "General" },
        { status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" },
      ),
      detail: { class: "soft", reason: "userunknown" },
    },
    {
      name: "Permanent/NoEmail without a DSN",
      body: bounce({ bounceType: "Permanent", bounceSubType: "NoEmail" }),
      detail: { class: "hard", reason: "userunknown" },
    },
    {
      name: "Permanent, but a spam refusal: the address is not condemned",
      body: bounce(
        { bounceType: "Permanent", bounceSubType: "General" },
        { status: "5.7.1", diagnosticCode: "smtp; 550 5.7.1 Message rejected as spam by Content Filtering" },
      ),
      detail: { class: "soft", enhancedCode: "5.7.1" },
    },
    {
      name: "Undetermined stays undetermined, whatever the words",
      body: bounce({ bounceType: "Undetermined", bounceSubType: "Undetermined" }, { diagnosticCode: "smtp; 550 5.1.1 user unknown" }),
      detail: { class: "undetermined", reason: "userunknown", providerType: "Bounce/Undetermined/Undetermined" },
    },
    {
      // As SES words a global suppression-list bounce.
      name: "Permanent/Suppressed",
      body: bounce(
        { bounceType: "Permanent", bounceSubType: "Suppressed", reportingMTA: "dns; amazonses.com" },
        {
          action: "failed",
          status: "5.1.1",
          diagnosticCode:
            "Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address.",
        },
      ),
      detail: { class: "hard", reason: "suppressed", sesSuppressed: true, bounceSubType: "Suppressed" },
    },
    {
      name: "Permanent/OnAccountSuppressionList",
      body: bounce({ bounceType: "Permanent", bounceSubType: "OnAccountSuppressionList" }),
      detail: { class: "hard", reason: "suppressed", sesSuppressed: true },
    },
  ])("$name", async ({ body, detail }) => {
    const event = await only(body);
    expect(event.type).toBe("bounced");
    expect(event.detail).toMatchObject(detail);
    // hard suppresses; soft only counts; undetermined does nothing (an unknown is no evidence).
    expect(recipientEffect("email", event)).toEqual(
      detail.class === "hard"
        ? { kind: "suppress", reason: "hard_bounce" }
        : detail.class === "undetermined"
          ? null
          : { kind: "soft_bounce" },
    );
  });

  it("leaves sesSuppressed off an ordinary bounce", async () => {
    expect((await only(fixture("event-bounce"))).detail).not.toHaveProperty("sesSuppressed");
  });
});

describe("SES normalize: complaints", () => {
  const complaint = (fields: Body, recipients = ["recipient@example.com"]) =>
    change("event-complaint", (b) => {
      Object.assign(b.complaint, fields);
      b.complaint.complainedRecipients = recipients.map((emailAddress) => ({ emailAddress }));
    });
  it.each([
    { name: "abuse", body: complaint({}), type: "complained", feedbackType: "abuse", suppresses: true },
    {
      name: "no feedback report",
      body: complaint({ complaintFeedbackType: undefined }),
      type: "complained",
      feedbackType: undefined,
      suppresses: true,
    },
    {
      name: "a feedback type in capitals",
      body: complaint({ complaintFeedbackType: "Abuse" }),
      type: "complained",
      feedbackType: "abuse",
      suppresses: true,
    },
    {
      name: "not-spam",
      body: complaint({ complaintFeedbackType: "not-spam" }),
      type: "complained",
      feedbackType: "not-spam",
      suppresses: false,
    },
    {
      name: "OnAccountSuppressionList: SES sent nothing, no one complained now",
      body: complaint({ complaintSubType: "OnAccountSuppressionList", complaintFeedbackType: undefined }),
      type: "suppressed",
      feedbackType: undefined,
      suppresses: false,
    },
  ])("$name → $type", async ({ body, type, feedbackType, suppresses }) => {
    const event = await only(body);
    expect(event.type).toBe(type);
    expect(event.detail.feedbackType).toBe(feedbackType);
    expect(recipientEffect("email", event)?.kind === "suppress").toBe(suppresses);
  });

  it("marks the suppression-list subtype as SES's", async () => {
    const event = await only(complaint({ complaintSubType: "OnAccountSuppressionList" }));
    expect(event.detail).toEqual({ providerType: "Complaint/OnAccountSuppressionList", sesSuppressed: true });
  });

  it("fans out to each complained recipient, each with its own id", async () => {
    const { events } = await run(complaint({}, ["a@example.com", "b@example.com"]));
    expect(events.map((e) => e.recipient)).toEqual(["a@example.com", "b@example.com"]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });
});

describe("SES normalize: subscriptions", () => {
  const topics = (...entries: Array<[string, string]>) =>
    entries.map(([topicName, subscriptionStatus]) => ({ topicName, subscriptionStatus }));
  const subscription = (now: Body, before?: Body) =>
    change("event-subscription", (b) => {
      b.subscription.newTopicPreferences = now;
      if (before) b.subscription.oldTopicPreferences = before;
      else delete b.subscription.oldTopicPreferences;
    });
  it.each([
    {
      name: "left one topic",
      body: subscription(
        { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptOut"], ["Billing", "OptIn"]) },
        { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptIn"], ["Billing", "OptIn"]) },
      ),
      expected: [{ type: "unsubscribed", group: "News" }],
    },
    {
      name: "came back to a topic",
      body: subscription(
        { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptIn"]) },
        { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptOut"]) },
      ),
      expected: [{ type: "resubscribed", group: "News" }],
    },
    {
      name: "came back to the list",
      body: subscription({ unsubscribeAll: false }, { unsubscribeAll: true }),
      expected: [{ type: "resubscribed", group: undefined }],
    },
    {
      name: "left one topic, no old preferences to compare",
      body: subscription({ unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OPT_OUT"]) }),
      expected: [{ type: "unsubscribed", group: "News" }],
    },
    {
      name: "nothing left, no old preferences to compare",
      body: subscription({ unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptIn"]) }),
      expected: [{ type: "resubscribed", group: undefined }],
    },
  ])("$name", async ({ body, expected }) => {
    const { events, skipped } = await run(body);
    expect(skipped).toEqual([]);
    expect(events.map((e) => ({ type: e.type, group: e.detail.group }))).toEqual(expected);
    for (const event of events) {
      // Leaving one topic leaves the rest wanted: no suppression.
      expect(recipientEffect("email", event)).toEqual(
        event.type === "unsubscribed" && event.detail.group === undefined ? { kind: "suppress", reason: "unsubscribe" } : null,
      );
    }
  });

  it("suppresses on unsubscribeAll (AWS's example)", async () => {
    const event = await only(fixture("event-subscription"));
    expect(event.detail).not.toHaveProperty("group");
    expect(recipientEffect("email", event)).toEqual({ kind: "suppress", reason: "unsubscribe" });
  });

  it("gives each change of one event its own id", async () => {
    const { events } = await run(
      subscription(
        { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptOut"], ["Offers", "OptOut"]) },
        { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptIn"], ["Offers", "OptIn"]) },
      ),
    );
    expect(events.map((e) => e.detail.group)).toEqual(["News", "Offers"]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });

  it("skips an event that changed nothing", async () => {
    const same = { unsubscribeAll: false, topicSubscriptionStatus: topics(["News", "OptOut"]) };
    expect(await run(subscription(same, same))).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type: "Subscription", reason: "no_preference_change" }],
    });
  });
});

describe("SES normalize: whose event", () => {
  const destinations = (name: string, destination: string[]) => change(name, (b) => (b.mail.destination = destination));
  it.each(["event-send", "event-reject", "event-rendering-failure"])("%s is about every recipient of the message", async (name) => {
    const { events } = await run(destinations(name, ["a@example.com", "B <b@example.com>"]));
    expect(events.map((e) => e.recipient)).toEqual(["a@example.com", "b@example.com"]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });

  it.each(["event-open", "event-click", "event-subscription"])("%s of a message with several recipients names no one", async (name) => {
    const type = fixture(name).eventType;
    expect(await run(destinations(name, ["a@example.com", "b@example.com"]))).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type, reason: "ambiguous_recipient" }],
    });
  });

  it.each(["event-send", "event-open"])("%s with no recipient is skipped, named", async (name) => {
    const type = fixture(name).eventType;
    expect((await run(destinations(name, []))).skipped).toEqual([{ index: 0, type, reason: "no_recipient" }]);
  });

  it("names a blank address in a list and keeps the rest", async () => {
    const { events, skipped } = await run(
      change("notification-bounce-no-dsn", (b) => b.bounce.bouncedRecipients.push({ emailAddress: "  " })),
    );
    expect(events.map((e) => e.recipient)).toEqual(["jane@example.com", "richard@example.com"]);
    expect(skipped).toEqual([{ index: 0, type: "Bounce", reason: "no_recipient" }]);
  });
});

describe("SES normalize: what is not a message event", () => {
  it.each([
    {
      body: {
        notificationType: "AmazonSnsSubscriptionSucceeded",
        message:
          "You have successfully subscribed your Amazon SNS topic 'arn:aws:sns:us-east-1:123456789012:t' to receive 'Bounce' notifications.",
      },
      reason: "not_a_message_event",
    },
    { body: { notificationType: "Received", mail: { messageId: "m" }, receipt: {} }, reason: "not_a_message_event" },
    { body: { eventType: "Teleport", mail: { messageId: "m" } }, reason: "unknown_type" },
  ])("$body.notificationType$body.eventType → $reason", async ({ body, reason }) => {
    expect(await normalize(body, CTX)).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type: body.notificationType ?? body.eventType, reason }],
    });
  });
});

describe("SES normalize: not SES's shape", () => {
  it.each([
    { name: "not an object", body: "Bounce", path: "(body)" },
    { name: "no kind", body: { mail: { messageId: "m" } }, path: "eventType" },
    { name: "a bounce without its object", body: { eventType: "Bounce", mail: { messageId: "m" } }, path: "bounce" },
    { name: "no message id", body: change("event-delivery", (b) => delete b.mail.messageId), path: "mail.messageId" },
    {
      name: "a recipient that is not a string",
      body: change("event-bounce", (b) => (b.bounce.bouncedRecipients[0].emailAddress = 42)),
      path: "bounce.bouncedRecipients.0.emailAddress",
    },
    { name: "a click without its link", body: change("event-click", (b) => delete b.click.link), path: "click.link" },
  ])("$name → ok:false at $path", async ({ body, path }) => {
    const result = await normalize(body, CTX);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((issue) => issue.path)).toContain(path);
  });
});
