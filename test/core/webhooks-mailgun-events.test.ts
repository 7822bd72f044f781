import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EventType } from "../../src/core/model.ts";
import { classifyProviderBounce, providerEvent, type NormalizeResult, type ProviderEvent } from "../../src/core/provider-event.ts";
import { recipientEffect } from "../../src/core/suppression.ts";
import { normalize, SUPPRESSION_REASONS } from "../../src/webhooks/mailgun.ts";

type Body = { signature: Record<string, unknown>; "event-data": Record<string, unknown> };

/** A fixture's documented body; each file names its source. */
const fixture = (name: string): Body =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/mailgun/${name}.json`, import.meta.url), "utf8")).body;

/** The fixture with some event-data fields replaced (undefined removes one). */
function edit(name: string, changes: Record<string, unknown>): Body {
  const body = fixture(name);
  const data: Record<string, unknown> = { ...body["event-data"], ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete data[key];
  return { ...body, "event-data": data };
}

const CTX = { account: "acct-mailgun", receivedAt: "2026-12-05T10:00:00.000Z" };
const OURS = crypto.randomUUID();
const withOurs = (name: string, changes: Record<string, unknown> = {}) =>
  edit(name, { "user-variables": { lasthop_id: OURS }, ...changes });

async function run(body: unknown): Promise<Extract<NormalizeResult, { ok: true }>> {
  const result = await normalize(body, CTX);
  if (!result.ok) throw new Error(`not ok: ${JSON.stringify(result.issues)}`);
  return result;
}

async function one(body: unknown): Promise<ProviderEvent> {
  const { events, skipped } = await run(body);
  expect(skipped).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
}

type Effect = ReturnType<typeof recipientEffect>;

describe("mailgun normalize: every documented event", () => {
  const rows: Array<[string, EventType, string, Record<string, unknown>, Effect]> = [
    ["accepted", "accepted", "recipient@sample.mailgun.com", { providerType: "accepted" }, null],
    ["delivered", "delivered", "recipient@sample.mailgun.com", { providerType: "delivered", response: "OK" }, { kind: "delivered" }],
    [
      "opened",
      "opened",
      "recipient@sample.mailgun.com",
      {
        providerType: "opened",
        ip: "38.142.208.162",
        userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/144.0.0.0 Safari/537.36",
      },
      null,
    ],
    [
      "clicked",
      "clicked",
      "recipient@sample.mailgun.com",
      { providerType: "clicked", url: "https://sample.mailgun.com", ip: "9.169.124.21" },
      null,
    ],
    [
      "failed-permanent",
      "bounced",
      "badrecipient@sample.mailgun.com",
      { providerType: "failed:permanent", smtpCode: 550, enhancedCode: "5.5.0", providerReason: "bounce", bounceType: "hard" },
      null,
    ],
    [
      "failed-temporary",
      "deferred",
      "tempfailrecipient@sample.mailgun.com",
      { providerType: "failed:temporary", smtpCode: 421, providerReason: "generic", attempt: 1 },
      null,
    ],
    [
      "failed-suppress-bounce",
      "suppressed",
      "alice@example.com",
      { providerType: "failed:permanent", providerReason: "suppress-bounce", diagnostic: "Not delivering to previously bounced address" },
      null,
    ],
    [
      "unsubscribed",
      "unsubscribed",
      "recipient@sample.mailgun.com",
      { providerType: "unsubscribed" },
      { kind: "suppress", reason: "unsubscribe" },
    ],
    ["complained", "complained", "recipient@sample.mailgun.com", { providerType: "complained" }, { kind: "suppress", reason: "complaint" }],
  ];

  it.each(rows)("%s", async (name, type, recipient, detail, effect) => {
    const body = withOurs(name);
    const data = body["event-data"];
    const event = await one(body);
    expect(providerEvent.parse(event)).toEqual(event);
    expect(event).toMatchObject({
      id: `mailgun:${data.id}@${data.timestamp}`,
      account: CTX.account,
      type,
      provider: "mailgun",
      channel: "email",
      recipient,
      providerMessageId: (data.message as { headers: Record<string, string> }).headers["message-id"],
      messageId: OURS,
      occurredAt: new Date((data.timestamp as number) * 1000).toISOString(),
      receivedAt: CTX.receivedAt,
    });
    expect(event.detail).toMatchObject(detail);
    if (type !== "bounced") expect(recipientEffect("email", event)).toEqual(effect);
  });

  it("a permanent failure's class and reason are our classifier's, fed Mailgun's evidence", async () => {
    const event = await one(fixture("failed-permanent"));
    const status = fixture("failed-permanent")["event-data"]["delivery-status"] as Record<string, string>;
    const expected = classifyProviderBounce({
      smtpCode: 550,
      enhancedCode: "5.5.0",
      diagnostic: status.message,
      permanent: true,
      recipient: "badrecipient@sample.mailgun.com",
    });
    expect(event.detail).toMatchObject({ class: expected.class, reason: expected.reason, diagnostic: status.message });
  });

  it("a permanent failure the classifier cannot read is hard, and suppresses", async () => {
    const event = await one(edit("failed-permanent", { "delivery-status": { code: 550, message: "Requested action not taken" } }));
    expect(event.detail).toMatchObject({ class: "hard", smtpCode: 550 });
    expect(recipientEffect("email", event)).toEqual({ kind: "suppress", reason: "hard_bounce" });
  });

  it("Mailgun's bounce-type soft keeps a permanent failure soft", async () => {
    const status = { code: 550, message: "Requested action not taken", "bounce-type": "soft" };
    const event = await one(edit("failed-permanent", { "delivery-status": status }));
    expect(event.detail).toMatchObject({ class: "soft", bounceType: "soft" });
  });

  it("a delayed bounce is told", async () => {
    const event = await one(edit("failed-permanent", { flags: { "is-delayed-bounce": true } }));
    expect(event.detail.delayedBounce).toBe(true);
  });

  it("Mailgun's own codes (605) are not taken for SMTP replies", async () => {
    const event = await one(edit("failed-suppress-bounce", { reason: "bounce" }));
    expect(event.type).toBe("bounced");
    expect(event.detail).not.toHaveProperty("smtpCode");
  });
});

describe("mailgun normalize: failures Mailgun did not try", () => {
  it.each([...SUPPRESSION_REASONS])("%s is suppressed, not a bounce", async (reason) => {
    const event = await one(edit("failed-suppress-bounce", { reason }));
    expect(event.type).toBe("suppressed");
    expect(event.detail.providerReason).toBe(reason);
    expect(recipientEffect("email", event)).toBeNull();
  });

  it("the list is Mailgun's three", () => {
    expect([...SUPPRESSION_REASONS].sort()).toEqual(["suppress-bounce", "suppress-complaint", "suppress-unsubscribe"]);
  });

  it("a temporary failure is deferred whatever its reason", async () => {
    expect((await one(edit("failed-temporary", { reason: "suppress-bounce" }))).type).toBe("deferred");
  });

  it("rejected is a failure of the message", async () => {
    // The shape of mailgun-go's events.Rejected: the reason in `reject`.
    const event = await one(
      edit("accepted", { event: "rejected", reject: { reason: "unverified domain", description: "Domain is not verified" } }),
    );
    expect(event.type).toBe("failed");
    expect(event.detail).toMatchObject({
      providerType: "rejected",
      providerReason: "unverified domain",
      diagnostic: "Domain is not verified",
    });
  });
});

describe("mailgun normalize: unsubscribes", () => {
  it("from everything (the tag *) suppresses", async () => {
    const event = await one(fixture("unsubscribed"));
    expect(event.detail).not.toHaveProperty("group");
    expect(recipientEffect("email", event)).toEqual({ kind: "suppress", reason: "unsubscribe" });
  });

  it("from some tags only is a group", async () => {
    const event = await one(edit("unsubscribed", { tags: ["newsletter", "digest"] }));
    expect(event.detail.group).toBe("newsletter,digest");
    expect(recipientEffect("email", event)).toBeNull();
  });

  it("from a mailing list is that list", async () => {
    const event = await one(edit("unsubscribed", { "mailing-list": { address: "news@lists.example.com" } }));
    expect(event.detail.group).toBe("news@lists.example.com");
  });

  it("the event name in capitals (seen in the wild) is the same event", async () => {
    expect((await one(edit("unsubscribed", { event: "UNSUBSCRIBED" }))).type).toBe("unsubscribed");
  });
});

describe("mailgun normalize: ids", () => {
  it("the same event twice has the same id", async () => {
    expect((await one(fixture("delivered"))).id).toBe((await one(fixture("delivered"))).id);
  });

  it("Mailgun's id is unique within a day only: another time is another event", async () => {
    const a = await one(fixture("delivered"));
    const b = await one(edit("delivered", { timestamp: 1770146431.6585283 + 86_400 * 3 }));
    expect(b.id).not.toBe(a.id);
  });

  it("without an id it is derived, and differs per recipient", async () => {
    const bare = edit("delivered", { id: undefined });
    const first = await one(bare);
    expect(first.id).toMatch(/^mailgun:[0-9a-f]{64}$/);
    expect((await one(bare)).id).toBe(first.id);
    expect((await one(edit("delivered", { id: undefined, recipient: "other@sample.mailgun.com" }))).id).not.toBe(first.id);
  });
});

describe("mailgun normalize: message ids and our id", () => {
  it("the Message-ID is kept bare, as the webhook sends it, even if bracketed", async () => {
    const event = await one(
      edit("delivered", { message: { headers: { "message-id": "<20260203192030.53383e583ab41f62@sample.mailgun.com>" } } }),
    );
    expect(event.providerMessageId).toBe("20260203192030.53383e583ab41f62@sample.mailgun.com");
  });

  it("no Message-ID is skipped, named", async () => {
    expect(await run(edit("delivered", { message: { headers: {} } }))).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type: "delivered", reason: "no_message_id" }],
    });
  });

  it.each([
    ["user-variables as the docs send them, []", []],
    ["other variables only", { my_var_1: "Mailgun Variable #1" }],
    ["ours, not a UUID", { lasthop_id: "12345" }],
    ["no user-variables", undefined],
  ])("our id is absent: %s", async (_name, variables) => {
    expect(await one(edit("delivered", { "user-variables": variables }))).not.toHaveProperty("messageId");
  });

  it("our id is present when echoed", async () => {
    expect((await one(withOurs("delivered"))).messageId).toBe(OURS);
  });
});

describe("mailgun normalize: skipped and refused", () => {
  it.each([
    ["stored", "not_a_message_event"],
    ["list_member_uploaded", "not_a_message_event"],
    ["list_member_upload_error", "not_a_message_event"],
    ["list_uploaded", "not_a_message_event"],
    ["some_future_event", "unknown_type"],
  ])("%s is skipped: %s", async (event, reason) => {
    expect(await run(edit("accepted", { event }))).toEqual({ ok: true, events: [], skipped: [{ index: 0, type: event, reason }] });
  });

  it("an event without a recipient is skipped, named", async () => {
    expect((await run(edit("delivered", { recipient: undefined }))).skipped).toEqual([
      { index: 0, type: "delivered", reason: "no_recipient" },
    ]);
  });

  it.each([
    ["no event-data", { signature: {} }, "event-data"],
    ["event-data without event", { "event-data": { id: "x" } }, "event-data.event"],
    ["an event that is not a name", { "event-data": { event: 7 } }, "event-data.event"],
    [
      "a code that is neither number nor string",
      edit("failed-permanent", { "delivery-status": { code: [550] } }),
      "event-data.delivery-status.code",
    ],
    ["not an object", "event-data", "(body)"],
  ])("refused, with a path: %s", async (_name, body, path) => {
    const result = await normalize(body, CTX);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((issue) => issue.path)).toEqual([path]);
  });
});

describe("mailgun normalize: times", () => {
  it("a float timestamp keeps its milliseconds", async () => {
    expect((await one(fixture("delivered"))).occurredAt).toBe("2026-02-03T19:20:31.658Z");
  });

  it("a timestamp sent as digits is read", async () => {
    expect((await one(edit("delivered", { timestamp: "1521233195.375624" }))).occurredAt).toBe("2018-03-16T20:46:35.375Z");
  });

  it("none falls back to receivedAt", async () => {
    expect((await one(edit("delivered", { timestamp: undefined }))).occurredAt).toBe(CTX.receivedAt);
  });
});
