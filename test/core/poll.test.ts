/**
 * The status poll's pure half: Twilio's Messages resource (the documented fetch answer) read as
 * the same event its status callback makes, the request, and the poll schedule and window.
 */
import { describe, expect, it } from "vitest";
import { statusEvent } from "../../src/webhooks/twilio.ts";
import { normalizePoll, pollRequest } from "../../src/core/poll/twilio.ts";
import { DEFAULT_STATUS_POLL, nextPollAt, pollWindow, statusPollSettings } from "../../src/core/poll/schedule.ts";
import { deliverySection } from "../../src/core/ip-pools.ts";

const SID = "SM1f0e8ae6ade43cb3c0ce4525424e404f";
const ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef";
const route = {
  name: "rest",
  type: "rest" as const,
  baseUrl: "https://api.twilio.com/",
  accountSid: ACCOUNT_SID,
  authToken: "token-0123456789abcdef",
};
const ctx = {
  account: "acct-a",
  messageId: "0b6a1d52-4a8e-4f7e-9a51-2f6c3c1d9e10",
  route: "rest",
  providerMessageId: SID,
  now: "2026-12-07T02:00:00.000Z",
};

/** Twilio's Message resource as GET .../Messages/{Sid}.json answers it (fields abridged to what varies). */
const resource = (status: string, error_code: number | null = null) => ({
  account_sid: ACCOUNT_SID,
  api_version: "2010-04-01",
  body: "Your code is 123456",
  date_created: "Mon, 07 Dec 2026 01:40:00 +0000",
  date_sent: "Mon, 07 Dec 2026 01:40:01 +0000",
  date_updated: "Mon, 07 Dec 2026 01:40:05 +0000",
  direction: "outbound-api",
  error_code,
  error_message: error_code === null ? null : "Unknown destination handset",
  from: "+15005550006",
  messaging_service_sid: null,
  num_media: "0",
  num_segments: "1",
  price: null,
  price_unit: "USD",
  sid: SID,
  status,
  to: "+14155550100",
  uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${SID}.json`,
});

describe("pollRequest (Twilio)", () => {
  it("GETs the message resource with the route's Basic credentials, no redirects", () => {
    const request = pollRequest(SID, route);
    expect(request.url).toBe(`https://api.twilio.com/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${SID}.json`);
    expect(request.init).toMatchObject({ method: "GET", redirect: "manual" });
    expect((request.init.headers as Record<string, string>).authorization).toBe(`Basic ${btoa(`${ACCOUNT_SID}:${route.authToken}`)}`);
  });
  it("escapes a provider id that is not a sid", () => {
    expect(pollRequest("../x?y", route).url).toContain("/Messages/..%2Fx%3Fy.json");
  });
});

describe("normalizePoll (Twilio): each status as its callback maps it, with the callback's event id", () => {
  it.each([
    ["queued", null, "accepted", false, {}],
    ["sending", null, "accepted", false, {}],
    ["sent", null, "accepted", false, {}],
    ["accepted", null, "accepted", false, {}],
    ["delivered", null, "delivered", true, {}],
    ["read", null, "delivered", true, {}],
    ["undelivered", 30005, "bounced", true, { class: "hard", reason: "unknown_destination", errorCode: 30005 }],
    ["undelivered", 30003, "bounced", true, { class: "soft", reason: "unreachable_handset", errorCode: 30003 }],
    ["failed", 30007, "failed", true, { reason: "carrier_filtered", errorCode: 30007 }],
    ["failed", null, "failed", true, { reason: "failed" }],
    ["canceled", null, "failed", true, { reason: "canceled" }],
  ] as const)("%s (error_code %s) → %s", async (status, code, type, final, detail) => {
    const result = await normalizePoll(ctx, 200, resource(status, code));
    expect(result.kind).toBe("event");
    if (result.kind !== "event") return;
    expect(result.final).toBe(final);
    expect(result.event).toMatchObject({ account: "acct-a", messageId: ctx.messageId, type, provider: "twilio", occurredAt: ctx.now });
    expect(result.event.detail).toMatchObject({ status, sid: SID, providerMessageId: SID, route: "rest", via: "poll", ...detail });
    // The callback of the same transition (ErrorCode a form string) is the same event: applied once.
    const callback = await statusEvent(
      { account: "acct-a", route: "rest", message: ctx.messageId },
      { MessageSid: SID, MessageStatus: status, ...(code === null ? {} : { ErrorCode: String(code) }) },
      "2026-12-07T02:01:00.000Z",
    );
    expect(callback!.id).toBe(result.event.id);
    expect(callback!.type).toBe(type);
  });

  it.each([
    [401, { code: 20003, message: "Authenticate", more_info: "https://www.twilio.com/docs/errors/20003", status: 401 }, "twilio_20003"],
    [404, { code: 20404, message: "The requested resource was not found", status: 404 }, "twilio_20404"],
    [500, null, "http_500"],
    [503, { code: 20503, message: "Service Unavailable", status: 503 }, "twilio_20503"],
    [200, { status: "delivered" }, "not_a_message_resource"],
    [200, { ...resource("delivered"), sid: "SMother" }, "another_message"],
    [200, resource("receiving"), "unknown_status_receiving"],
  ])("HTTP %s %j is an error that changes nothing (%s)", async (status, body, reason) => {
    expect(await normalizePoll(ctx, status, body)).toEqual({ kind: "error", reason, status });
  });
});

describe("the poll schedule", () => {
  it("defaults: after 15 minutes, until 72 hours, enabled; the delivery section carries it", () => {
    expect(statusPollSettings.parse({})).toEqual(DEFAULT_STATUS_POLL);
    expect(deliverySection.parse({}).statusPoll).toEqual(DEFAULT_STATUS_POLL);
    expect(deliverySection.parse({ statusPoll: { afterMinutes: 30 } }).statusPoll).toEqual({ ...DEFAULT_STATUS_POLL, afterMinutes: 30 });
  });
  it.each([
    [{ afterMinutes: 4 }, "afterMinutes"],
    [{ afterMinutes: 1441 }, "afterMinutes"],
    [{ stopAfterHours: 0 }, "stopAfterHours"],
    [{ stopAfterHours: 169 }, "stopAfterHours"],
    [{ every: 5 }, ""],
  ])("refuses %j at %s", (input, path) => {
    const parsed = statusPollSettings.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join("."))).toContain(path);
  });
  it("the window: created within stopAfterHours, unchanged for afterMinutes", () => {
    const now = Date.parse("2026-12-07T02:00:00.000Z");
    expect(pollWindow(DEFAULT_STATUS_POLL, now)).toEqual({
      createdAfter: "2026-12-04T02:00:00.000Z",
      unchangedSince: "2026-12-07T01:45:00.000Z",
      now,
      limit: 50,
    });
  });
  const MIN = 60_000;
  it.each([
    [15, 15],
    [20, 20],
    [60, 60],
    [300, 300],
    [600, 360],
    [3000, 360],
  ])("a message unchanged for %i min is asked again %i min later", (waited, after) => {
    const now = Date.parse("2026-12-07T02:00:00.000Z");
    expect(nextPollAt(DEFAULT_STATUS_POLL, new Date(now - waited * MIN).toISOString(), now)).toBe(now + after * MIN);
  });
});
