import { describe, expect, it } from "vitest";
import { QUEUE_BATCH_MAX_BYTES, QUEUE_MESSAGE_MAX_BYTES, jsonBytes, packByBytes, planQueueBatches } from "../../src/core/queue.ts";

/** A body whose JSON is exactly `bytes` long (ASCII). */
const body = (bytes: number, tag = "") => {
  const overhead = JSON.stringify({ t: tag, pad: "" }).length;
  const value = { t: tag, pad: "x".repeat(bytes - overhead) };
  expect(jsonBytes(value)).toBe(bytes);
  return value;
};

describe("jsonBytes", () => {
  it.each<[unknown, number]>([
    [{}, 2],
    ["é", 4], // "é" is 2 UTF-8 bytes between quotes
    ["👋", 6],
    ["\u0000", 8], // escaped as \u0000
    [{ a: [1, 2] }, 11],
  ])("%j → %i", (value, bytes) => {
    expect(jsonBytes(value)).toBe(bytes);
  });
});

describe("planQueueBatches", () => {
  it("the limits are Cloudflare's: 128 KB a message, 100 messages and 256 KB a batch", () => {
    expect([QUEUE_MESSAGE_MAX_BYTES, QUEUE_BATCH_MAX_BYTES]).toEqual([128_000, 256_000]);
  });

  it.each<[string, number, number, number[]]>([
    // name, bodies, size of each, batch sizes
    ["nothing", 0, 100, []],
    ["one small", 1, 100, [1]],
    ["100 small", 100, 100, [100]],
    ["101 small", 101, 100, [100, 1]],
    ["250 small", 250, 100, [100, 100, 50]],
    ["three of 100 KB: two would pass 256 KB", 3, 100_000, [2, 1]],
    ["three at the limit", 3, 128_000, [1, 1, 1]],
    ["20 of 20 KB", 20, 20_000, [12, 8]],
  ])("%s", (_, count, size, expected) => {
    const bodies = Array.from({ length: count }, (_, i) => body(size, String(i).padStart(3, "0")));
    const plan = planQueueBatches(bodies);
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.batches.map((b) => b.length)).toEqual(expected);
    expect(plan.batches.flat()).toEqual(bodies); // every body once, in order
    for (const batch of plan.batches) expect(batch.reduce((n, b) => n + jsonBytes(b), 0)).toBeLessThanOrEqual(QUEUE_BATCH_MAX_BYTES);
  });

  it.each<[string, unknown[], Array<{ index: number; bytes: number }>]>([
    ["one byte over", [body(100), body(128_001)], [{ index: 1, bytes: 128_001 }]],
    [
      "every one over is named",
      [body(200_000), body(100), body(128_001)],
      [
        { index: 0, bytes: 200_000 },
        { index: 2, bytes: 128_001 },
      ],
    ],
    ["non-ASCII counts in UTF-8 bytes", [{ s: "é".repeat(64_000) }], [{ index: 0, bytes: 128_008 }]],
  ])("too large: %s", (_, bodies, tooLarge) => {
    expect(planQueueBatches(bodies)).toEqual({ ok: false, tooLarge });
  });
});

describe("packByBytes", () => {
  const item = (n: number) => ({ id: `e${n}`, pad: "x".repeat(90) });
  it.each([
    ["nothing", 0, 64_000],
    ["one", 1, 64_000],
    ["a thousand in 64 KB packs", 1000, 64_000],
    ["a thousand in 1 KB packs", 1000, 1_000],
  ])("%s: every item once, in order, each pack within the bound", (_name, count, max) => {
    const items = Array.from({ length: count }, (_, i) => item(i));
    const packs = packByBytes(items, max);
    expect(packs.flat()).toEqual(items);
    for (const pack of packs) {
      expect(pack.length).toBeGreaterThan(0);
      expect(jsonBytes(pack)).toBeLessThanOrEqual(max);
    }
    // Greedy: a pack ends only where the next item would not fit.
    for (let i = 0; i + 1 < packs.length; i++) expect(jsonBytes([...packs[i]!, packs[i + 1]![0]])).toBeGreaterThan(max);
  });

  it("an item larger than the bound travels alone", () => {
    const packs = packByBytes([item(1), { id: "big", pad: "y".repeat(5_000) }, item(2)], 1_000);
    expect(packs.map((p) => p.length)).toEqual([1, 1, 1]);
  });
});
