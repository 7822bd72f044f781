// The bridge's Batcher (bridge/src/smtp/batcher.ts), driven directly: which items travel together
// (items, bytes, linger), that each submitter gets its own item's answer, and that a failed call
// answers every item of its batch.
import { describe, expect, it } from "vitest";
import { Batcher } from "../../bridge/src/smtp/batcher.ts";

/** A call that records each batch and answers every item with its own value doubled. */
function recorder() {
  const batches: number[][] = [];
  const call = async (items: number[]) => {
    batches.push(items);
    return items.map((n) => n * 2);
  };
  return { batches, call };
}

const failed = (error: unknown) => -String(error).length;

describe("Batcher", () => {
  it("items submitted together travel together; each gets its own answer", async () => {
    const { batches, call } = recorder();
    const batcher = new Batcher(call, failed, { maxItems: 10, maxBytes: 1_000, lingerMs: 5 });
    const answers = await Promise.all([1, 2, 3].map((n) => batcher.submit(n, 1)));
    expect(answers).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it.each([
    { name: "maxItems", limits: { maxItems: 2, maxBytes: 1_000 }, bytes: [1, 1, 1, 1, 1], expected: [[1, 2], [3, 4], [5]] },
    { name: "maxBytes", limits: { maxItems: 10, maxBytes: 10 }, bytes: [4, 4, 4, 4, 4], expected: [[1, 2], [3, 4], [5]] },
    {
      name: "an item over maxBytes goes alone",
      limits: { maxItems: 10, maxBytes: 10 },
      bytes: [2, 50, 2, 2, 2],
      expected: [[1], [2], [3, 4, 5]],
    },
  ])("a batch ends at $name", async ({ limits, bytes, expected }) => {
    const { batches, call } = recorder();
    // A linger longer than the test: only the limits (and the last flush) end a batch here.
    const batcher = new Batcher(call, failed, { ...limits, lingerMs: 600_000 });
    const answers = bytes.map((b, i) => batcher.submit(i + 1, b));
    batcher.flush();
    expect(await Promise.all(answers)).toEqual([2, 4, 6, 8, 10]);
    expect(batches).toEqual(expected);
  });

  it("a call that fails, or answers short, answers every item it left without one with the failure", async () => {
    const batcher = new Batcher(
      async (items: number[]) => {
        if (items.includes(1)) throw new Error("edge down");
        return items.slice(1).map((n) => n * 2); // one answer short
      },
      failed,
      { maxItems: 2, maxBytes: 1_000, lingerMs: 5 },
    );
    const first = [batcher.submit(1, 1), batcher.submit(2, 1)];
    const second = [batcher.submit(3, 1), batcher.submit(4, 1)];
    expect(await Promise.all(first)).toEqual([failed(new Error("edge down")), failed(new Error("edge down"))]);
    const [a, b] = await Promise.all(second);
    expect(a).toBe(8); // answers are taken in order: the short answer list ends early
    expect(b).toBeLessThan(0);
  });
});
