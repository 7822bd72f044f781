import { describe, expect, it } from "vitest";
import {
  DAY_MS,
  REPORT_SPREAD_MS,
  dayStart,
  reportDueAt,
  reportIdOf,
  retryDelay,
  tallySession,
  utcDay,
} from "../../src/core/tls-report-schedule.ts";

const policy = { type: "sts" as const, domain: "example.net", string: ["version: STSv1", "mode: enforce"] };

describe("the TLS-RPT report clock", () => {
  it.each([
    ["2026-12-06T00:00:00.000Z", "2026-12-06"],
    ["2026-12-06T23:59:59.999Z", "2026-12-06"],
    ["2026-12-31T23:59:59.999Z", "2026-12-31"],
    ["2027-01-01T00:00:00.000Z", "2027-01-01"],
  ])("%s is in the UTC day %s", (at, day) => {
    expect(utcDay(Date.parse(at))).toBe(day);
    expect(dayStart(day)).toBe(Date.parse(`${day}T00:00:00Z`));
  });

  it.each([
    [0, "2026-12-07T00:00:00.000Z"],
    [0.5, "2026-12-07T00:07:30.000Z"],
    [1, new Date(Date.parse("2026-12-07T00:00:00Z") + REPORT_SPREAD_MS).toISOString()],
    [-3, "2026-12-07T00:00:00.000Z"],
  ])("a day's report is due after the next midnight UTC, spread by %s", (random, due) => {
    expect(new Date(reportDueAt(Date.parse("2026-12-06T13:14:15Z"), random)).toISOString()).toBe(due);
    // From the very start of the day too: the day's own end, not the one after.
    expect(reportDueAt(dayStart("2026-12-06"), random)).toBe(Date.parse(due));
  });

  it("backs off exponentially from 5 minutes to at most 4 hours, so 24 hours hold about a dozen attempts", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((n) => retryDelay(n) / 60_000)).toEqual([5, 10, 20, 40, 80, 160, 240, 240]);
    let elapsed = 0;
    let attempts = 1;
    while (elapsed + retryDelay(attempts) <= DAY_MS) elapsed += retryDelay(attempts++);
    expect(attempts).toBeGreaterThan(6);
    expect(attempts).toBeLessThan(15);
  });

  it("names a report once per day and domain, shaped as a msg-id", () => {
    expect(reportIdOf("2026-12-06", "example.net", "lasthop.example.com")).toBe("20261206.example.net@lasthop.example.com");
  });

  it("turns a posted session into a tally session", () => {
    expect(tallySession({ policy, result: "success", receivingMxHostname: "mx.example.net" })).toEqual({ policy, ok: true });
    expect(
      tallySession({ policy, result: "certificate-expired", receivingMxHostname: "mx.example.net", receivingIp: "192.0.2.1" }),
    ).toEqual({
      policy,
      ok: false,
      failure: { resultType: "certificate-expired", receivingMxHostname: "mx.example.net", receivingIp: "192.0.2.1" },
    });
  });
});
