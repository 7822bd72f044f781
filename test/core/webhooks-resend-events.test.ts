import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type NormalizeResult, type ProviderEvent, providerEvent } from "../../src/core/provider-event.ts";
import { recipientEffect } from "../../src/core/suppression.ts";
import { normalize } from "../../src/webhooks/resend.ts";

/*
 * Fixtures (test/fixtures/webhooks/resend/<type>.json) are the examples on Resend's webhook
 * pages, resend.com/docs/webhooks/emails/<type> (addresses as the pages print them unmasked).
 * email.scheduled's page was not among the copies read: its fixture is email.sent's with the
 * type changed, the shape Resend's Node SDK gives both (BaseEmailEventData).
 */

type Body = Record<string, any>;
const fixture = (type: string): Body =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/resend/${type}.json`, import.meta.url), "utf8"));
const change = (type: string, edit: (body: Body) => void): Body => {
  const body = structuredClone(fixture(type));
  edit(body);
  return body;
};

const RECEIVED = "2026-03-01T12:00:00.000Z";
const OURS = "9b2f4c1d-7e3a-4b5c-8d6e-0f1a2b3c4d5e";
const EMAIL_ID = "56761188-7520-42d8-8898-ff6fc54ce618";
const SVIX_ID = "msg_2Lh9KsaEcFQ3fYQ8Wl0h5uX3bCk";

async function run(body: unknown, options: { svixId?: string; receivedAt?: string } = {}) {
  const headers = options.svixId ? new Headers({ "svix-id": options.svixId }) : undefined;
  const result: NormalizeResult = await normalize(body, {
    account: "acct_resend",
    receivedAt: options.receivedAt ?? RECEIVED,
    ...(headers ? { headers } : {}),
  });
  if (!result.ok) throw new Error(`not normalized: ${JSON.stringify(result.issues)}`);
  for (const event of result.events) expect(providerEvent.parse(event)).toEqual(event);
  return result;
}
const only = async (body: unknown, options: { svixId?: string } = {}): Promise<ProviderEvent> => {
  const { events, skipped } = await run(body, options);
  expect(skipped).toEqual([]);
  expect(events).toHaveLength(1);
  return events[0]!;
};

describe("Resend normalize: every documented email event, from Resend's examples", () => {
  it.each([
    { file: "email.sent", type: "accepted", detail: { providerType: "email.sent" }, at: "2026-02-22T23:41:12.126Z" },
    { file: "email.scheduled", type: "queued", detail: { providerType: "email.scheduled" }, at: "2026-02-22T23:41:12.126Z" },
    { file: "email.delivered", type: "delivered", detail: { providerType: "email.delivered" }, at: "2026-02-22T23:41:12.126Z" },
    {
      file: "email.delivery_delayed",
      type: "deferred",
      detail: { providerType: "email.delivery_delayed" },
      at: "2026-02-22T23:41:12.126Z",
    },
    { file: "email.complained", type: "complained", detail: { providerType: "email.complained" }, at: "2026-02-22T23:41:12.126Z" },
    { file: "email.opened", type: "opened", detail: { providerType: "email.opened" }, at: "2026-02-22T23:41:12.126Z" },
    {
      file: "email.bounced",
      type: "bounced",
      // Resend's example is a suppression-list bounce: SES's subtype, passed on.
      detail: {
        providerType: "email.bounced/Permanent/Suppressed",
        class: "hard",
        reason: "suppressed",
        rule: "provider:ses-suppression-list",
        sesSuppressed: true,
        bounceType: "Permanent",
        bounceSubType: "Suppressed",
        message: expect.stringContaining("suppression list"),
      },
      at: "2026-11-22T23:41:12.126Z",
    },
    {
      file: "email.clicked",
      type: "clicked",
      detail: {
        providerType: "email.clicked",
        url: "https://resend.com",
        ip: "122.115.53.11",
        userAgent: expect.stringContaining("Safari"),
      },
      at: "2024-11-22T23:41:12.126Z",
    },
    {
      file: "email.failed",
      type: "failed",
      detail: { providerType: "email.failed", reason: "reached_daily_quota" },
      at: "2026-11-22T23:41:12.126Z",
    },
    {
      file: "email.suppressed",
      type: "suppressed",
      detail: { providerType: "email.suppressed/OnAccountSuppressionList", suppressionType: "OnAccountSuppressionList" },
      at: "2024-11-22T23:41:12.126Z",
    },
  ])("$file → $type", async (row) => {
    const event = await only(fixture(row.file), { svixId: SVIX_ID });
    expect(event).toEqual({
      id: `resend:${SVIX_ID}`,
      account: "acct_resend",
      type: row.type,
      occurredAt: row.at,
      receivedAt: RECEIVED,
      provider: "resend",
      channel: "email",
      recipient: "delivered@resend.dev",
      providerMessageId: EMAIL_ID,
      // Resend's examples carry a "category" tag, not ours.
      detail: row.type === "bounced" ? row.detail : expect.objectContaining(row.detail),
    });
    expect(event).not.toHaveProperty("messageId");
  });

  it("a complaint (Resend gives no feedback type) suppresses", async () => {
    expect(recipientEffect("email", await only(fixture("email.complained")))).toEqual({ kind: "suppress", reason: "complaint" });
  });

  it("takes the type an older event-types page printed, email.delivered_delayed", async () => {
    expect((await only(change("email.delivery_delayed", (b) => (b.type = "email.delivered_delayed")))).type).toBe("deferred");
  });
});

describe("Resend normalize: bounces", () => {
  const bounced = (bounce: Body | undefined) =>
    change("email.bounced", (b) => {
      if (bounce) b.data.bounce = bounce;
      else delete b.data.bounce;
    });
  it.each([
    {
      name: "Permanent/General: Resend's sentence is no evidence, SES's verdict stands",
      bounce: { type: "Permanent", subType: "General", message: "The email bounced due to an invalid recipient." },
      detail: { class: "hard", reason: "undefined" },
    },
    {
      name: "Transient/MailboxFull",
      bounce: { type: "Transient", subType: "MailboxFull", message: "Mailbox full." },
      detail: { class: "soft", reason: "mailboxfull" },
    },
    {
      name: "Transient with the remote server's words",
      bounce: { type: "Transient", subType: "General", message: "x", diagnosticCode: "smtp; 452 4.2.2 Mailbox full" },
      detail: { class: "soft", reason: "mailboxfull", smtpCode: 452, enhancedCode: "4.2.2", diagnostic: "smtp; 452 4.2.2 Mailbox full" },
    },
    { name: "Undetermined", bounce: { type: "Undetermined", subType: "Undetermined", message: "?" }, detail: { class: "undetermined" } },
    {
      name: "OnAccountSuppressionList",
      bounce: { type: "Permanent", subType: "OnAccountSuppressionList" },
      detail: { class: "hard", reason: "suppressed" },
    },
    {
      name: "no bounce object: the documented meaning, a permanent rejection",
      bounce: undefined,
      detail: { class: "hard", providerType: "email.bounced" },
    },
  ])("$name", async ({ bounce, detail }) => {
    const event = await only(bounced(bounce));
    expect(event.type).toBe("bounced");
    expect(event.detail).toMatchObject(detail);
    expect(recipientEffect("email", event)).toEqual(
      detail.class === "hard"
        ? { kind: "suppress", reason: "hard_bounce" }
        : detail.class === "undetermined"
          ? null
          : { kind: "soft_bounce" },
    );
  });
});

describe("Resend normalize: ids", () => {
  it("uses svix-id, the same on every retry", async () => {
    const first = await only(fixture("email.delivered"), { svixId: SVIX_ID });
    const retry = await run(fixture("email.delivered"), { svixId: SVIX_ID, receivedAt: "2026-03-01T12:05:00.000Z" });
    expect(retry.events[0]!.id).toBe(first.id);
    expect((await only(fixture("email.delivered"), { svixId: `${SVIX_ID}x` })).id).not.toBe(first.id);
  });

  it("adds the recipient when one event fans out", async () => {
    const { events } = await run(
      change("email.sent", (b) => (b.data.to = ["a@example.com", "Bee <b@example.com>"])),
      { svixId: SVIX_ID },
    );
    expect(events.map((e) => [e.recipient, e.id])).toEqual([
      ["a@example.com", `resend:${SVIX_ID}:a@example.com`],
      ["b@example.com", `resend:${SVIX_ID}:b@example.com`],
    ]);
  });

  it("derives one from stable fields without svix-id: never the time it was received", async () => {
    const first = await only(fixture("email.opened"));
    expect(first.id).toMatch(/^resend:[0-9a-f]{64}$/);
    const later = await run(fixture("email.opened"), { receivedAt: "2027-01-01T00:00:00.000Z" });
    expect(later.events[0]!.id).toBe(first.id);
    const reopened = await only(change("email.opened", (b) => (b.created_at = "2026-02-23T08:00:00.000Z")));
    expect(reopened.id).not.toBe(first.id);
    const otherType = await only(change("email.opened", (b) => (b.type = "email.delivered")));
    expect(otherType.id).not.toBe(first.id);
    const { events } = await run(change("email.sent", (b) => (b.data.to = ["a@example.com", "b@example.com"])));
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });

  it("takes the time from created_at, else when it was received", async () => {
    expect((await only(change("email.sent", (b) => delete b.created_at))).occurredAt).toBe(RECEIVED);
  });
});

describe("Resend normalize: our id from the lasthop_id tag", () => {
  it.each([
    { name: "tags as an object", tags: { category: "x", lasthop_id: OURS }, expected: OURS },
    {
      name: "tags as name/value pairs",
      tags: [
        { name: "category", value: "x" },
        { name: "lasthop_id", value: OURS },
      ],
      expected: OURS,
    },
    { name: "not a UUID", tags: { lasthop_id: "msg-123" }, expected: undefined },
    { name: "no tags", tags: undefined, expected: undefined },
  ])("$name", async ({ tags, expected }) => {
    for (const type of ["email.sent", "email.bounced", "email.clicked"]) {
      const event = await only(
        change(type, (b) => {
          if (tags) b.data.tags = tags;
          else delete b.data.tags;
        }),
      );
      if (expected) expect(event.messageId).toBe(expected);
      else expect(event).not.toHaveProperty("messageId");
      expect(event.providerMessageId).toBe(EMAIL_ID);
    }
  });
});

describe("Resend normalize: whose event", () => {
  const to = (type: string, recipients: unknown) => change(type, (b) => (b.data.to = recipients));
  it.each(["email.sent", "email.scheduled", "email.failed", "email.delivered", "email.delivery_delayed"])(
    "%s to several fans out to each",
    async (type) => {
      const { events } = await run(to(type, ["a@example.com", "b@example.com", "a@example.com"]));
      expect(events.map((e) => e.recipient)).toEqual(["a@example.com", "b@example.com"]);
    },
  );

  it.each(["email.bounced", "email.complained", "email.suppressed", "email.opened", "email.clicked"])(
    "%s of an email to several names no one",
    async (type) => {
      expect(await run(to(type, ["a@example.com", "b@example.com"]))).toEqual({
        ok: true,
        events: [],
        skipped: [{ index: 0, type, reason: "ambiguous_recipient" }],
      });
    },
  );

  it("takes a lone `to` string and a display name", async () => {
    expect((await only(to("email.bounced", "Ann <ann@example.com>"))).recipient).toBe("ann@example.com");
  });

  it("skips an email with no recipient, named", async () => {
    expect((await run(to("email.delivered", [" "]))).skipped).toEqual([{ index: 0, type: "email.delivered", reason: "no_recipient" }]);
  });
});

describe("Resend normalize: what is not a message event", () => {
  it.each([
    { type: "email.received", data: fixture("email.received").data, reason: "not_a_message_event" },
    {
      type: "contact.created",
      data: { id: "c1", audience_id: "a1", email: "x@example.com", unsubscribed: false },
      reason: "not_a_message_event",
    },
    { type: "domain.updated", data: { id: "d1", name: "example.com", status: "verified" }, reason: "not_a_message_event" },
    { type: "suppression.added", data: { id: "s1", email: "x@example.com", origin: "bounce" }, reason: "not_a_message_event" },
    { type: "inbox.thread.created", data: { source: "api", inbox_id: "i1" }, reason: "not_a_message_event" },
    { type: "email.teleported", data: { email_id: "e1", to: ["x@example.com"] }, reason: "unknown_type" },
  ])("$type → $reason", async ({ type, data, reason }) => {
    expect(await normalize({ type, created_at: "2026-02-22T23:41:12.126Z", data }, { account: "a", receivedAt: RECEIVED })).toEqual({
      ok: true,
      events: [],
      skipped: [{ index: 0, type, reason }],
    });
  });
});

describe("Resend normalize: not Resend's shape", () => {
  it.each([
    { name: "not an object", body: [1, 2], path: "(body)" },
    { name: "no type", body: { created_at: "x", data: {} }, path: "type" },
    { name: "no data", body: { type: "email.sent", created_at: "x" }, path: "data" },
    { name: "an email event without email_id", body: change("email.sent", (b) => delete b.data.email_id), path: "data.email_id" },
    { name: "an email event without to", body: change("email.delivered", (b) => delete b.data.to), path: "data.to" },
    {
      name: "a click that is not an object",
      body: change("email.clicked", (b) => (b.data.click = "https://resend.com")),
      path: "data.click",
    },
  ])("$name → ok:false at $path", async ({ body, path }) => {
    const result = await normalize(body, { account: "a", receivedAt: RECEIVED });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((issue) => issue.path)).toContain(path);
  });
});
