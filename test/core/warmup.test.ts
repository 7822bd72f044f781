import { describe, expect, it } from "vitest";
import { assignAddresses, dailyCap, DEFAULT_WARMUP, msToNextDay, utcDay } from "../../src/core/warmup.ts";

describe("dailyCap", () => {
  it.each([
    [undefined, "2026-12-06", Infinity],
    [{ startedOn: "2026-12-06" }, "2026-12-06", 50],
    [{ startedOn: "2026-12-06" }, "2026-12-07", 100],
    [{ startedOn: "2026-12-06" }, "2026-12-22", 4_000_000],
    [{ startedOn: "2026-12-06" }, "2026-12-23", Infinity],
    [{ startedOn: "2026-12-06" }, "2026-12-05", 0],
    [{ startedOn: "2026-12-30", schedule: [10, 20] }, "2027-01-01", Infinity],
    [{ startedOn: "2026-12-30", schedule: [10, 20] }, "2026-12-31", 20],
    // Across a month and a DST change nowhere near UTC: days are UTC days.
    [{ startedOn: "2026-03-28", schedule: [1, 2, 3, 4] }, "2026-03-31", 4],
  ])("%j on %s → %d", (warmup, day, cap) => {
    expect(dailyCap(warmup, day)).toBe(cap);
  });

  it("the default ramps over 17 days", () => {
    expect(DEFAULT_WARMUP).toHaveLength(17);
    expect([...DEFAULT_WARMUP].every((cap, i) => i === 0 || cap > DEFAULT_WARMUP[i - 1]!)).toBe(true);
  });

  it("UTC days and the time to the next", () => {
    const t = Date.parse("2026-12-06T23:59:59.500Z");
    expect(utcDay(t)).toBe("2026-12-06");
    expect(msToNextDay(t)).toBe(500);
  });
});

describe("assignAddresses", () => {
  const warm = { ip: "192.0.2.1", cap: Infinity, used: 0 };
  const warming = { ip: "192.0.2.2", cap: 2, used: 0 };

  it("takes the addresses in turn, from the rotation", () => {
    const r = assignAddresses([warm, { ...warm, ip: "192.0.2.3" }], 1, 3, false);
    expect(r.assigned).toEqual(["192.0.2.3", "192.0.2.1", "192.0.2.3"]);
    expect(r.rotation).toBe(0);
  });

  it("without overflow, a message whose address is at its cap waits", () => {
    const r = assignAddresses([warm, warming], 0, 8, false);
    expect(r.assigned).toEqual(["192.0.2.1", "192.0.2.2", "192.0.2.1", "192.0.2.2", "192.0.2.1", null, "192.0.2.1", null]);
    expect(r.budgets.find((b) => b.ip === "192.0.2.2")!.used).toBe(2);
  });

  it("with overflow, it goes out from the next address with room", () => {
    const r = assignAddresses([warm, warming], 0, 8, true);
    expect(r.assigned.filter((a) => a === "192.0.2.2")).toHaveLength(2);
    expect(r.assigned.filter((a) => a === "192.0.2.1")).toHaveLength(6);
    expect(r.assigned).not.toContain(null);
  });

  it("when no address has room, it waits either way", () => {
    const full = { ip: "192.0.2.4", cap: 1, used: 1 };
    expect(assignAddresses([full, { ...full, ip: "192.0.2.5" }], 0, 2, true).assigned).toEqual([null, null]);
    expect(assignAddresses([], 0, 1, true).assigned).toEqual([null]);
  });

  it("counts carried in are respected (another bridge's sends today)", () => {
    expect(assignAddresses([{ ...warming, used: 1 }], 0, 3, false).assigned).toEqual(["192.0.2.2", null, null]);
  });
});
