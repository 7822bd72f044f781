import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EventType } from "../../src/core/model.ts";
import { providerEvent, type NormalizeResult, type ProviderEvent } from "../../src/core/provider-event.ts";
import { recipientEffect } from "../../src/core/suppression.ts";
import { normalize, SUPPRESSION_DROP_REASONS, xMessageId } from "../../src/webhooks/sendgrid.ts";

type Item = Record<string, unknown>;

/** A fixture's documented body; each file names its source. */
const fixture = (name: string): Item[] =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/sendgrid/${name}.json`, import.meta.url), "utf8")).body;

const CTX = { account: "acct-sendgrid", receivedAt: "2026-12-05T10:00:00.000Z" };
const OURS = crypto.randomUUID();
const DOCS = fixture("events");
const byName = (event: string, type?: string) => DOCS.find((e) => e.event === event && (type === undefined || e.type === type))!;

async function run(items: unknown): Promise<Extract<NormalizeResult, { ok: true }>> {
  const result = await normalize(items, CTX);
  if (!result.ok) throw new Error(`not ok: ${JSON.stringify(result.issues)}`);
  return result;
}

async function one(item: Item): Promise<ProviderEvent> {
  const { events, skipped } = await run([item]);
  expect(skipped).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
}

type Effect = ReturnType<typeof recipientEffect>;

describe("sendgrid normalize: every documented event", () => {
  const rows: Array<[string, Item, EventType, Record<string, unknown>, Effect]> = [
    ["processed", byName("processed"), "accepted", { providerType: "processed" }, null],
    [
      "dropped, Bounced Address",
      byName("dropped"),
      "suppressed",
      { providerType: "dropped", providerReason: "Bounced Address", status: "5.0.0" },
      null,
    ],
    ["delivered", byName("delivered"), "delivered", { providerType: "delivered", response: "250 OK" }, { kind: "delivered" }],
    [
      "deferred",
      byName("deferred"),
      "deferred",
      // SendGrid's sample says "400": no SMTP reply code (RFC 5321 has none), so none is read from it.
      { providerType: "deferred", diagnostic: "400 try again later", attempt: 5 },
      null,
    ],
    [
      "bounce, type bounce",
      byName("bounce", "bounce"),
      "bounced",
      { providerType: "bounce:bounce", smtpCode: 500, enhancedCode: "5.0.0", diagnostic: "500 unknown recipient" },
      null,
    ],
    [
      "bounce, type blocked",
      byName("bounce", "blocked"),
      "bounced",
      { providerType: "bounce:blocked", class: "soft", smtpCode: 500 },
      { kind: "soft_bounce" },
    ],
    [
      "open",
      byName("open"),
      "opened",
      {
        providerType: "open",
        ip: "255.255.255.255",
        userAgent: "Mozilla/4.0 (compatible; MSIE 6.1; Windows XP; .NET CLR 1.1.4322; .NET CLR 2.0.50727)",
      },
      null,
    ],
    ["click", byName("click"), "clicked", { providerType: "click", url: "http://www.sendgrid.com/", ip: "255.255.255.255" }, null],
    [
      "spamreport",
      byName("spamreport"),
      "complained",
      { providerType: "spamreport", feedbackType: "abuse" },
      { kind: "suppress", reason: "complaint" },
    ],
    ["unsubscribe", byName("unsubscribe"), "unsubscribed", { providerType: "unsubscribe" }, { kind: "suppress", reason: "unsubscribe" }],
    ["group_unsubscribe", byName("group_unsubscribe"), "unsubscribed", { providerType: "group_unsubscribe", group: "10" }, null],
    ["group_resubscribe", byName("group_resubscribe"), "resubscribed", { providerType: "group_resubscribe", group: "10" }, null],
  ];

  it.each(rows)("%s", async (_name, item, type, detail, effect) => {
    const event = await one({ ...item, lasthop_id: OURS });
    expect(providerEvent.parse(event)).toEqual(event);
    expect(event).toMatchObject({
      id: `sendgrid:${item.sg_event_id}`,
      account: CTX.account,
      type,
      provider: "sendgrid",
      channel: "email",
      recipient: "example@test.com",
      providerMessageId: "14c5d75ce93.dfd.64b469",
      messageId: OURS,
      occurredAt: "2017-12-15T00:59:29.000Z",
      receivedAt: CTX.receivedAt,
    });
    expect(event.detail).toMatchObject(detail);
    if (type === "unsubscribed" && item.event === "unsubscribe") expect(event.detail).not.toHaveProperty("group");
    if (effect !== null || type !== "bounced") expect(recipientEffect("email", event)).toEqual(effect);
  });

  it("the whole documented batch: one event each, in order", async () => {
    const { events, skipped } = await run(DOCS);
    expect(skipped).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(rows.map(([, , type]) => type));
  });
});

describe("sendgrid normalize: bounces through our classifier", () => {
  const bounce = byName("bounce", "bounce");

  it("a permanent bounce the classifier cannot read is hard", async () => {
    const event = await one({ ...bounce, reason: "550 mailbox rejected", status: "5.0.0" });
    expect(event.detail).toMatchObject({ class: "hard", smtpCode: 550 });
    expect(recipientEffect("email", event)).toEqual({ kind: "suppress", reason: "hard_bounce" });
  });

  it("a dead address is hard, with Sisimai's reason", async () => {
    const reason = "550 5.1.1 The email account that you tried to reach does not exist.";
    const event = await one({ ...bounce, reason, status: "5.1.1" });
    expect(event.detail).toMatchObject({ class: "hard", reason: "userunknown", smtpCode: 550, enhancedCode: "5.1.1", diagnostic: reason });
  });

  it("a block is soft whatever its words say", async () => {
    const event = await one({ ...bounce, type: "blocked", reason: "550 5.1.1 The email account that you tried to reach does not exist." });
    expect(event.detail).toMatchObject({ class: "soft", providerType: "bounce:blocked" });
  });

  it("a bounce without `type` (the current docs' sample) is a bounce, and keeps SendGrid's classification", async () => {
    const sample = fixture("current-sample").find((e) => e.event === "bounce")!;
    const event = await one(sample);
    expect(event.detail).toMatchObject({ providerType: "bounce:bounce", bounceClassification: "invalid", smtpCode: 500 });
    expect(event.detail.class).toBeDefined();
    expect(event.detail.reason).toBeDefined();
  });

  it("a status that is not an RFC 3463 code is left out; the reason's own code is used", async () => {
    const event = await one({ ...bounce, reason: "550 5.7.1 blocked by policy", status: "bounced" });
    expect(event.detail.enhancedCode).toBe("5.7.1");
  });
});

describe("sendgrid normalize: dropped", () => {
  const dropped = byName("dropped");
  const cases: Array<[string, EventType]> = [
    ["Bounced Address", "suppressed"],
    ["Unsubscribed Address", "suppressed"],
    ["Spam Reporting Address", "suppressed"],
    ["Invalid", "suppressed"],
    ["invalid address", "suppressed"],
    ["Invalid SMTPAPI header", "failed"],
    ["Spam Content (if Spam Checker app is enabled)", "failed"],
    ["Recipient List over Package Quota", "failed"],
    ["", "failed"],
  ];

  it.each(cases)("reason %j → %s", async (reason, type) => {
    const event = await one({ ...dropped, reason });
    expect(event.type).toBe(type);
    expect(recipientEffect("email", event)).toBeNull();
  });

  it("the suppression reasons are the documented list ones", () => {
    expect([...SUPPRESSION_DROP_REASONS].sort()).toEqual([
      "bounced address",
      "invalid",
      "invalid address",
      "spam reporting address",
      "unsubscribed address",
    ]);
  });
});

describe("sendgrid normalize: opens", () => {
  const open = fixture("current-sample").find((e) => e.event === "open")!;

  it("a machine open is told", async () => {
    expect((await one({ ...open, sg_machine_open: true })).detail.machineOpen).toBe(true);
  });

  it("a human open says nothing of machines", async () => {
    expect((await one(open)).detail).not.toHaveProperty("machineOpen");
  });
});

describe("sendgrid normalize: ids", () => {
  it("the same event twice has the same id", async () => {
    const [a, b] = [await run(DOCS), await run(DOCS)];
    expect(a.events.map((e) => e.id)).toEqual(b.events.map((e) => e.id));
  });

  it("without sg_event_id the id is derived: stable, and different per recipient and per event", async () => {
    const { sg_event_id: _, ...bare } = byName("delivered");
    const first = await one(bare);
    expect(first.id).toMatch(/^sendgrid:[0-9a-f]{64}$/);
    expect((await one(bare)).id).toBe(first.id);
    expect((await one({ ...bare, email: "other@test.com" })).id).not.toBe(first.id);
    expect((await one({ ...bare, event: "processed" })).id).not.toBe(first.id);
    expect((await one({ ...bare, timestamp: 1513299570 })).id).not.toBe(first.id);
  });

  it("receivedAt plays no part in the id", async () => {
    const { sg_event_id: _, ...bare } = byName("delivered");
    const later = await normalize([bare], { ...CTX, receivedAt: "2027-01-01T00:00:00.000Z" });
    expect(later.ok && later.events[0]!.id).toBe((await one(bare)).id);
  });
});

describe("sendgrid normalize: message ids", () => {
  const cases: Array<[string, string | undefined, string | undefined, string | undefined]> = [
    [
      "an id of 2015 and before, .filter suffix",
      "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
      undefined,
      "14c5d75ce93.dfd.64b469",
    ],
    ["the current form, .stfilter suffix", "5lFl7Fr1Rjme_EyzNNB_5A.stfilter-015.5185.55F883172.0", undefined, "5lFl7Fr1Rjme_EyzNNB_5A"],
    [
      "the current form, .filterdrecv suffix",
      "W86EgYT6SQKk0lRflfLRsA.filterdrecv-p3las1-5bf99c48d-2lp6q-18-5D2D1E8B-9.0",
      undefined,
      "W86EgYT6SQKk0lRflfLRsA",
    ],
    [
      "the current form, .recvd suffix",
      "0GOQ6fMTTmiZpLh7usBJwg.recvd-67fdc7b4d6-wbpn9-1-666CAB97-15.0",
      undefined,
      "0GOQ6fMTTmiZpLh7usBJwg",
    ],
    ["a suffix not known: up to the first dot", "XBg2anf2TqCy6WXKQFhieQ.something-else.0", undefined, "XBg2anf2TqCy6WXKQFhieQ"],
    ["no dot at all", "sendgrid_internal_message_id", undefined, "sendgrid_internal_message_id"],
    ["asynchronous bounce: smtp-id's local part", undefined, "<14c5d75ce93.dfd.64b469@ismtpd-555>", "14c5d75ce93.dfd.64b469"],
    ["neither", undefined, "", undefined],
  ];

  it.each(cases)("%s", (_name, sg, smtpId, expected) => {
    expect(xMessageId(sg, smtpId)).toBe(expected);
  });

  it("the A/B test samples carry their X-Message-Id", async () => {
    const { events } = await run(fixture("marketing-ab"));
    expect(events.map((e) => e.providerMessageId)).toEqual(["5lFl7Fr1Rjme_EyzNNB_5A", "fPJrJPIRTxC_obpgfTy74w"]);
  });

  it("a bounce with no message id at all is skipped, named", async () => {
    const { sg_message_id: _, "smtp-id": __, ...bare } = byName("bounce", "bounce");
    expect(await run([bare])).toEqual({ ok: true, events: [], skipped: [{ index: 0, type: "bounce:bounce", reason: "no_message_id" }] });
  });
});

describe("sendgrid normalize: our id", () => {
  const delivered = byName("delivered");

  it("absent when not echoed", async () => {
    expect(await one(delivered)).not.toHaveProperty("messageId");
  });

  it("absent when not a UUID", async () => {
    expect(await one({ ...delivered, lasthop_id: "not-a-uuid" })).not.toHaveProperty("messageId");
    expect(await one({ ...delivered, lasthop_id: 42 })).not.toHaveProperty("messageId");
  });

  it("present when echoed", async () => {
    expect((await one({ ...delivered, lasthop_id: OURS })).messageId).toBe(OURS);
  });
});

describe("sendgrid normalize: skipped and refused", () => {
  it("names what it leaves out, and keeps the rest of the batch", async () => {
    const { email: _, ...noEmail } = byName("open");
    const result = await run([
      { event: "account_status_change", sg_event_id: "x", timestamp: 1513299569, type: "compliance_suspend" },
      byName("delivered"),
      { ...byName("delivered"), event: "someFutureEvent" },
      noEmail,
      { ...byName("delivered"), event: 42 },
      { ...byName("delivered"), email: "   " },
      "not an event",
    ]);
    expect(result.events.map((e) => e.type)).toEqual(["delivered"]);
    expect(result.skipped).toEqual([
      { index: 0, type: "account_status_change", reason: "not_a_message_event" },
      { index: 2, type: "someFutureEvent", reason: "unknown_type" },
      { index: 3, type: "open", reason: "no_recipient" },
      { index: 4, type: "(unknown)", reason: "malformed" },
      { index: 5, type: "delivered", reason: "no_recipient" },
      { index: 6, type: "(unknown)", reason: "malformed" },
    ]);
  });

  it("an empty batch is no events", async () => {
    expect(await run([])).toEqual({ ok: true, events: [], skipped: [] });
  });

  it.each([
    ["an object", { event: "delivered" }],
    ["a string", "[]"],
    ["null", null],
  ])("a body that is %s is refused, with a path", async (_name, body) => {
    expect(await normalize(body, CTX)).toEqual({ ok: false, issues: [{ path: "(body)", message: expect.any(String) }] });
  });
});

describe("sendgrid normalize: recipients and times", () => {
  const delivered = byName("delivered");

  it("the address is trimmed", async () => {
    expect((await one({ ...delivered, email: "  example@test.com\n" })).recipient).toBe("example@test.com");
  });

  it("a timestamp sent as digits is read; none falls back to receivedAt", async () => {
    expect((await one({ ...delivered, timestamp: "1513299569" })).occurredAt).toBe("2017-12-15T00:59:29.000Z");
    const { timestamp: _, ...untimed } = delivered;
    expect((await one(untimed)).occurredAt).toBe(CTX.receivedAt);
  });
});
