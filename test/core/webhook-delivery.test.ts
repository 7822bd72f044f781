import { Webhook } from "standardwebhooks";
import { Webhook as SvixWebhook } from "svix";
import { describe, expect, it } from "vitest";
import {
  ATTEMPT_TIMEOUT_MS,
  DISABLE_AFTER_MS,
  MAX_ATTEMPTS,
  RESPONSE_BODY_BYTES,
  RETRY_AFTER_CAP_MS,
  RETRY_SCHEDULE_MS,
  deliveryHeaders,
  judgeAttempt,
  nextAttemptAt,
  parseRetryAfter,
  readPrefix,
  signatureHeader,
  type AttemptVerdict,
} from "../../src/core/webhook-delivery.ts";
import { sign } from "../../src/core/standard-webhooks.ts";
import { newEndpointSecret } from "../../src/core/webhook-secrets.ts";

// Made at run time: no secret, not even a test one, lives in the repo.
const current = newEndpointSecret();
const previous = newEndpointSecret();
const stranger = newEndpointSecret();
const body = JSON.stringify({ type: "message.delivered", data: { id: "msg_1", note: "ünïcødé ✓" } });
const id = "evt_2p5tsQ8qZ1w3xUaVKt0e9vTkJcR";
const NOW = Date.UTC(2025, 0, 1, 0, 0, 0);

