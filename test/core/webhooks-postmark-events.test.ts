import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EventType } from "../../src/core/model.ts";
import { providerEvent, type NormalizeResult, type ProviderEvent } from "../../src/core/provider-event.ts";
import { recipientEffect } from "../../src/core/suppression.ts";
import { normalize, POSTMARK_BOUNCE_TYPES, postmarkBounceKind, type PostmarkBounceKind } from "../../src/webhooks/postmark.ts";

type Record_ = Record<string, unknown>;

/** A fixture's documented body; each file names its source. */
const fixture = (name: string): Record_ =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/postmark/${name}.json`, import.meta.url), "utf8")).body;

/** The fixture with some fields replaced (undefined removes one). */
function edit(name: string, changes: Record_): Record_ {
  const body: Record_ = { ...fixture(name), ...changes };
  for (const [key, value] of Object.entries(changes)) if (value === undefined) delete body[key];
  return body;
}

const CTX = { account: "acct-postmark", receivedAt: "2026-12-05T10:00:00.000Z" };
const OURS = crypto.randomUUID();
const MESSAGE = "883953f4-6105-42a2-a16a-77a8eac79483";
const AT = "2026-11-05T16:33:54.907Z";

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

describe("postmark normalize: every record type", () => {
  const rows: Array<[string, EventType, Record_, Effect]> = [
    [
      "delivery",
      "delivered",
      { providerType: "Delivery", response: "250 2.0.0 OK  1762360434 x12-20020a05 - gsmtp" },
      { kind: "delivered" },
    ],
    [
      "bounce",
      "bounced",
      { providerType: "Bounce:HardBounce", class: "hard", diagnostic: "Test bounce details", typeCode: 1, inactive: true },
      null,
    ],
    ["spam-complaint", "complained", { providerType: "SpamComplaint", feedbackType: "abuse" }, { kind: "suppress", reason: "complaint" }],
    [
      "open",
      "opened",
      {
        providerType: "Open",
        firstOpen: true,
        ip: "203.0.113.42",
        userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 15_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.7339.80 Safari/537.36",
      },
      null,
    ],
    ["click", "clicked", { providerType: "Click", url: "https://example.com/confirm-your-address", ip: "203.0.113.42" }, null],
    [
      "subscription-change",
      "unsubscribed",
      { providerType: "SubscriptionChange", group: "outbound", suppressionReason: "HardBounce", origin: "Recipient" },
      null,
    ],
  ];

  it.each(rows)("%s", async (name, type, detail, effect) => {
    const source = fixture(name);
    const event = await one({ ...source, Metadata: { lasthop_id: OURS } });
    expect(providerEvent.parse(event)).toEqual(event);
    expect(event).toMatchObject({
      account: CTX.account,
      type,
      provider: "postmark",
      channel: "email",
      recipient: "margareth@nasa.com",
      providerMessageId: MESSAGE,
      messageId: OURS,
      occurredAt: AT,
      receivedAt: CTX.receivedAt,
    });
    expect(event.id).toBe(source.ID === undefined ? event.id : `postmark:${source.ID}`);
    expect(event.id).toMatch(source.ID === undefined ? /^postmark:[0-9a-f]{64}$/ : /^postmark:\d+$/);
    expect(event.detail).toMatchObject({ messageStream: "outbound", ...detail });
    if (type !== "bounced") expect(recipientEffect("email", event)).toEqual(effect);
    else expect(recipientEffect("email", event)).toEqual({ kind: "suppress", reason: "hard_bounce" });
  });

  it("a reactivation is resubscribed, to the same stream", async () => {
    const event = await one(edit("subscription-change", { SuppressSending: false, SuppressionReason: null, Tag: null, Metadata: {} }));
    expect(event.type).toBe("resubscribed");
    expect(event.detail).toMatchObject({ group: "outbound", origin: "Recipient" });
    expect(event.detail).not.toHaveProperty("suppressionReason");
  });

  it("an unsubscribe (ManualSuppression) is for its stream only: no suppression of the address", async () => {
    const event = await one(edit("subscription-change", { SuppressionReason: "ManualSuppression", MessageStream: "broadcast" }));
    expect(event.type).toBe("unsubscribed");
    expect(event.detail.group).toBe("broadcast");
    expect(recipientEffect("email", event)).toBeNull();
  });

  it.each([
    ["null (a manual suppression by Customer or Admin)", null],
    ["all zeros", "00000000-0000-0000-0000-000000000000"],
    ["absent", undefined],
  ])("a subscription change with MessageID %s is about no message: skipped", async (_name, messageId) => {
    expect(await run(edit("subscription-change", { MessageID: messageId, Origin: "Customer" }))).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type: "SubscriptionChange", reason: "no_message_id" }],
    });
  });
});

describe("postmark normalize: every bounce type", () => {
  /** The bounce-api documentation's Type → TypeCode list, all 22. */
  const documented: Array<[string, number]> = [
    ["HardBounce", 1],
    ["Transient", 2],
    ["Unsubscribe", 16],
    ["Subscribe", 32],
    ["AutoResponder", 64],
    ["AddressChange", 128],
    ["DnsError", 256],
    ["SpamNotification", 512],
    ["OpenRelayTest", 1024],
    ["Unknown", 2048],
    ["SoftBounce", 4096],
    ["VirusNotification", 8192],
    ["ChallengeVerification", 16384],
    ["BadEmailAddress", 100000],
    ["SpamComplaint", 100001],
    ["ManuallyDeactivated", 100002],
    ["Unconfirmed", 100003],
    ["Blocked", 100006],
    ["SMTPApiError", 100007],
    ["InboundError", 100008],
    ["DMARCPolicy", 100009],
    ["TemplateRenderingFailed", 100010],
  ];

  it("the table holds exactly the documented types and codes", () => {
    expect(Object.entries(POSTMARK_BOUNCE_TYPES).map(([type, { code }]) => [type, code])).toEqual(documented);
  });

  const expected: Record<PostmarkBounceKind, { type: EventType | null; class?: string; effect?: Effect }> = {
    hard: { type: "bounced", class: "hard", effect: { kind: "suppress", reason: "hard_bounce" } },
    soft: { type: "bounced", class: "soft", effect: { kind: "soft_bounce" } },
    undetermined: { type: "bounced" },
    deferred: { type: "deferred", effect: null },
    complaint: { type: "complained", effect: { kind: "suppress", reason: "complaint" } },
    unsubscribe: { type: "unsubscribed", effect: null },
    resubscribe: { type: "resubscribed", effect: null },
    failed: { type: "failed", effect: null },
    suppressed: { type: "suppressed", effect: null },
    not_a_bounce: { type: null },
  };

  const kinds: Array<[string, number, PostmarkBounceKind]> = [
    ["HardBounce", 1, "hard"],
    ["Transient", 2, "deferred"],
    ["Unsubscribe", 16, "unsubscribe"],
    ["Subscribe", 32, "resubscribe"],
    ["AutoResponder", 64, "not_a_bounce"],
    ["AddressChange", 128, "not_a_bounce"],
    ["DnsError", 256, "soft"],
    ["SpamNotification", 512, "soft"],
    ["OpenRelayTest", 1024, "not_a_bounce"],
    ["Unknown", 2048, "undetermined"],
    ["SoftBounce", 4096, "soft"],
    ["VirusNotification", 8192, "soft"],
    ["ChallengeVerification", 16384, "not_a_bounce"],
    ["BadEmailAddress", 100000, "hard"],
    ["SpamComplaint", 100001, "complaint"],
    ["ManuallyDeactivated", 100002, "suppressed"],
    ["Unconfirmed", 100003, "suppressed"],
    ["Blocked", 100006, "soft"],
    ["SMTPApiError", 100007, "failed"],
    ["InboundError", 100008, "not_a_bounce"],
    ["DMARCPolicy", 100009, "soft"],
    ["TemplateRenderingFailed", 100010, "failed"],
  ];

  it.each(kinds)("%s (%i) is %s", async (type, code, kind) => {
    expect(postmarkBounceKind(type, code)).toBe(kind);
    const want = expected[kind];
    const result = await run(edit("bounce", { Type: type, TypeCode: code }));
    if (want.type === null) {
      expect(result).toEqual({ ok: true, events: [], skipped: [{ index: 0, type: `Bounce:${type}`, reason: "not_a_bounce" }] });
      return;
    }
    expect(result.skipped).toEqual([]);
    const event = result.events[0]!;
    expect(event.type).toBe(want.type);
    expect(event.detail).toMatchObject({ providerType: `Bounce:${type}`, typeCode: code });
    if (want.class) expect(event.detail.class).toBe(want.class);
    if (want.type === "bounced") expect(event.detail.reason).toEqual(expect.any(String));
    if (want.effect !== undefined) expect(recipientEffect("email", event)).toEqual(want.effect);
    if (kind === "unsubscribe" || kind === "resubscribe") expect(event.detail.group).toBe("outbound");
  });

  it("a soft type stays soft when the remote words say the address is dead", async () => {
    const details = "smtp;550 5.1.1 The email account that you tried to reach does not exist.";
    const event = await one(edit("bounce", { Type: "SoftBounce", TypeCode: 4096, Details: details }));
    expect(event.detail).toMatchObject({ class: "soft", smtpCode: 550, enhancedCode: "5.1.1", diagnostic: details });
  });

  it("a hard bounce reads its codes from Details", async () => {
    const details = "smtp;550 5.1.1 The email account that you tried to reach does not exist.";
    const event = await one(edit("bounce", { Details: details }));
    expect(event.detail).toMatchObject({ class: "hard", reason: "userunknown", smtpCode: 550, enhancedCode: "5.1.1" });
  });

  it("Unknown is left to our classifier: a dead address is hard", async () => {
    const details = "smtp;550 5.1.1 The email account that you tried to reach does not exist.";
    const event = await one(edit("bounce", { Type: "Unknown", TypeCode: 2048, Details: details }));
    expect(event.detail).toMatchObject({ class: "hard", reason: "userunknown" });
  });

  it("by TypeCode when Type is missing", async () => {
    expect((await run(edit("bounce", { Type: undefined, TypeCode: 2 }))).events[0]!.type).toBe("deferred");
    expect(postmarkBounceKind(undefined, 100001)).toBe("complaint");
  });

  it("a type documented nowhere is a bounce our classifier judges", async () => {
    expect(postmarkBounceKind("SomethingNew", 999999)).toBe("undetermined");
    const event = await one(edit("bounce", { Type: "SomethingNew", TypeCode: 999999 }));
    expect(event).toMatchObject({ type: "bounced", detail: { providerType: "Bounce:SomethingNew" } });
  });
});

describe("postmark normalize: ids", () => {
  it("a bounce's id is Postmark's", async () => {
    expect((await one(fixture("bounce"))).id).toBe("postmark:692560173");
    expect((await one(fixture("spam-complaint"))).id).toBe("postmark:692560174");
  });

  it.each(["delivery", "open", "click", "subscription-change"])(
    "%s: derived, the same twice, not the same for another recipient or time",
    async (name) => {
      const first = await one(fixture(name));
      expect(first.id).toMatch(/^postmark:[0-9a-f]{64}$/);
      expect((await one(fixture(name))).id).toBe(first.id);
      expect((await one(edit(name, { Recipient: "katherine@nasa.com" }))).id).not.toBe(first.id);
      const timeField = { delivery: "DeliveredAt", open: "ReceivedAt", click: "ReceivedAt", "subscription-change": "ChangedAt" }[name]!;
      expect((await one(edit(name, { [timeField]: "2026-11-05T16:34:00Z" }))).id).not.toBe(first.id);
    },
  );

  it("two record types of one message and moment are two events", async () => {
    const open = await one(fixture("open"));
    const click = await one(edit("open", { RecordType: "Click" }));
    expect(click.id).not.toBe(open.id);
  });

  it("a suppression and its reactivation are two events", async () => {
    const off = await one(fixture("subscription-change"));
    expect((await one(edit("subscription-change", { SuppressSending: false }))).id).not.toBe(off.id);
  });
});

describe("postmark normalize: recipients and our id", () => {
  it("Email or Recipient, trimmed", async () => {
    expect((await one(edit("bounce", { Email: "  margareth@nasa.com " }))).recipient).toBe("margareth@nasa.com");
    expect((await one(edit("bounce", { Email: undefined, Recipient: "margareth@nasa.com" }))).recipient).toBe("margareth@nasa.com");
  });

  it("no recipient is skipped, named", async () => {
    expect((await run(edit("delivery", { Recipient: undefined }))).skipped).toEqual([
      { index: 0, type: "Delivery", reason: "no_recipient" },
    ]);
  });

  it.each([
    ["the docs' metadata", { PropA: "some value" }],
    ["ours, not a UUID", { lasthop_id: "abc" }],
    ["no metadata", undefined],
  ])("our id is absent: %s", async (_name, metadata) => {
    expect(await one(edit("delivery", { Metadata: metadata }))).not.toHaveProperty("messageId");
  });
});

describe("postmark normalize: skipped and refused", () => {
  it("the inbound webhook is not about our mail", async () => {
    expect(await run(fixture("inbound"))).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type: "Inbound", reason: "not_a_message_event" }],
    });
  });

  it("a record type not known is skipped, named", async () => {
    expect((await run(edit("delivery", { RecordType: "SomethingNew" }))).skipped).toEqual([
      { index: 0, type: "SomethingNew", reason: "unknown_type" },
    ]);
  });

  it.each([
    ["no RecordType", { MessageID: MESSAGE }, "RecordType"],
    ["an array", [], "(body)"],
    ["a TypeCode that is not a number", { ...fixture("bounce"), TypeCode: "one" }, "TypeCode"],
    ["Metadata that is not an object", { ...fixture("delivery"), Metadata: "x" }, "Metadata"],
  ])("refused, with a path: %s", async (_name, body, path) => {
    const result = await normalize(body, CTX);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues.map((issue) => issue.path)).toEqual([path]);
  });
});

describe("postmark normalize: times", () => {
  it.each([
    ["2014-08-01T13:28:10.2735393-04:00", "2014-08-01T17:28:10.273Z"],
    ["2026-11-05T16:33:54.9070259Z", AT],
  ])("%s reads as %s", async (at, iso) => {
    expect((await one(edit("bounce", { BouncedAt: at }))).occurredAt).toBe(iso);
  });

  it("none falls back to receivedAt", async () => {
    expect((await one(edit("delivery", { DeliveredAt: undefined }))).occurredAt).toBe(CTX.receivedAt);
  });
});
