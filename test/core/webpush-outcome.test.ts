import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { webpushOutcome } from "../../src/channels/webpush.ts";

const NOW = Date.UTC(2025, 0, 1, 0, 0, 0);

describe("webpushOutcome", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("201 with Location → accepted, the Location as providerMessageId", () => {
    const location = "https://updates.push.services.mozilla.com/m/gAAAAABn";
    expect(webpushOutcome(201, new Headers({ location }), "")).toEqual({
      kind: "accepted",
      detail: { status: 201, providerMessageId: location },
    });
  });

  it.each([
    [201, ""],
    [202, ""],
    [200, "ok"],
  ])("%i without Location → accepted, no providerMessageId", (status, body) => {
    expect(webpushOutcome(status, new Headers(), body)).toEqual({
      kind: "accepted",
      detail: { status, ...(body ? { response: body } : {}) },
    });
  });

  it.each([404, 410])("%i → bounced, hard, token_invalid", (status) => {
    expect(webpushOutcome(status, new Headers(), "")).toEqual({
      kind: "bounced",
      detail: { status, class: "hard", reason: "token_invalid" },
    });
  });

  it.each<[number, string]>([
    [413, "payload_too_large"],
    [400, "rejected"],
    [401, "vapid_rejected"],
    [403, "vapid_rejected"],
  ])("%i → failed, %s", (status, reason) => {
    expect(webpushOutcome(status, new Headers(), "")).toEqual({ kind: "failed", detail: { status, reason } });
  });

  it.each<[number, Record<string, string>, number | undefined, string]>([
    [429, { "retry-after": "30" }, 30, "rate_limited"],
    [429, { "retry-after": "Wed, 01 Jan 2025 00:02:00 GMT" }, 120, "rate_limited"],
    [429, { "retry-after": "Tue, 31 Dec 2024 00:00:00 GMT" }, 0, "rate_limited"],
    [429, {}, undefined, "rate_limited"],
    [500, {}, undefined, "server_error"],
    [502, {}, undefined, "server_error"],
    [503, { "retry-after": "5" }, 5, "server_error"],
    [503, {}, undefined, "server_error"],
  ])("%i %j → retry after %j, %s", (status, headers, retryAfter, reason) => {
    expect(webpushOutcome(status, new Headers(headers), "")).toEqual({ kind: "retry", retryAfter, detail: { status, reason } });
  });

  it("keeps at most 512 characters of the response body", () => {
    const outcome = webpushOutcome(400, new Headers(), "x".repeat(600));
    expect(outcome.detail.response).toBe("x".repeat(512));
  });
});
