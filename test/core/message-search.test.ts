import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/bytes.ts";
import {
  decodeCursor,
  encodeCursor,
  type IndexRow,
  mergePages,
  messageSearchQuery,
  newerFirst,
  recipientKeysFor,
} from "../../src/core/message-search.ts";

const row = (createdAt: string, id: string): IndexRow => ({
  id,
  createdAt,
  updatedAt: createdAt,
  channel: "email",
  status: "accepted",
  recipientKey: "a@example.com",
  to: "a@example.com",
  tags: [],
});

describe("cursors", () => {
  it("round-trip the position of a row, and refuse anything else", () => {
    const cursor = encodeCursor(row("2026-12-06T03:00:00.000Z", "m-1"));
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(["2026-12-06T03:00:00.000Z", "m-1"]);
    for (const bad of ["", "not a cursor", btoa("[1,2]"), btoa('["only one"]'), btoa("{}")]) expect(decodeCursor(bad)).toBeNull();
  });
});

describe("mergePages", () => {
  const a = [row("2026-12-06T03:00:05.000Z", "a5"), row("2026-12-06T03:00:03.000Z", "a3"), row("2026-12-06T03:00:01.000Z", "a1")];
  const b = [row("2026-12-06T03:00:04.000Z", "b4"), row("2026-12-06T03:00:03.000Z", "b3")];

  it("takes the newest `limit` of every shard's page, ties by id, and a cursor when there is more", () => {
    const page = mergePages([a, b, []], 3);
    expect(page.data.map((r) => r.id)).toEqual(["a5", "b4", "b3"]);
    expect(decodeCursor(page.nextCursor!)).toEqual(["2026-12-06T03:00:03.000Z", "b3"]);
  });

  it("no cursor on the last page", () => {
    expect(mergePages([a, b], 5)).toEqual({ data: [...a, ...b].sort(newerFirst), nextCursor: null });
    expect(mergePages([[], []], 5)).toEqual({ data: [], nextCursor: null });
  });
});

describe("recipientKeysFor", () => {
  it.each<[string, string | undefined, string[]]>([
    ["Alice@EXAMPLE.com", undefined, ["Alice@example.com"]],
    ["Alice@EXAMPLE.com", "email", ["Alice@example.com"]],
    ["+14155550123", undefined, ["+14155550123"]],
  ])("%s (%s)", async (recipient, channel, expected) => {
    expect(await recipientKeysFor(recipient, channel as never)).toEqual(expected);
  });

  it("a 64-hex value is the hashed token itself; a raw token is hashed as each token channel does", async () => {
    const hash = "A".repeat(64);
    expect(await recipientKeysFor(hash)).toEqual(["a".repeat(64)]);
    const keys = await recipientKeysFor("AbCdToken");
    expect(keys).toContain(await sha256Hex("AbCdToken"));
    expect(keys).toContain(await sha256Hex("abcdtoken"));
  });
});

describe("messageSearchQuery", () => {
  it.each([
    [{}, true],
    [{ limit: "100", status: "bounced", channel: "sms", from: "2026-12-01T00:00:00Z" }, true],
    [{ limit: "0" }, false],
    [{ limit: "101" }, false],
    [{ status: "gone" }, false],
    [{ from: "yesterday" }, false],
    [{ colour: "red" }, false],
  ])("%j → valid %s", (query, valid) => {
    expect(messageSearchQuery.safeParse(query).success).toBe(valid);
  });
});
