import { describe, expect, it } from "vitest";
import { scheduleOf } from "../../src/core/schedule.ts";

const now = Date.parse("2030-01-01T09:00:00Z");

describe("scheduleOf: what a sendAt asks for at a given moment", () => {
  it.each([
    ["no sendAt", undefined, { kind: "now" }],
    ["now", "2030-01-01T09:00:00Z", { kind: "now" }],
    ["60 s ago (the tolerance)", "2030-01-01T08:59:00Z", { kind: "now" }],
    ["61 s ago", "2030-01-01T08:58:59Z", { kind: "invalid", reason: "past" }],
    ["a day ago", "2029-12-31T09:00:00Z", { kind: "invalid", reason: "past" }],
    ["a second ahead", "2030-01-01T09:00:01Z", { kind: "at", at: now + 1000 }],
    ["an hour ahead, in another offset", "2030-01-01T11:00:00+01:00", { kind: "at", at: now + 3600_000 }],
    ["72 h ahead exactly", "2030-01-04T09:00:00Z", { kind: "at", at: now + 72 * 3600_000 }],
    ["72 h and a second ahead", "2030-01-04T09:00:01Z", { kind: "invalid", reason: "too_far" }],
  ])("%s", (_, sendAt, expected) => {
    expect(scheduleOf(sendAt, now)).toMatchObject(expected);
  });
});
