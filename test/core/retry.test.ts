import { describe, expect, it } from "vitest";
import { MAX_QUEUE_DELAY_SECONDS, backoffSeconds, parseRetryAfter, retryDelaySeconds } from "../../src/core/retry.ts";

const fixed = (value: number) => () => value;

describe("backoffSeconds (base 30, cap 3600)", () => {
  // ceiling = min(3600, 30·2^(attempt-1)); delay = round(ceiling/2 + random·ceiling/2)
  it.each([
    // attempt, random 0, random 0.5, random 1
    [1, 15, 23, 30], // 22.5 rounds up
    [2, 30, 45, 60],
    [3, 60, 90, 120],
    [4, 120, 180, 240],
    [5, 240, 360, 480],
    [6, 480, 720, 960],
    [7, 960, 1440, 1920],
    [8, 1800, 2700, 3600], // 3840 capped to 3600
  ])("attempt %i → %i / %i / %i", (attempt, low, mid, high) => {
    expect(backoffSeconds(attempt, 30, 3600, fixed(0))).toBe(low);
    expect(backoffSeconds(attempt, 30, 3600, fixed(0.5))).toBe(mid);
    expect(backoffSeconds(attempt, 30, 3600, fixed(1))).toBe(high);
  });

  it.each([
    [20, 3600],
    [100, 3600],
  ])("attempt %i never exceeds the cap (random 1 → %i)", (attempt, expected) => {
    expect(backoffSeconds(attempt, 30, 3600, fixed(1))).toBe(expected);
  });

  it.each([
    [0, 30, 15], // attempt 0 is treated like attempt 1
    [1, 0, 0], // base 0 (tests) → no delay
    [3, 0, 0],
  ])("attempt %i, base %i → %i with random 0", (attempt, base, expected) => {
    expect(backoffSeconds(attempt, base, 3600, fixed(0))).toBe(expected);
  });

  it("honours a smaller cap", () => {
    expect(backoffSeconds(5, 30, 100, fixed(1))).toBe(100);
    expect(backoffSeconds(5, 30, 100, fixed(0))).toBe(50);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.UTC(2025, 0, 1, 0, 0, 0);

  it.each<[string, string | null | undefined, number | undefined]>([
    ["delay-seconds", "120", 120],
    ["zero", "0", 0],
    ["padded", " 7 ", 7],
    ["HTTP-date 90 s ahead", "Wed, 01 Jan 2025 00:01:30 GMT", 90],
    ["HTTP-date 90.5 s ahead is rounded up", new Date(now + 90_500).toUTCString(), 90], // toUTCString drops ms
    ["HTTP-date in the past", "Tue, 31 Dec 2024 23:59:00 GMT", 0],
    ["garbage", "soon", undefined],
    ["seconds with a unit", "120s", undefined],
    ["fractional", "1.5", undefined],
    ["negative", "-5", undefined],
    ["comma", "1,5", undefined],
    ["RFC 850 date", "Wednesday, 01-Jan-25 00:01:30 GMT", 90],
    ["asctime date", "Wed Jan  1 00:01:30 2025", 90],
    ["empty", "", undefined],
    ["null", null, undefined],
    ["undefined", undefined, undefined],
  ])("%s: %j → %j", (_, value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it("rounds a sub-second remainder up", () => {
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:30 GMT", now + 500)).toBe(90);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:30 GMT", now + 1000)).toBe(89);
  });
});

describe("retryDelaySeconds", () => {
  it.each<[string, number, number, number | undefined, number, number]>([
    ["Retry-After wins over backoff", 1, 30, 120, 0, 120],
    ["Retry-After 0 is honoured", 5, 30, 0, 1, 0],
    ["Retry-After clamped to 12 h", 1, 30, 100_000, 0, MAX_QUEUE_DELAY_SECONDS],
    ["Retry-After exactly 12 h", 1, 30, 43_200, 0, 43_200],
    ["negative Retry-After clamped to 0", 1, 30, -5, 0, 0],
    ["no Retry-After: backoff, random 0", 3, 30, undefined, 0, 60],
    ["no Retry-After: backoff, random 1", 3, 30, undefined, 1, 120],
    ["no Retry-After: backoff capped at 3600", 10, 30, undefined, 1, 3600],
    ["no Retry-After, base 0", 4, 0, undefined, 1, 0],
  ])("%s", (_, attempt, base, retryAfter, random, expected) => {
    expect(retryDelaySeconds(attempt, base, retryAfter, fixed(random))).toBe(expected);
  });

  it("MAX_QUEUE_DELAY_SECONDS is 12 hours", () => {
    expect(MAX_QUEUE_DELAY_SECONDS).toBe(12 * 60 * 60);
  });
});
