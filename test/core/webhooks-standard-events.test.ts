import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { describe, expect, it } from "vitest";
import { standardMapping, type StandardMapping } from "../../src/core/config/sections.ts";
import { providerEvent, type NormalizeResult, type ProviderEvent } from "../../src/core/provider-event.ts";
import { normalize, pick, verify } from "../../src/webhooks/standard.ts";

// Payloads shaped after each sender's documented webhook body (fields and nesting as documented,
// values invented): resend.com/docs/webhooks/emails/bounced, loops.so/docs/webhooks (eventName,
// eventTime in Unix seconds, contactIdentity, email), clerk.com's webhook events (type, data,
// timestamp in Unix milliseconds). Each sender is one mapping an account could configure.
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/standard/${name}.json`, import.meta.url), "utf8")) as Record<string, any>;
const RESEND_BOUNCED = fixture("resend-email-bounced");
const LOOPS_DELIVERED = fixture("loops-email-delivered");
const CLERK_SMS = fixture("clerk-sms-created");

const secret = () => `whsec_${randomBytes(24).toString("base64")}`;
const SECRET = secret();
const NOW = Date.now();
const ID = `msg_${randomBytes(12).toString("hex")}`;
const BODY = JSON.stringify(RESEND_BOUNCED);
const seconds = (at: number) => String(Math.floor(at / 1000));
const signedHeaders = (signature: string, at = NOW, id = ID) =>
  new Headers({ "webhook-id": id, "webhook-timestamp": seconds(at), "webhook-signature": signature });
/** The reference implementation of the spec, and Svix (the same scheme) signing for the same headers. */
const standardSign = (body: string, at = NOW, key = SECRET, id = ID) => new StandardWebhook(key).sign(id, new Date(at), body);
const svixSign = (body: string, at = NOW, key = SECRET, id = ID) => new SvixWebhook(key).sign(id, new Date(at), body);

describe("Standard Webhooks signatures (webhook-* headers)", () => {
  const stale = NOW - 301_000;
  it.each([
    { name: "signed by standardwebhooks", h: signedHeaders(standardSign(BODY)), body: BODY, key: SECRET, result: { ok: true } },
    { name: "signed by svix", h: signedHeaders(svixSign(BODY)), body: BODY, key: SECRET, result: { ok: true } },
    {
      name: "tampered body",
      h: signedHeaders(standardSign(BODY)),
      body: `${BODY} `,
      key: SECRET,
      result: { ok: false, reason: "bad_signature" },
    },
    {
      name: "svix, tampered body",
      h: signedHeaders(svixSign(BODY)),
      body: BODY.replace("Permanent", "Transient"),
      key: SECRET,
      result: { ok: false, reason: "bad_signature" },
    },
    {
      name: "wrong secret",
      h: signedHeaders(standardSign(BODY)),
      body: BODY,
      key: secret(),
      result: { ok: false, reason: "bad_signature" },
    },
    {
      name: "another message's id",
      h: signedHeaders(standardSign(BODY), NOW, `${ID}x`),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "bad_signature" },
    },
    {
      name: "stale",
      h: signedHeaders(standardSign(BODY, stale), stale),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "stale_timestamp" },
    },
    {
      name: "timestamp not a number",
      h: new Headers({ "webhook-id": ID, "webhook-timestamp": "soon", "webhook-signature": standardSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "malformed_timestamp" },
    },
    {
      name: "Svix's header names are not these",
      h: new Headers({ "svix-id": ID, "svix-timestamp": seconds(NOW), "svix-signature": svixSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_id" },
    },
    {
      name: "no timestamp",
      h: new Headers({ "webhook-id": ID, "webhook-signature": standardSign(BODY) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_timestamp" },
    },
    {
      name: "no signature",
      h: new Headers({ "webhook-id": ID, "webhook-timestamp": seconds(NOW) }),
      body: BODY,
      key: SECRET,
      result: { ok: false, reason: "missing_signature" },
    },
    {
      name: "secret not base64",
      h: signedHeaders(standardSign(BODY)),
      body: BODY,
      key: "whsec_!!!",
      result: { ok: false, reason: "bad_key" },
    },
  ])("$name", async ({ h, body, key, result }) => {
    expect(await verify({ headers: h, rawBody: body, secret: key, now: NOW })).toEqual(result);
  });
});

describe("pick", () => {
  const body = { data: { to: ["a@x.test", "b@x.test"], "0": "zero", tags: { lasthop_id: "id" } }, list: [{ n: 1 }] };
  it.each([
    { path: "data.tags.lasthop_id", value: "id" },
    { path: "data.to.1", value: "b@x.test" },
    { path: "list.0.n", value: 1 },
    { path: "data.0", value: "zero" },
    { path: "data.to", value: ["a@x.test", "b@x.test"] },
    { path: "data.to.2", value: undefined },
    { path: "data.to.length", value: undefined },
    { path: "data.missing.deeper", value: undefined },
    { path: "data.tags.lasthop_id.x", value: undefined },
    { path: "data.toString", value: undefined },
    { path: "__proto__", value: undefined },
    { path: "data.constructor", value: undefined },
    { path: "data.constructor.prototype", value: undefined },
  ])("$path", ({ path, value }) => {
    expect(pick(body, path)).toEqual(value);
  });

  it("refuses a prototype segment even as an own property (JSON.parse makes __proto__ one)", () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": "yes"}, "prototype": {"x": 1}}');
    expect(Object.hasOwn(parsed, "__proto__")).toBe(true);
    expect(pick(parsed, "__proto__.polluted")).toBeUndefined();
    expect(pick(parsed, "prototype.x")).toBeUndefined();
  });
});

const RESEND: StandardMapping = standardMapping.parse({
  type: "type",
  providerMessageId: "data.email_id",
  recipient: "data.to",
  occurredAt: "created_at",
  messageId: "data.tags.lasthop_id",
  bounceClass: "data.bounce.type",
  diagnostic: "data.bounce.diagnosticCode",
  types: {
    "email.sent": "accepted",
    "email.delivered": "delivered",
    "email.delivery_delayed": "deferred",
    "email.bounced": "bounced",
    "email.complained": "complained",
    "email.opened": "opened",
    "email.clicked": "clicked",
    "email.failed": "failed",
  },
});
const LOOPS: StandardMapping = standardMapping.parse({
  type: "eventName",
  providerMessageId: "email.id",
  recipient: "contactIdentity.email",
  occurredAt: "eventTime",
  types: {
    "email.delivered": "delivered",
    // Loops says hard or soft in the type's name: the mapping says so per type.
    "email.hardBounced": { type: "bounced", bounceClass: "hard" },
    "email.softBounced": { type: "bounced", bounceClass: "soft" },
    "email.spamReported": "complained",
  },
});
const CLERK: StandardMapping = standardMapping.parse({
  providerMessageId: "data.id",
  recipient: "data.to_phone_number",
  channel: "sms",
  types: { "sms.created": "queued" },
});

const OURS = "2f9a4a6e-3c1b-4f0e-9a51-7d6b1c2e8f30";
const RECEIVED = "2026-01-02T03:04:05.000Z";
const ctx = (id: string | null = ID) => ({
  account: "acct_test",
  receivedAt: RECEIVED,
  ...(id ? { headers: new Headers({ "webhook-id": id }) } : {}),
});

/** A Resend-shaped event of `type`, with `data` fields replaced. */
const resend = (type: string, data: Record<string, unknown> = {}) => ({
  ...RESEND_BOUNCED,
  type,
  data: { ...RESEND_BOUNCED.data, ...data },
});
const bounce = (type: string | undefined, diagnosticCode?: string[]) =>
  resend("email.bounced", { bounce: { ...(type ? { type } : {}), ...(diagnosticCode ? { diagnosticCode } : {}) } });

function events(result: NormalizeResult): ProviderEvent[] {
  if (!result.ok) throw new Error(`not ok: ${JSON.stringify(result.issues)}`);
  for (const event of result.events) expect(providerEvent.parse(event)).toEqual(event);
  return result.events;
}

describe("normalize: one row per mapped type", () => {
  it.each([
    { name: "Resend email.sent", body: resend("email.sent"), mapping: RESEND, type: "accepted", detail: { providerType: "email.sent" } },
    {
      name: "Resend email.delivered",
      body: resend("email.delivered"),
      mapping: RESEND,
      type: "delivered",
      detail: { providerType: "email.delivered" },
    },
    { name: "Resend email.delivery_delayed", body: resend("email.delivery_delayed"), mapping: RESEND, type: "deferred", detail: {} },
    { name: "Resend email.complained", body: resend("email.complained"), mapping: RESEND, type: "complained", detail: {} },
    { name: "Resend email.opened", body: resend("email.opened"), mapping: RESEND, type: "opened", detail: {} },
    { name: "Resend email.clicked", body: resend("email.clicked"), mapping: RESEND, type: "clicked", detail: {} },
    { name: "Resend email.failed", body: resend("email.failed"), mapping: RESEND, type: "failed", detail: {} },
    {
      name: "Resend's documented bounce: Permanent, 550 5.1.1",
      body: RESEND_BOUNCED,
      mapping: RESEND,
      type: "bounced",
      detail: { class: "hard", reason: "userunknown", bounceClass: "Permanent", smtpCode: 550, enhancedCode: "5.1.1" },
    },
    {
      name: "Permanent, no diagnostic: hard",
      body: bounce("Permanent"),
      mapping: RESEND,
      type: "bounced",
      detail: { class: "hard", reason: "undefined", bounceClass: "Permanent" },
    },
    { name: "hard", body: bounce("hard"), mapping: RESEND, type: "bounced", detail: { class: "hard" } },
    {
      name: "Transient: soft",
      body: bounce("Transient", ["452 4.2.2 mailbox full"]),
      mapping: RESEND,
      type: "bounced",
      detail: { class: "soft", reason: "mailboxfull" },
    },
    { name: "soft", body: bounce("soft"), mapping: RESEND, type: "bounced", detail: { class: "soft" } },
    {
      name: "Permanent, but a policy refusal: soft (our classifier's rule)",
      body: bounce("Permanent", ["550 5.7.1 Message rejected as spam"]),
      mapping: RESEND,
      type: "bounced",
      detail: { class: "soft", reason: "spamdetected", smtpCode: 550, enhancedCode: "5.7.1" },
    },
    {
      name: "no class word: undetermined, whatever the diagnostic says",
      body: bounce(undefined, ["550 5.1.1 user unknown"]),
      mapping: RESEND,
      type: "bounced",
      detail: { class: "undetermined", reason: "userunknown" },
    },
    {
      name: "an unknown class word: undetermined",
      body: bounce("Undetermined"),
      mapping: RESEND,
      type: "bounced",
      detail: { class: "undetermined" },
    },
    {
      name: "Loops email.delivered",
      body: LOOPS_DELIVERED,
      mapping: LOOPS,
      type: "delivered",
      detail: { providerType: "email.delivered" },
    },
    {
      name: "Loops email.hardBounced: the class from the mapped type",
      body: { ...LOOPS_DELIVERED, eventName: "email.hardBounced" },
      mapping: LOOPS,
      type: "bounced",
      detail: { providerType: "email.hardBounced", class: "hard" },
    },
    {
      name: "Loops email.softBounced",
      body: { ...LOOPS_DELIVERED, eventName: "email.softBounced" },
      mapping: LOOPS,
      type: "bounced",
      detail: { providerType: "email.softBounced", class: "soft" },
    },
    {
      name: "Loops email.spamReported",
      body: { ...LOOPS_DELIVERED, eventName: "email.spamReported" },
      mapping: LOOPS,
      type: "complained",
      detail: {},
    },
    { name: "Clerk sms.created", body: CLERK_SMS, mapping: CLERK, type: "queued", detail: { providerType: "sms.created" } },
  ])("$name", async ({ body, mapping, type, detail }) => {
    const [event, ...rest] = events(await normalize(body, ctx(), mapping));
    expect(rest).toEqual([]);
    expect(event.type).toBe(type);
    expect(event.provider).toBe("standard");
    expect(event.id).toBe(`standard:${ID}`);
    expect(event.detail).toMatchObject(detail);
    if (type !== "bounced") expect(event.detail.class).toBeUndefined();
  });
});

describe("normalize: fields", () => {
  it("Resend: the first recipient, its email_id, created_at, the account and receivedAt", async () => {
    const [event] = events(await normalize(RESEND_BOUNCED, ctx(), RESEND));
    expect(event).toMatchObject({
      account: "acct_test",
      receivedAt: RECEIVED,
      occurredAt: "2024-11-22T23:41:12.126Z",
      channel: "email",
      recipient: "delivered@resend.dev",
      providerMessageId: "56761188-7520-42d8-8898-ff6fc54ce618",
    });
    expect(event.detail.diagnostic).toBe("smtp; 550 5.1.1 The email account that you tried to reach does not exist");
  });

  it("Loops: eventTime in Unix seconds, the contact's address, the email's id", async () => {
    const [event] = events(await normalize(LOOPS_DELIVERED, ctx(), LOOPS));
    expect(event).toMatchObject({
      occurredAt: "2024-12-17T08:58:38.000Z",
      recipient: "test@example.com",
      providerMessageId: "cm4s4k2fl00dil80m3npx9g4a",
      channel: "email",
    });
  });

  it("Clerk: a timestamp in Unix milliseconds, an SMS recipient", async () => {
    const [event] = events(await normalize(CLERK_SMS, ctx(), CLERK));
    expect(event).toMatchObject({
      occurredAt: "2024-05-28T08:12:11.500Z",
      channel: "sms",
      recipient: "+15555550123",
      providerMessageId: "sms_2ZpgdN5hYpJmB7yQmN0ZoL9dPQ7",
    });
  });

  it.each([
    { name: "digits get their +", to: "15555550123", recipient: "+15555550123" },
    { name: "a number in JSON", to: 15555550123, recipient: "+15555550123" },
    { name: "trimmed", to: " +15555550123 ", recipient: "+15555550123" },
  ])("SMS recipient: $name", async ({ to, recipient }) => {
    const [event] = events(await normalize({ ...CLERK_SMS, data: { ...CLERK_SMS.data, to_phone_number: to } }, ctx(), CLERK));
    expect(event.recipient).toBe(recipient);
  });

  it.each([
    { name: "an ISO string", value: "2020-01-01T12:00:00+02:00", at: "2020-01-01T10:00:00.000Z" },
    { name: "Unix seconds as a string", value: "1577880000", at: "2020-01-01T12:00:00.000Z" },
    { name: "Unix milliseconds as a string", value: "1577880000000", at: "2020-01-01T12:00:00.000Z" },
    { name: "no time", value: undefined, at: RECEIVED },
    { name: "not a time", value: "yesterday-ish", at: RECEIVED },
    { name: "a number past any date", value: 9e15, at: RECEIVED },
  ])("occurredAt from $name", async ({ value, at }) => {
    const [event] = events(await normalize({ ...RESEND_BOUNCED, created_at: value }, ctx(), RESEND));
    expect(event.occurredAt).toBe(at);
  });

  it.each([
    { name: "echoed", tags: { lasthop_id: OURS }, messageId: OURS },
    { name: "not a UUID", tags: { lasthop_id: "not-a-uuid" }, messageId: undefined },
    { name: "not echoed", tags: { category: "x" }, messageId: undefined },
  ])("messageId $name", async ({ tags, messageId }) => {
    const [event] = events(await normalize(resend("email.delivered", { tags }), ctx(), RESEND));
    expect(event.messageId).toBe(messageId);
    expect(Object.hasOwn(event, "messageId")).toBe(messageId !== undefined);
  });

  it("no messageId path in the mapping: none", async () => {
    const [event] = events(await normalize(LOOPS_DELIVERED, ctx(), LOOPS));
    expect(Object.hasOwn(event, "messageId")).toBe(false);
  });
});

describe("normalize: ids", () => {
  it("the same request twice gives the same id; another webhook-id another", async () => {
    const [a] = events(await normalize(RESEND_BOUNCED, ctx(), RESEND));
    const [b] = events(await normalize(structuredClone(RESEND_BOUNCED), ctx(), RESEND));
    const [c] = events(await normalize(RESEND_BOUNCED, ctx(`${ID}-other`), RESEND));
    expect(a.id).toBe(b.id);
    expect(c.id).toBe(`standard:${ID}-other`);
  });

  it("several recipients: one event each, each its own id, stable", async () => {
    const body = resend("email.delivered", { to: ["a@x.test", "b@x.test", "a@x.test"] });
    const first = events(await normalize(body, ctx(), RESEND));
    const again = events(await normalize(body, ctx(), RESEND));
    expect(first.map((e) => e.recipient)).toEqual(["a@x.test", "b@x.test"]);
    expect(new Set(first.map((e) => e.id)).size).toBe(2);
    expect(first.map((e) => e.id)).not.toContain(`standard:${ID}`);
    expect(again.map((e) => e.id)).toEqual(first.map((e) => e.id));
  });

  it("no webhook-id header: an id derived from the event's own fields, stable", async () => {
    const [a] = events(await normalize(RESEND_BOUNCED, ctx(null), RESEND));
    const [b] = events(await normalize(RESEND_BOUNCED, { ...ctx(null), receivedAt: "2030-01-01T00:00:00.000Z" }, RESEND));
    const [c] = events(await normalize(resend("email.bounced", { email_id: "other" }), ctx(null), RESEND));
    expect(a.id).toMatch(/^standard:[0-9a-f]{64}$/);
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
  });

  it("an over-long webhook-id is hashed, so the id stays within bounds", async () => {
    const [event] = events(await normalize(RESEND_BOUNCED, ctx("x".repeat(300)), RESEND));
    expect(event.id).toMatch(/^standard:[0-9a-f]{64}$/);
  });
});

describe("normalize: skipped and refused", () => {
  it.each([
    {
      name: "a type the mapping does not name",
      body: resend("domain.created"),
      mapping: RESEND,
      type: "domain.created",
      reason: "unmapped_type",
    },
    {
      name: "Clerk's user.created",
      body: { ...CLERK_SMS, type: "user.created" },
      mapping: CLERK,
      type: "user.created",
      reason: "unmapped_type",
    },
    {
      name: "an inherited name is not a mapped type",
      body: resend("toString"),
      mapping: RESEND,
      type: "toString",
      reason: "unmapped_type",
    },
    { name: "no recipient", body: resend("email.delivered", { to: [] }), mapping: RESEND, type: "email.delivered", reason: "no_recipient" },
    {
      name: "recipients not strings",
      body: resend("email.delivered", { to: [{}, null, ""] }),
      mapping: RESEND,
      type: "email.delivered",
      reason: "no_recipient",
    },
    {
      name: "no message id",
      body: resend("email.delivered", { email_id: undefined }),
      mapping: RESEND,
      type: "email.delivered",
      reason: "no_provider_message_id",
    },
    {
      name: "a message id too long",
      body: resend("email.delivered", { email_id: "x".repeat(257) }),
      mapping: RESEND,
      type: "email.delivered",
      reason: "no_provider_message_id",
    },
  ])("$name", async ({ body, mapping, type, reason }) => {
    expect(await normalize(body, ctx(), mapping)).toEqual({ ok: true, events: [], skipped: [{ index: 0, type, reason }] });
  });

  it.each([
    { name: "no type", body: { data: {} }, path: "type" },
    { name: "a type not a string", body: { type: 3 }, path: "type" },
    { name: "an array of events", body: [RESEND_BOUNCED], path: "(body)" },
    { name: "not an object", body: "email.bounced", path: "(body)" },
    { name: "null", body: null, path: "(body)" },
  ])("$name: ok false, with the path", async ({ body, path }) => {
    const result = await normalize(body, ctx(), RESEND);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.path)).toEqual([path]);
  });

  it("the type path is the mapping's", async () => {
    const result = await normalize({ type: "email.delivered" }, ctx(), LOOPS);
    expect(result).toMatchObject({ ok: false, issues: [{ path: "eventName" }] });
  });
});
