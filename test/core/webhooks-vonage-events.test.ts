import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { providerEvent, type NormalizeResult, type ProviderEvent } from "../../src/core/provider-event.ts";
import { DLR_ERRORS, inboundMessage, isReceipt, normalize, vonageStatusVerdict } from "../../src/webhooks/vonage.ts";

// dlr-delivered.json is the "typical DLR" of Vonage's delivery receipts guide
// (developer.vonage.com/messaging/sms/guides/delivery-receipts); the inbound ones carry the
// fields of its inbound SMS guide (developer.vonage.com/messaging/sms/guides/inbound-sms).
const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/webhooks/vonage/${name}.json`, import.meta.url), "utf8")) as Record<string, string>;
const DLR = fixture("dlr-delivered");
const INBOUND = fixture("inbound-text");
const INBOUND_PART = fixture("inbound-concat-part");

const OURS = "2f9a4a6e-3c1b-4f0e-9a51-7d6b1c2e8f30";
const RECEIVED = "2026-01-02T03:04:05.000Z";
const ctx = { account: "acct_test", receivedAt: RECEIVED };
const dlr = (fields: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries({ ...DLR, ...fields }).filter(([, v]) => v !== undefined)) as Record<string, string>;

function events(result: NormalizeResult): ProviderEvent[] {
  if (!result.ok) throw new Error(`not ok: ${JSON.stringify(result.issues)}`);
  for (const event of result.events) expect(providerEvent.parse(event)).toEqual(event);
  return result.events;
}
async function one(params: Record<string, string>): Promise<ProviderEvent> {
  const [event, ...rest] = events(await normalize(params, ctx));
  expect(rest).toEqual([]);
  return event;
}

describe("Vonage delivery receipts: one row per status", () => {
  it.each([
    { status: "delivered", err: "0", type: "delivered", detail: { reason: "delivered" } },
    { status: "accepted", err: "0", type: "accepted", detail: { reason: "accepted" } },
    { status: "buffered", err: "0", type: "accepted", detail: { reason: "buffered", buffered: true } },
    { status: "expired", err: "0", type: "expired", detail: { reason: "expired" } },
    { status: "failed", err: "3", type: "bounced", detail: { class: "hard", reason: "absent_subscriber_permanent", errCode: 3 } },
    { status: "failed", err: "2", type: "bounced", detail: { class: "soft", reason: "absent_subscriber_temporary", errCode: 2 } },
    { status: "failed", err: "52", type: "failed", detail: { reason: "content_filter", errCode: 52 } },
    // No code, code 0, or a code Vonage does not document: the status is all we know.
    { status: "failed", err: undefined, type: "failed", detail: { reason: "failed" } },
    { status: "failed", err: "0", type: "failed", detail: { reason: "failed", errCode: 0 } },
    { status: "failed", err: "42", type: "failed", detail: { reason: "failed", errCode: 42 } },
    { status: "rejected", err: "6", type: "failed", detail: { reason: "anti_spam_rejection", errCode: 6 } },
    { status: "rejected", err: "0", type: "failed", detail: { reason: "rejected" } },
    // Rejected up front for a dead number is still a dead number.
    { status: "rejected", err: "3", type: "bounced", detail: { class: "hard", reason: "absent_subscriber_permanent" } },
  ])("$status, err-code $err: $type", async ({ status, err, type, detail }) => {
    const event = await one(dlr({ status, "err-code": err }));
    expect(event.type).toBe(type);
    expect(event.detail).toMatchObject({ providerType: status, ...detail });
    if (type !== "bounced") expect(event.detail.class).toBeUndefined();
    if (status !== "buffered") expect(event.detail.buffered).toBeUndefined();
  });

  it.each(["unknown", "deleted", ""])("status %j: skipped", async (status) => {
    const result = await normalize(dlr({ status: status || undefined }), ctx);
    if (status === "") {
      // No status at all is not a receipt.
      expect(result).toMatchObject({ ok: false, issues: [{ path: "status" }] });
      return;
    }
    expect(result).toEqual({ ok: true, events: [], skipped: [{ index: 0, type: status, reason: "unknown_status" }] });
  });

  it("the documented DLR, field by field", async () => {
    expect(await one(DLR)).toEqual({
      id: expect.stringMatching(/^vonage:[0-9a-f]{64}$/),
      account: "acct_test",
      type: "delivered",
      occurredAt: "2018-10-25T12:10:29.000Z",
      receivedAt: RECEIVED,
      provider: "vonage",
      channel: "sms",
      recipient: "+447547232824",
      providerMessageId: "0B00000127FDBC63",
      detail: {
        providerType: "delivered",
        reason: "delivered",
        errCode: 0,
        networkCode: "23410",
        price: "0.03330000",
        sender: "Nexmo CLI",
      },
    });
  });
});

/** Vonage's documented err-codes, by number (api.support.vonage.com, "Vonage SMS Delivery Error Codes and Descriptions"). */
const DOCUMENTED = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 50, 51, 52, 53, 54, 99];

describe("Vonage err-codes", () => {
  it("the table holds every documented code, and no other", () => {
    expect(Object.keys(DLR_ERRORS).map(Number)).toEqual(DOCUMENTED);
  });

  it.each([
    { code: 1, type: "failed", class: undefined, reason: "unknown" },
    { code: 2, type: "bounced", class: "soft", reason: "absent_subscriber_temporary" },
    { code: 3, type: "bounced", class: "hard", reason: "absent_subscriber_permanent" },
    { code: 4, type: "bounced", class: "hard", reason: "call_barred_by_user" },
    { code: 5, type: "failed", class: undefined, reason: "portability_error" },
    { code: 6, type: "failed", class: undefined, reason: "anti_spam_rejection" },
    { code: 7, type: "bounced", class: "soft", reason: "handset_busy" },
    { code: 8, type: "failed", class: undefined, reason: "network_error" },
    { code: 9, type: "bounced", class: "hard", reason: "illegal_number" },
    { code: 10, type: "failed", class: undefined, reason: "illegal_message" },
    { code: 11, type: "failed", class: undefined, reason: "unroutable" },
    { code: 12, type: "bounced", class: "soft", reason: "destination_unreachable" },
    { code: 13, type: "failed", class: undefined, reason: "subscriber_age_restriction" },
    { code: 14, type: "bounced", class: "hard", reason: "number_blocked_by_carrier" },
    { code: 15, type: "bounced", class: "soft", reason: "prepaid_insufficient_funds" },
    { code: 16, type: "failed", class: undefined, reason: "gateway_quota_exceeded" },
    { code: 50, type: "failed", class: undefined, reason: "entity_filter" },
    { code: 51, type: "failed", class: undefined, reason: "header_filter" },
    { code: 52, type: "failed", class: undefined, reason: "content_filter" },
    { code: 53, type: "failed", class: undefined, reason: "consent_filter" },
    { code: 54, type: "failed", class: undefined, reason: "regulation_error" },
    { code: 99, type: "failed", class: undefined, reason: "general_error" },
  ])("failed with err-code $code: $type $class $reason", async ({ code, type, class: cls, reason }) => {
    const event = await one(dlr({ status: "failed", "err-code": String(code) }));
    expect(event.type).toBe(type);
    expect(event.detail.class).toBe(cls);
    expect(event.detail.reason).toBe(reason);
    expect(event.detail.errCode).toBe(code);
  });

  it("a delivered receipt is delivered whatever its err-code", () => {
    expect(vonageStatusVerdict("delivered", "3")).toEqual({ type: "delivered", reason: "delivered", errCode: 3 });
  });

  it("status in any case, err-code with spaces", () => {
    expect(vonageStatusVerdict(" FAILED ", " 3 ")).toEqual({
      type: "bounced",
      class: "hard",
      reason: "absent_subscriber_permanent",
      errCode: 3,
    });
  });

  it("an err-code that is not a number is left out", () => {
    expect(vonageStatusVerdict("failed", "x3")).toEqual({ type: "failed", reason: "failed" });
  });
});

describe("Vonage delivery receipts: ids, times, our id", () => {
  it("the same receipt twice, or retried with a new signature timestamp and nonce: one id", async () => {
    const a = await one(DLR);
    const b = await one({ ...DLR });
    const c = await one({ ...DLR, timestamp: "1767225600", nonce: "ec11dd3e-1e7f-4db5-9467-82b02cd223b9" });
    expect(b.id).toBe(a.id);
    expect(c.id).toBe(a.id);
  });

  it.each([
    { name: "another status", fields: { status: "accepted" } },
    { name: "another err-code", fields: { status: "failed", "err-code": "3" } },
    { name: "another carrier time", fields: { scts: "1810251311" } },
    { name: "another message", fields: { messageId: "0B00000127FDBC64" } },
    { name: "another handset's receipt", fields: { messageId: "0B00000127FDBC65", msisdn: "447547232825" } },
  ])("$name: another id", async ({ fields }) => {
    const [a, b] = [await one(DLR), await one(dlr(fields))];
    expect(b.id).not.toBe(a.id);
  });

  it.each([
    { name: "message-timestamp, as UTC", fields: {}, at: "2018-10-25T12:10:29.000Z" },
    { name: "scts without message-timestamp", fields: { "message-timestamp": undefined }, at: "2018-10-25T13:10:00.000Z" },
    {
      name: "scts when message-timestamp is no date",
      fields: { "message-timestamp": "2018-13-45 12:10:29" },
      at: "2018-10-25T13:10:00.000Z",
    },
    { name: "receivedAt without either", fields: { "message-timestamp": undefined, scts: undefined }, at: RECEIVED },
    { name: "receivedAt when scts is no date", fields: { "message-timestamp": undefined, scts: "1813251310" }, at: RECEIVED },
  ])("occurredAt from $name", async ({ fields, at }) => {
    expect((await one(dlr(fields))).occurredAt).toBe(at);
  });

  it.each([
    { name: "client-ref echoed", ref: OURS, messageId: OURS },
    { name: "client-ref not a UUID", ref: "order-42", messageId: undefined },
    { name: "no client-ref", ref: undefined, messageId: undefined },
  ])("$name", async ({ ref, messageId }) => {
    const event = await one(dlr({ "client-ref": ref }));
    expect(event.messageId).toBe(messageId);
    expect(Object.hasOwn(event, "messageId")).toBe(messageId !== undefined);
  });

  it("an msisdn sent with its + keeps one", async () => {
    expect((await one(dlr({ msisdn: "+447547232824" }))).recipient).toBe("+447547232824");
  });

  it("a JSON callback's numbers read as strings", async () => {
    const event = await one({ ...DLR, "err-code": 3, status: "failed", scts: 1810251310 } as unknown as Record<string, string>);
    expect(event.detail).toMatchObject({ class: "hard", errCode: 3 });
  });

  it.each([
    { name: "no messageId", body: dlr({ messageId: undefined }), path: "messageId" },
    { name: "no msisdn", body: dlr({ msisdn: undefined }), path: "msisdn" },
    { name: "an msisdn that is no number", body: dlr({ msisdn: "Vonage" }), path: "msisdn" },
    { name: "an inbound message", body: INBOUND, path: "status" },
    { name: "not an object", body: "status=delivered", path: "(body)" },
  ])("$name: ok false, with the path", async ({ body, path }) => {
    const result = await normalize(body, ctx);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.path)).toContain(path);
  });
});

describe("Vonage callbacks: receipt or inbound", () => {
  it.each([
    { name: "a delivery receipt", params: DLR, receipt: true },
    { name: "an inbound message", params: INBOUND, receipt: false },
    { name: "a part of one", params: INBOUND_PART, receipt: false },
    { name: "an empty status", params: { ...DLR, status: "" }, receipt: false },
  ])("$name", ({ params, receipt }) => {
    expect(isReceipt(params)).toBe(receipt);
  });
});

describe("Vonage inbound messages", () => {
  it("a text message: the handset with its +, our number, the text, Vonage's time", () => {
    expect(inboundMessage(INBOUND, RECEIVED)).toEqual({
      id: "0A0000000123ABCD1",
      from: "+447700900001",
      to: "447700900000",
      body: "Hello world",
      receivedAt: "2020-01-01T12:00:00.000Z",
    });
  });

  it("unicode text as it came", () => {
    expect(inboundMessage({ ...INBOUND, type: "unicode", text: "ünïcödé 😀" }, RECEIVED)?.body).toBe("ünïcödé 😀");
  });

  it("an empty text is still a message", () => {
    expect(inboundMessage({ ...INBOUND, text: "" }, RECEIVED)?.body).toBe("");
  });

  it("no message-timestamp: the time given", () => {
    const { "message-timestamp": _, ...rest } = INBOUND;
    expect(inboundMessage(rest, RECEIVED)?.receivedAt).toBe(RECEIVED);
  });

  it("a part of a concatenated message: its own id and text, marked", () => {
    expect(inboundMessage(INBOUND_PART, RECEIVED)).toEqual({
      id: "0A0000000123ABCD2",
      from: "+447700900001",
      to: "447700900000",
      body: "second part of a long message",
      receivedAt: "2020-01-01T12:00:01.000Z",
      concat: { ref: "1", part: 2, total: 3 },
    });
  });

  it.each([
    { name: "binary", params: { ...INBOUND, type: "binary", text: undefined, data: "0102", udh: "050003" } },
    { name: "binary with a text field", params: { ...INBOUND, type: "binary" } },
    { name: "no text", params: { ...INBOUND, text: undefined } },
    { name: "no messageId", params: { ...INBOUND, messageId: undefined } },
    { name: "no msisdn", params: { ...INBOUND, msisdn: undefined } },
    { name: "no to", params: { ...INBOUND, to: undefined } },
    { name: "a part without its number", params: { ...INBOUND_PART, "concat-part": undefined } },
    { name: "a part past the total", params: { ...INBOUND_PART, "concat-part": "4" } },
    { name: "a part without its reference", params: { ...INBOUND_PART, "concat-ref": undefined } },
  ])("$name: null", ({ params }) => {
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined)) as Record<string, string>;
    expect(inboundMessage(clean, RECEIVED)).toBeNull();
  });
});
