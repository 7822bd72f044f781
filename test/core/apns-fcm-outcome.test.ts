import { describe, expect, it } from "vitest";
import { apnsHeaders, apnsOutcome } from "../../src/core/apns.ts";
import { fcmOutcome } from "../../src/core/fcm.ts";

const fcmError = (code: number, status: string, errorCode?: string, extra: Array<Record<string, unknown>> = [], message = "m") => ({
  error: {
    code,
    message,
    status,
    details: [...extra, ...(errorCode ? [{ "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", errorCode }] : [])],
  },
});

describe("apnsOutcome (Apple's status codes and reasons)", () => {
  it.each([
    [200, null, "accepted", undefined],
    [410, { reason: "Unregistered", timestamp: 1_700_000_000_000 }, "bounced", "token_invalid"],
    [400, { reason: "BadDeviceToken" }, "bounced", "token_invalid"],
    [400, { reason: "DeviceTokenNotForTopic" }, "bounced", "token_invalid"],
    [400, { reason: "BadTopic" }, "failed", "rejected"],
    [400, { reason: "BadCollapseId" }, "failed", "rejected"],
    [413, { reason: "PayloadTooLarge" }, "failed", "payload_too_large"],
    [403, { reason: "InvalidProviderToken" }, "failed", "configuration"],
    [403, { reason: "ExpiredProviderToken" }, "retry", "provider_token"],
    [429, { reason: "TooManyProviderTokenUpdates" }, "retry", "rate_limited"],
    [429, { reason: "TooManyRequests" }, "retry", "rate_limited"],
    [500, { reason: "InternalServerError" }, "retry", "server_error"],
    [503, { reason: "ServiceUnavailable" }, "retry", "server_error"],
  ] as const)("%i %j → %s (%s)", (status, body, kind, reason) => {
    const outcome = apnsOutcome(status, body, null, "6e2a3f0c-0000-4000-8000-000000000000");
    expect(outcome.kind).toBe(kind);
    expect(outcome.detail.reason).toBe(reason);
    if (body?.reason) expect(outcome.detail.apnsReason).toBe(body.reason);
  });

  it("keeps the 410 timestamp and the apns-id", () => {
    expect(apnsOutcome(410, { reason: "Unregistered", timestamp: 1_700_000_000_000 }).detail.unregisteredAt).toBe(
      "2023-11-14T22:13:20.000Z",
    );
    expect(apnsOutcome(200, null, null, "abc").detail.providerMessageId).toBe("abc");
  });

  it("honours Retry-After on 429", () => {
    expect(apnsOutcome(429, { reason: "TooManyRequests" }, "7")).toMatchObject({ kind: "retry", retryAfter: 7 });
  });

  it("builds Apple's request headers, defaulting background pushes to priority 5", () => {
    const base = { id: "6e2a3f0c-0000-4000-8000-000000000000", token: "ab".repeat(32), topic: "com.example", payload: { aps: {} } };
    expect(apnsHeaders({ ...base, pushType: "alert", collapseId: "c", expiration: 0 }, "bearer t")).toEqual({
      authorization: "bearer t",
      "apns-id": base.id,
      "apns-topic": "com.example",
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": "0",
      "apns-collapse-id": "c",
    });
    expect(apnsHeaders({ ...base, pushType: "background" }, "bearer t")["apns-priority"]).toBe("5");
  });
});

describe("fcmOutcome (FCM HTTP v1 error codes)", () => {
  it.each([
    [200, { name: "projects/p/messages/1" }, "accepted", undefined],
    [404, fcmError(404, "NOT_FOUND", "UNREGISTERED"), "bounced", "token_invalid"],
    [403, fcmError(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), "bounced", "token_invalid"],
    [
      400,
      fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", [
        { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "message.token", description: "bad" }] },
      ]),
      "bounced",
      "token_invalid",
    ],
    [
      400,
      fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", [], "The registration token is not a valid FCM registration token"),
      "bounced",
      "token_invalid",
    ],
    [
      400,
      fcmError(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", [
        { "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "message.data[0].value" }] },
      ]),
      "failed",
      "invalid_argument",
    ],
    [429, fcmError(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), "retry", "rate_limited"],
    [503, fcmError(503, "UNAVAILABLE", "UNAVAILABLE"), "retry", "server_error"],
    [500, fcmError(500, "INTERNAL", "INTERNAL"), "retry", "server_error"],
    [401, fcmError(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), "failed", "configuration"],
    [401, fcmError(401, "UNAUTHENTICATED"), "failed", "configuration"],
    [502, "<html>bad gateway</html>", "retry", "server_error"],
  ] as const)("%i → %s (%s)", (status, body, kind, reason) => {
    const outcome = fcmOutcome(status, body, "3");
    expect(outcome.kind).toBe(kind);
    expect(outcome.detail.reason).toBe(reason);
    if (kind === "retry") expect(outcome).toMatchObject({ retryAfter: 3 });
  });

  it("keeps the message name as the provider message id", () => {
    expect(fcmOutcome(200, { name: "projects/p/messages/0:1" }).detail.providerMessageId).toBe("projects/p/messages/0:1");
  });
});