describe("constants", () => {
  it("are the documented schedule and limits", () => {
    expect(RETRY_SCHEDULE_MS).toEqual([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(RETRY_SCHEDULE_MS).toHaveLength(MAX_ATTEMPTS);
    expect([MAX_ATTEMPTS, ATTEMPT_TIMEOUT_MS, RETRY_AFTER_CAP_MS, RESPONSE_BODY_BYTES]).toEqual([8, 15_000, 36_000_000, 1024]);
    expect(DISABLE_AFTER_MS).toBe(432_000_000);
  });
});

describe("signed deliveries verify with independent receivers", () => {
  // The receivers check the timestamp against their own clock: sign at the real now.
  const headersNow = () => deliveryHeaders([current, previous], id, body, Date.now());
  const asSvix = (h: Record<string, string>) => ({
    "svix-id": h["webhook-id"],
    "svix-timestamp": h["webhook-timestamp"],
    "svix-signature": h["webhook-signature"],
  });

  it.each([
    ["the current secret", current],
    ["the previous secret", previous],
  ])("standardwebhooks verifies with %s alone", async (_label, secret) => {
    expect(new Webhook(secret).verify(body, await headersNow())).toEqual(JSON.parse(body));
  });

  it.each([
    ["the current secret, webhook-* headers", current, false],
    ["the previous secret, webhook-* headers", previous, false],
    ["the current secret, svix-* headers", current, true],
    ["the previous secret, svix-* headers", previous, true],
  ])("svix verifies with %s", async (_label, secret, svixNames) => {
    const headers = await headersNow();
    expect(() => new SvixWebhook(secret).verify(body, svixNames ? asSvix(headers) : headers)).not.toThrow();
  });

  it("a secret that did not sign is refused by both", async () => {
    const headers = await headersNow();
    expect(() => new Webhook(stranger).verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new SvixWebhook(stranger).verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new SvixWebhook(stranger).verify(body, asSvix(headers))).toThrow(/No matching signature/);
  });

  it("a body changed in transit is refused by both", async () => {
    const headers = await headersNow();
    const tampered = body.replace("msg_1", "msg_2");
    expect(() => new Webhook(current).verify(tampered, headers)).toThrow();
    expect(() => new SvixWebhook(previous).verify(tampered, headers)).toThrow();
  });
});

describe("deliveryHeaders and signatureHeader", () => {
  it("carries the five headers, the timestamp in seconds", async () => {
    const headers = await deliveryHeaders([current], id, body, NOW + 999);
    expect(Object.keys(headers).sort()).toEqual(["content-type", "user-agent", "webhook-id", "webhook-signature", "webhook-timestamp"]);
    expect(headers).toMatchObject({
      "webhook-id": id,
      "webhook-timestamp": String(NOW / 1000),
      "content-type": "application/json",
      "user-agent": "lasthop-webhooks/1",
    });
    expect(headers["webhook-signature"]).toBe(await sign(current, id, NOW / 1000, body));
  });

  it.each([
    ["one secret", [current]],
    ["two secrets", [current, previous]],
    ["six secrets (current + five old)", [current, previous, stranger, current, previous, stranger]],
  ])("%s → one v1 entry each, in order, space-separated", async (_label, secrets) => {
    const value = await signatureHeader(secrets, id, NOW / 1000, body);
    const entries = value.split(" ");
    expect(entries).toHaveLength(secrets.length);
    for (const entry of entries) expect(entry).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(entries).toEqual(await Promise.all(secrets.map((s) => sign(s, id, NOW / 1000, body))));
  });

  it("refuses to sign with no secret at all", async () => {
    await expect(signatureHeader([], id, NOW / 1000, body)).rejects.toThrow(/at least one/);
  });
});

describe("nextAttemptAt", () => {
  const justUnderOne = 1 - Number.EPSILON;

  // attempt n failed → attempt n+1 waits RETRY_SCHEDULE_MS[n], ±10 %
  it.each([
    [1, 5_000],
    [2, 300_000],
    [3, 1_800_000],
    [4, 7_200_000],
    [5, 18_000_000],
    [6, 36_000_000],
    [7, 36_000_000],
  ])("after attempt %i: %i ms, jitter within ±10 %", (attempt, delay) => {
    expect(nextAttemptAt(attempt, NOW, { random: () => 0 })).toBe(NOW + delay * 0.9);
    expect(nextAttemptAt(attempt, NOW, { random: () => 0.5 })).toBe(NOW + delay);
    const high = nextAttemptAt(attempt, NOW, { random: () => justUnderOne })!;
    expect(high).toBeLessThanOrEqual(NOW + delay * 1.1);
    expect(high).toBeGreaterThan(NOW + delay * 1.1 - 1);
  });

  it.each([
    [8, null],
    [9, null],
    [100, null],
  ])("after attempt %i: %s (no more attempts)", (attempt, expected) => {
    expect(nextAttemptAt(attempt, NOW, { random: () => 0.5 })).toBe(expected);
    expect(nextAttemptAt(attempt, NOW, { retryAfterMs: 5_000 })).toBe(expected);
  });

  it("a Math.random default stays within the bounds", () => {
    for (let i = 0; i < 200; i++) {
      const at = nextAttemptAt(2, NOW)!;
      expect(at).toBeGreaterThanOrEqual(NOW + 270_000);
      expect(at).toBeLessThanOrEqual(NOW + 330_000);
    }
  });

  it.each<[string, number | null | undefined, number]>([
    ["absent: the schedule", undefined, 300_000],
    ["null: the schedule", null, 300_000],
    ["NaN: the schedule", Number.NaN, 300_000],
    ["30 s replaces 5 min", 30_000, 30_000],
    ["an hour replaces 5 min", 3_600_000, 3_600_000],
    ["0 is raised to 1 s", 0, 1_000],
    ["negative is raised to 1 s", -5_000, 1_000],
    ["250 ms is raised to 1 s", 250, 1_000],
    ["exactly the cap", RETRY_AFTER_CAP_MS, RETRY_AFTER_CAP_MS],
    ["a day is capped at 10 h", 86_400_000, RETRY_AFTER_CAP_MS],
    ["Infinity is capped at 10 h", Number.POSITIVE_INFINITY, RETRY_AFTER_CAP_MS],
  ])("after attempt 2, retryAfterMs %s", (_label, retryAfterMs, delay) => {
    // random 0.5 = no jitter, so the scheduled rows read exactly; Retry-After is never jittered.
    expect(nextAttemptAt(2, NOW, { retryAfterMs, random: () => 0.5 })).toBe(NOW + delay);
    if (retryAfterMs != null && !Number.isNaN(retryAfterMs))
      expect(nextAttemptAt(2, NOW, { retryAfterMs, random: () => 0 })).toBe(NOW + delay);
  });
});

describe("parseRetryAfter", () => {
  it.each<[string, string | null | undefined, number | null]>([
    ["absent", undefined, null],
    ["null", null, null],
    ["empty", "", null],
    ["delta-seconds", "120", 120_000],
    ["zero", "0", 0],
    ["padded", " 7 ", 7_000],
    ["HTTP-date 90 s ahead", "Wed, 01 Jan 2025 00:01:30 GMT", 90_000],
    ["HTTP-date an hour ahead", new Date(NOW + 3_600_000).toUTCString(), 3_600_000],
    ["HTTP-date in the past: never negative", "Tue, 31 Dec 2024 23:59:00 GMT", 0],
    ["RFC 850 date", "Wednesday, 01-Jan-25 00:01:30 GMT", 90_000],
    ["asctime date", "Wed Jan  1 00:01:30 2025", 90_000],
    ["garbage", "soon", null],
    ["negative", "-5", null],
    ["fractional", "1.5", null],
    ["with a unit", "120s", null],
  ])("%s: %j → %s", (_label, value, expected) => {
    expect(parseRetryAfter(value, NOW)).toBe(expected);
  });
});

describe("judgeAttempt", () => {
  const response = (status: number, headers: Record<string, string> = {}) => ({ status, headers: new Headers(headers) });
  const failed = (reason: string, disable = false, retryAfterMs: number | null = null): AttemptVerdict => ({
    result: "failed",
    reason,
    disable,
    retryAfterMs,
  });
  const inTwoMinutes = new Date(NOW + 120_000).toUTCString();

  it.each<[string, Parameters<typeof judgeAttempt>[0], AttemptVerdict]>([
    ["200", response(200), { result: "succeeded" }],
    ["204", response(204), { result: "succeeded" }],
    ["299", response(299), { result: "succeeded" }],
    ["301", response(301, { location: "http://169.254.169.254/" }), failed("redirect")],
    ["302", response(302, { location: "https://example.com/" }), failed("redirect")],
    ["307", response(307), failed("redirect")],
    ["400", response(400), failed("status_400")],
    ["404", response(404), failed("status_404")],
    ["410 disables", response(410), failed("gone", true)],
    ["429 without Retry-After", response(429), failed("rate_limited")],
    ["429 with Retry-After seconds", response(429, { "retry-after": "30" }), failed("rate_limited", false, 30_000)],
    ["429 with Retry-After date", response(429, { "retry-after": inTwoMinutes }), failed("rate_limited", false, 120_000)],
    ["429 with a garbage Retry-After", response(429, { "retry-after": "later" }), failed("rate_limited")],
    ["500", response(500), failed("status_500")],
    ["500 ignores Retry-After", response(500, { "retry-after": "30" }), failed("status_500")],
    ["503 without Retry-After", response(503), failed("unavailable")],
    ["503 with Retry-After", response(503, { "retry-after": "3600" }), failed("unavailable", false, 3_600_000)],
    ["199 (not 2xx)", response(199), failed("status_199")],
    ["timeout", { error: "timeout" }, failed("timeout")],
    ["network", { error: "network", message: "connection refused" }, failed("network")],
  ])("%s", (_label, answer, expected) => {
    expect(judgeAttempt(answer, NOW)).toEqual(expected);
  });

  it("takes any Response-like headers getter", () => {
    const headers = { get: (name: string) => (name === "retry-after" ? "5" : null) };
    expect(judgeAttempt({ status: 429, headers }, NOW)).toEqual(failed("rate_limited", false, 5_000));
  });
});

describe("readPrefix", () => {
  /** A pull stream that serves `chunks` on demand and counts pulls (highWaterMark 0: nothing is read ahead). */
  function counted(chunks: Uint8Array[]) {
    const state = { pulled: 0, cancelled: false };
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const chunk = chunks[state.pulled++];
          if (chunk) controller.enqueue(chunk);
          else controller.close();
        },
        cancel() {
          state.cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    return { stream, state };
  }
  const bytes = (n: number, fill = 0x61) => new Uint8Array(n).fill(fill);

  it.each<[string, number[], number, number, boolean]>([
    // label, chunk sizes, expected length, pulls, cancelled
    ["a short body, read to the end", [10, 20], 30, 3, false],
    ["empty body", [], 0, 1, false],
    ["exactly the limit in one chunk", [1024], 1024, 1, true],
    ["exactly the limit in two chunks", [512, 512, 512], 1024, 2, true],
    ["100-byte chunks: stops after the 11th", Array(1000).fill(100), 1024, 11, true],
    ["one huge chunk is cut", [1_000_000], 1024, 1, true],
    ["one byte under the limit, then EOF", [1023], 1023, 2, false],
  ])("%s", async (_label, sizes, length, pulls, cancelled) => {
    const { stream, state } = counted(sizes.map((n) => bytes(n)));
    const text = await readPrefix(stream);
    expect(text).toBe("a".repeat(length));
    expect(state.pulled).toBe(pulls);
    expect(state.cancelled).toBe(cancelled);
  });

  it("an endless body is cut at 1024 bytes and cancelled", async () => {
    let pulled = 0;
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulled++;
          controller.enqueue(bytes(64, 0x7a));
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    expect(await readPrefix(stream)).toBe("z".repeat(1024));
    expect(pulled).toBe(16);
    expect(cancelled).toBe(true);
  });

  it("a multi-byte character cut at the limit decodes lossy, without throwing", async () => {
    // 1023 ASCII bytes, then "€" (3 bytes): only its first byte fits.
    const encoded = new TextEncoder().encode(`${"a".repeat(1023)}€ and more`);
    const { stream } = counted([encoded]);
    expect(await readPrefix(stream)).toBe(`${"a".repeat(1023)}\uFFFD`);
  });

  it("invalid UTF-8 in the middle is replaced, not thrown", async () => {
    const { stream } = counted([new Uint8Array([0x6f, 0x6b, 0xff, 0xfe, 0x21])]);
    expect(await readPrefix(stream)).toBe("ok\uFFFD\uFFFD!");
  });

  it("honours a smaller limit", async () => {
    const { stream, state } = counted([new TextEncoder().encode("hello world")]);
    expect(await readPrefix(stream, 5)).toBe("hello");
    expect(state.cancelled).toBe(true);
  });

  it("a null body is empty", async () => {
    expect(await readPrefix(null)).toBe("");
  });

  it("a Response body (the real caller) is cut too", async () => {
    const response = new Response("é".repeat(2000)); // 4000 bytes
    const text = await readPrefix(response.body);
    expect(text).toBe("é".repeat(512));
  });

  it("a stream that errors after some bytes yields what was read", async () => {
    let n = 0;
    const stream = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          if (n++ === 0) controller.enqueue(new TextEncoder().encode("partial"));
          else controller.error(new Error("connection reset"));
        },
      },
      { highWaterMark: 0 },
    );
    expect(await readPrefix(stream)).toBe("partial");
  });
});
