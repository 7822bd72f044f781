import { describe, expect, it } from "vitest";
import { utf8 } from "../../src/core/bytes.ts";
import { timingSafeEqual } from "../../src/core/constant-time.ts";

const CASES: Array<[string, string, string, boolean]> = [
  ["equal", "abcdef", "abcdef", true],
  ["both empty", "", "", true],
  ["first byte differs", "xbcdef", "abcdef", false],
  ["last byte differs", "abcdex", "abcdef", false],
  ["a prefix of the other", "abc", "abcdef", false],
  ["the other a prefix", "abcdef", "abc", false],
  ["empty against non-empty", "", "a", false],
  // Bytes past the shorter input count as 0: the length check must still tell these apart.
  ["trailing NUL", "abc\0", "abc", false],
  ["case differs", "ABCDEF", "abcdef", false],
];

describe("timingSafeEqual", () => {
  it.each(CASES)("%s", (_name, a, b, equal) => {
    expect(timingSafeEqual(utf8(a), utf8(b))).toBe(equal);
  });
});
