// The simulators' shared misbehaviour slot (sandbox/behaviour.ts): a mode for n requests, for a
// window of time, or both (whichever ends first), on an injected clock.
import { describe, expect, it } from "vitest";
import { BehaviourSlot } from "../../sandbox/behaviour.ts";

describe("BehaviourSlot", () => {
  it.each([
    // [times, seconds, requests at these ms after set, the modes they get]
    [undefined, undefined, [0, 10_000, 99_000], ["503", "503", "503"]],
    [2, undefined, [0, 1, 2], ["503", "503", "ok"]],
    [undefined, 30, [0, 29_999, 30_000, 31_000], ["503", "503", "ok", "ok"]],
    [1, 30, [0, 1], ["503", "ok"]],
    [5, 30, [0, 30_000], ["503", "ok"]],
  ] as const)("times %s, seconds %s: requests at %j get %j", (times, seconds, at, modes) => {
    let now = 1_000_000;
    const slot = new BehaviourSlot<"ok" | "503">("ok", () => now);
    slot.set("503", times, seconds);
    const start = now;
    expect(
      at.map((offset) => {
        now = start + offset;
        return slot.take();
      }),
    ).toEqual(modes);
  });

  it("shows a window's end while it lasts, and plain ok after it", () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const slot = new BehaviourSlot<"ok" | "hang">("ok", () => now);
    slot.set("hang", undefined, 30);
    expect(slot.current()).toEqual({ mode: "hang", remaining: null, until: "2026-01-01T00:00:30.000Z" });
    now += 30_000;
    expect(slot.current()).toEqual({ mode: "ok", remaining: null });
  });

  it("setting ok clears any mode at once", () => {
    const slot = new BehaviourSlot<"ok" | "503">("ok");
    slot.set("503", undefined, 60);
    slot.set("ok");
    expect(slot.take()).toBe("ok");
  });
});
