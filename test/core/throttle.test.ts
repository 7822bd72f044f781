import { describe, expect, it } from "vitest";
import {
  grant,
  HOLD_MS,
  LEASE_MS,
  MIN_RATE_DIVISOR,
  newThrottle,
  rateNow,
  RECOVER_EVERY_MS,
  release,
  slowDown,
  SLOW_DOWN_EVERY_MS,
  throttleFor,
  type ThrottleState,
} from "../../src/core/throttle.ts";

/** Asks for `want` every `everyMs` over `durationMs`, as batches would; returns each grant's send time (its hold included), in order. */
function drive(perMinute: number, want: number, everyMs: number, durationMs: number, start = 1_000_000): number[] {
  let state: ThrottleState = newThrottle(perMinute);
  const times: number[] = [];
  for (let now = start; now < start + durationMs; now += everyMs) {
    const g = grant(state, now, want, {}, `l${now}`);
    state = release(g.state, `l${now}`);
    for (let k = 0; k < g.granted; k++) times.push(now + g.holdMs[k]!);
  }
  return times.sort((a, b) => a - b);
}

/** The most grants in any window of `windowMs` (sliding, at every grant). */
function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  let first = 0;
  for (let last = 0; last < times.length; last++) {
    while (times[last]! - times[first]! >= windowMs) first++;
    max = Math.max(max, last - first + 1);
  }
  return max;
}

describe("grant: messages per minute across callers", () => {
  it.each([
    // perMinute, want per ask, ask every ms
    [60, 10, 250],
    [600, 100, 100],
    [600, 5, 37],
    [6_000, 100, 50],
    [100_000, 200, 20],
  ])(
    "%i/min with asks of %i every %i ms: any minute holds at most the rate + 2 %%, and a backlog gets at least 98 %% of it",
    (perMinute, want, everyMs) => {
      const times = drive(perMinute, want, everyMs, 5 * 60_000);
      expect(maxInWindow(times, 60_000)).toBeLessThanOrEqual(Math.floor(perMinute * 1.02));
      // Over five minutes of steady demand, each full minute gets the rate (or one interval less).
      const start = times[0]!;
      for (let m = 1; m < 4; m++) {
        const inMinute = times.filter((t) => t >= start + m * 60_000 && t < start + (m + 1) * 60_000).length;
        expect(inMinute).toBeGreaterThanOrEqual(Math.floor(perMinute * 0.98));
      }
    },
  );

  it("from idle, grants one second's worth at once and dates the rest of the next HOLD_MS to their slots", () => {
    const g = grant(newThrottle(600), 0, 1_000, {}, "a");
    expect(HOLD_MS).toBe(5_000);
    expect(g.granted).toBe(60);
    expect(g.holdMs.slice(0, 10)).toEqual(new Array(10).fill(0));
    expect(g.holdMs.slice(10, 13)).toEqual([100, 200, 300]);
    expect(g.holdMs.at(-1)).toBe(5_000);
    expect(g.limit).toBe("rate");
  });

  it("spreads the refused over slots after the grants and after every slot told before, at the rate", () => {
    const g = grant(newThrottle(60), 0, 9, {}, "a");
    expect(g.granted).toBe(6);
    expect(g.holdMs).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000]);
    // Slots 6 s, 7 s, 8 s: asked for again half a hold before each.
    expect(g.waitMs).toEqual([3_500, 4_500, 5_500]);
    // A second batch at once is told the slots after those.
    const next = grant(g.state, 0, 2, {}, "b");
    expect(next.granted).toBe(0);
    expect(next.waitMs).toEqual([6_500, 7_500]);
  });

  it("caps what is in flight at the concurrency, until the lease comes back or lapses", () => {
    let g = grant(newThrottle(60_000), 0, 10, { concurrency: 3 }, "a");
    expect(g.granted).toBe(3);
    expect(g.limit).toBe("concurrency");
    g = grant(g.state, 10, 10, { concurrency: 3 }, "b");
    expect(g.granted).toBe(0);
    g = grant(release(g.state, "a"), 20, 10, { concurrency: 3 }, "c");
    expect(g.granted).toBe(3);
    // A lease never given back (a consumer that died) lapses.
    g = grant(g.state, 20 + LEASE_MS, 10, { concurrency: 3 }, "d");
    expect(g.granted).toBe(3);
  });

  it("a changed configuration starts over; the same one keeps the state", () => {
    const used = grant(newThrottle(60), 0, 5, {}, "a").state;
    expect(throttleFor(used, 60)).toBe(used);
    expect(throttleFor(used, 120).rate).toBe(120);
    expect(throttleFor(undefined, 30).configured).toBe(30);
  });
});

describe("adaptive: a throttling reply halves the rate, quiet minutes double it back", () => {
  it("halves once per window, never under configured/16, and recovers to the configured rate", () => {
    let s = newThrottle(1_600);
    s = slowDown(s, 0);
    expect(rateNow(s, 0)).toBe(800);
    s = slowDown(s, SLOW_DOWN_EVERY_MS - 1); // the same burst of 421s
    expect(rateNow(s, SLOW_DOWN_EVERY_MS - 1)).toBe(800);
    let t = 0;
    for (let i = 0; i < 10; i++) {
      t += SLOW_DOWN_EVERY_MS;
      s = slowDown(s, t);
    }
    expect(rateNow(s, t)).toBe(1_600 / MIN_RATE_DIVISOR);
    expect(rateNow(s, t + RECOVER_EVERY_MS - 1)).toBe(100);
    expect(rateNow(s, t + RECOVER_EVERY_MS)).toBe(200);
    expect(rateNow(s, t + 4 * RECOVER_EVERY_MS)).toBe(1_600);
    expect(rateNow(s, t + 10 * RECOVER_EVERY_MS)).toBe(1_600);
  });

  it("grants follow the lowered rate: a minute after a slow-down holds half the configured rate", () => {
    let s = slowDown(newThrottle(600), 0);
    let granted = 0;
    for (let now = 0; now < 59_000; now += 100) {
      const g = grant(s, now, 50, {}, `l${now}`);
      s = release(g.state, `l${now}`);
      // Counted when sent: at the grant's slot.
      granted += g.holdMs.filter((hold) => now + hold < 59_000).length;
    }
    expect(granted).toBeGreaterThanOrEqual(294);
    expect(granted).toBeLessThanOrEqual(306);
  });
});
