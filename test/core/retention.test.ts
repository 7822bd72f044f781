/** Retention rules: the policy's bounds, the cutoffs, what a request keeps without its body, the erased hash. */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { erasedRecipient, retentionCutoffs, retentionSection, withoutBody } from "../../src/core/retention.ts";
import type { SendRequest } from "../../src/core/schema.ts";

describe("retentionSection", () => {
  it.each([
    [{}, { timelineDays: 30, bodyDays: 7 }],
    [{ timelineDays: 90 }, { timelineDays: 90, bodyDays: 7 }],
    [
      { timelineDays: 5, bodyDays: 5 },
      { timelineDays: 5, bodyDays: 5 },
    ],
  ])("%j reads as %j", (input, expected) => {
    expect(retentionSection.parse(input)).toEqual(expected);
  });

  it.each([
    [{ timelineDays: 5 }, "bodyDays"],
    [{ timelineDays: 0 }, "timelineDays"],
    [{ timelineDays: 3651 }, "timelineDays"],
    [{ timelineDays: 10, bodyDays: 1.5 }, "bodyDays"],
    [{ timelineDays: 10, extra: 1 }, ""],
  ])("refuses %j at %s", (input, path) => {
    const parsed = retentionSection.safeParse(input);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

describe("retentionCutoffs", () => {
  it("counts whole days back from now", () => {
    const now = Date.parse("2026-12-06T12:00:00.000Z");
    expect(retentionCutoffs({ timelineDays: 30, bodyDays: 7 }, now)).toEqual({
      bodiesBefore: "2026-11-29T12:00:00.000Z",
      timelinesBefore: "2026-11-06T12:00:00.000Z",
    });
  });
});

describe("withoutBody", () => {
  const cases: Array<[string, SendRequest, Record<string, unknown>]> = [
    [
      "email keeps the envelope, tags and metadata (its attachments go with the body)",
      {
        channel: "email",
        from: "a@x.example",
        to: "b@y.example",
        subject: "s",
        text: "t",
        html: "<p>h</p>",
        tags: ["t"],
        metadata: { order: "1" },
        attachments: [{ content: "AAEC", filename: "a.bin", contentType: "application/octet-stream" }],
      } as SendRequest,
      { channel: "email", from: "a@x.example", to: "b@y.example", tags: ["t"], metadata: { order: "1" }, bodyExpired: true },
    ],
    [
      "web push keeps the endpoint, not the keys",
      {
        channel: "webpush",
        to: { endpoint: "https://push.example/abc", keys: { p256dh: "k", auth: "a" } },
        payload: { title: "hi" },
      } as unknown as SendRequest,
      { channel: "webpush", to: { endpoint: "https://push.example/abc" }, bodyExpired: true },
    ],
    [
      "SMS keeps the numbers",
      { channel: "sms", from: "+15550000000", to: "+15551111111", body: "code 1234" } as SendRequest,
      { channel: "sms", from: "+15550000000", to: "+15551111111", bodyExpired: true },
    ],
  ];
  it.each(cases)("%s", (_name, request, expected) => {
    expect(withoutBody(request)).toEqual(expected);
  });
  it("an html email keeps its links' URLs only when it left with click tracking (a link can carry personal data)", () => {
    const request = {
      channel: "email",
      from: "a@x.example",
      to: "b@y.example",
      subject: "s",
      html: '<a href="https://shop.example/o/1?u=b">order</a> <a href="mailto:x@y.example">mail</a>',
    } as SendRequest;
    expect(withoutBody(request, "https://lasthop.test")).not.toHaveProperty("links");
    expect(withoutBody(request, "https://lasthop.test", true)).toMatchObject({ links: ["https://shop.example/o/1?u=b"] });
  });
});

describe("erasedRecipient", () => {
  it("is sha256: and the hex of the key", async () => {
    const key = "someone@example.net";
    expect(await erasedRecipient(key)).toBe(`sha256:${createHash("sha256").update(key).digest("hex")}`);
  });
});
