import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, derivedEventId, messageIdFor } from "../../src/core/ids.ts";

const V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The v8 id recomputed independently with node:crypto. */
function expectedV8(account: string, key: string): string {
  const d = createHash("sha256").update(`${account}\0${key}`, "utf8").digest();
  d[6] = (d[6] & 0x0f) | 0x80;
  d[8] = (d[8] & 0x3f) | 0x80;
  const h = d.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

describe("messageIdFor with an Idempotency-Key", () => {
  it.each([
    ["acct-a", "order-1234"],
    ["acct-b", "order-1234"],
    ["acct-a", "order-1235"],
    ["acct-a", "ünïcødé key ✓"],
    ["acct-a", "x"],
  ])("%s + %j → a v8 UUID over SHA-256(account \\0 key)", async (account, key) => {
    const id = await messageIdFor(account, key);
    expect(id).toMatch(V8);
    expect(id).toBe(expectedV8(account, key));
    expect(await messageIdFor(account, key)).toBe(id);
  });

  it.each([
    ["different accounts, same key", ["acct-a", "k"], ["acct-b", "k"]],
    ["same account, different keys", ["acct-a", "k1"], ["acct-a", "k2"]],
    ["the separator keeps account and key apart", ["acct-a", "bc"], ["acct-ab", "c"]],
  ])("%s → different ids", async (_, [a1, k1], [a2, k2]) => {
    expect(await messageIdFor(a1, k1)).not.toBe(await messageIdFor(a2, k2));
  });
});

describe("messageIdFor without a key", () => {
  it.each([undefined, ""])("key %j → a fresh random v4 UUID", async (key) => {
    const a = await messageIdFor("acct-a", key);
    const b = await messageIdFor("acct-a", key);
    expect(a).toMatch(V4);
    expect(b).toMatch(V4);
    expect(a).not.toBe(b);
  });
});

describe("derivedEventId", () => {
  it.each<[Array<string | number | undefined>, string]>([
    [["ses", "abc", 1], "ses\u001fabc\u001f1"],
    [["ses", undefined, "x"], "ses\u001f\u001fx"],
    [[], ""],
  ])("%j → sha256 of the fields joined by U+001F", async (fields, joined) => {
    expect(await derivedEventId(...fields)).toBe(createHash("sha256").update(joined, "utf8").digest("hex"));
  });

  it("field boundaries matter", async () => {
    expect(await derivedEventId("ab", "c")).not.toBe(await derivedEventId("a", "bc"));
  });
});

describe("canonicalJson", () => {
  it.each<[string, unknown, string]>([
    ["flat object, keys sorted", { b: 1, a: "x" }, '{"a":"x","b":1}'],
    ["nested objects sorted at every level", { z: { d: 1, c: [{ y: 2, x: 1 }] }, a: null }, '{"a":null,"z":{"c":[{"x":1,"y":2}],"d":1}}'],
    ["array order kept", [3, 1, 2], "[3,1,2]"],
    ["undefined fields dropped", { a: 1, b: undefined, c: { d: undefined } }, '{"a":1,"c":{}}'],
    ["strings escaped like JSON", { 'k"': 'v"\n' }, '{"k\\"":"v\\"\\n"}'],
    ["scalars", "text", '"text"'],
    ["booleans", { t: true, f: false }, '{"f":false,"t":true}'],
    ["empty object", {}, "{}"],
    ["empty array", [], "[]"],
  ])("%s", (_, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it.each<[string, number]>([
    ["2,000 levels", 2_000],
    ["100,000 levels (past any call stack)", 100_000],
  ])("writes arrays and objects nested %s without recursion", (_, levels) => {
    let array: unknown = [];
    let object: unknown = 1;
    for (let i = 1; i < levels; i++) array = [array];
    for (let i = 0; i < levels; i++) object = { a: object };
    expect(canonicalJson(array)).toBe(`${"[".repeat(levels)}${"]".repeat(levels)}`);
    expect(canonicalJson(object)).toBe(`${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`);
  });

  it.each<[string, unknown, unknown]>([
    ["key order", { channel: "sms", to: "+14155550100", body: "hi" }, { body: "hi", to: "+14155550100", channel: "sms" }],
    [
      "nested key order",
      { to: { endpoint: "e", keys: { p256dh: "p", auth: "a" } } },
      { to: { keys: { auth: "a", p256dh: "p" }, endpoint: "e" } },
    ],
    ["an undefined field vs a missing one", { a: 1, b: undefined }, { a: 1 }],
  ])("same string despite %s", (_, left, right) => {
    expect(canonicalJson(left)).toBe(canonicalJson(right));
  });

  it.each<[string, unknown, unknown]>([
    ["a different value", { body: "hi" }, { body: "hi!" }],
    ["a number vs a string", { ttl: 60 }, { ttl: "60" }],
    ["null vs a missing field", { a: 1, b: null }, { a: 1 }],
    ["array order", { tags: ["a", "b"] }, { tags: ["b", "a"] }],
    ["a nested difference", { to: { keys: { auth: "a" } } }, { to: { keys: { auth: "b" } } }],
    ["an extra field", { a: 1 }, { a: 1, b: 2 }],
  ])("different strings for %s", (_, left, right) => {
    expect(canonicalJson(left)).not.toBe(canonicalJson(right));
  });
});
