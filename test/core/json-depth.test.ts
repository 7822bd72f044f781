import { describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH, jsonTextDepthWithin, jsonValueDepthWithin } from "../../src/core/json-depth.ts";

/** `{"a":{"a":…{"a":1}…}}` with `levels` objects. */
const nestedObject = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;
const nestedArray = (levels: number) => `${"[".repeat(levels)}${"]".repeat(levels)}`;

describe("jsonTextDepthWithin", () => {
  it("the limit is 32", () => expect(MAX_JSON_DEPTH).toBe(32));

  it.each<[string, string, number, string | null]>([
    // name, text, max, path of the container too deep (null: within)
    ["a scalar", "42", 1, null],
    ["a string holding brackets", '"[[[[{{{{"', 1, null],
    ["objects exactly at the limit", nestedObject(32), 32, null],
    ["objects one past the limit", nestedObject(33), 32, Array(32).fill("a").join(".")],
    ["arrays exactly at the limit", nestedArray(32), 32, null],
    ["arrays one past the limit", nestedArray(33), 32, Array(32).fill("0").join(".")],
    ["2,000 levels", nestedArray(2000), 32, Array(32).fill("0").join(".")],
    ["siblings do not add up", '{"a":{"b":1},"c":{"d":2},"e":[[1],[2]]}', 3, null],
    ["the path names keys and indexes", '{"messages":[{"ok":1},{"payload":{"x":[1]}}]}', 4, "messages.1.payload.x"],
    ["brackets and quotes inside keys and values are text", '{"a[{":"}]\\"[[","b":[1,"]]"]}', 2, null],
    ["escaped backslash before a closing quote", '{"k\\\\":[{"x":1}]}', 2, "k\\.0"],
    ["a key with an escape is decoded", '{"\\u0041":[[1]]}', 2, "A.0"],
    ["commas inside strings do not move the index", '[["a,b,c",[1]]]', 2, "0.1"],
    ["the root's first item", "[[]]", 1, "0"],
    ["the root itself", "[]", 0, "(body)"],
  ])("%s", (_, text, max, path) => {
    const verdict = jsonTextDepthWithin(text, max);
    expect(verdict).toEqual(path === null ? { ok: true } : { ok: false, path, max });
  });

  it("scans a 16 MiB string value without walking it char by char", () => {
    const text = JSON.stringify({ raw: "A".repeat(16 * 1024 * 1024) });
    const started = performance.now();
    expect(jsonTextDepthWithin(text)).toEqual({ ok: true });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("jsonValueDepthWithin", () => {
  const deep = (levels: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < levels; i++) v = { a: v };
    return v;
  };

  it.each<[string, unknown, number, string | null]>([
    ["a scalar", "x", 1, null],
    ["null", null, 1, null],
    ["at the limit", deep(32), 32, null],
    ["one past", deep(33), 32, Array(32).fill("a").join(".")],
    ["100,000 levels", deep(100_000), 32, Array(32).fill("a").join(".")],
    ["an array inside an object", { payload: { list: [[1]] } }, 3, "payload.list.0"],
    ["the root's first item", [[1]], 1, "0"],
    ["the root itself", {}, 0, "(body)"],
  ])("%s", (_, value, max, path) => {
    expect(jsonValueDepthWithin(value, max)).toEqual(path === null ? { ok: true } : { ok: false, path, max });
  });
});
