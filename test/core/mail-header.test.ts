import { describe, expect, it } from "vitest";
import {
  encodedValue,
  encodedWords,
  hasControlCharacter,
  headerValue,
  linesWithinLimit,
  mailboxValue,
} from "../../src/core/mail-header.ts";

/** The text of RFC 2047 B words (UTF-8), decoded independently as a reader would. */
function decodeWords(value: string): string {
  return value
    .replace(/\r\n/g, "")
    .replace(/=\?utf-8\?B\?([A-Za-z0-9+/=]*)\?=(?:[ \t]+(?==\?))?/g, (_, b64: string) =>
      new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))),
    );
}

/** The field as written, line by line. */
const lines = (name: string, value: string) => `${name}: ${value}`.split("\r\n");

describe("hasControlCharacter", () => {
  it.each<[string, string, boolean]>([
    ["plain text", "Spring sale", false],
    ["a tab", "a\tb", false],
    ["non-ASCII letters and emoji", "Grüße 👋", false],
    ["NUL", "a\u0000b", true],
    ["VT", "a\u000bb", true],
    ["FF", "a\u000cb", true],
    ["CR", "a\rb", true],
    ["LF", "a\nb", true],
    ["ESC", "a\u001bb", true],
    ["DEL", "a\u007fb", true],
    ["NEL (U+0085)", "a\u0085b", true],
    ["C1 (U+009B)", "a\u009bb", true],
    ["LINE SEPARATOR (U+2028)", "a\u2028b", true],
    ["PARAGRAPH SEPARATOR (U+2029)", "a\u2029b", true],
  ])("%s → %s", (_, value, expected) => {
    expect(hasControlCharacter(value)).toBe(expected);
  });
});

describe("headerValue (ASCII: folded at its own whitespace)", () => {
  const words = (n: number, word = "word") => Array.from({ length: n }, (_, i) => `${word}${i}`).join(" ");

  it.each<[string, string, string]>([
    ["short", "X-Campaign", "spring"],
    ["empty", "X-Empty", ""],
    ["exactly 78 with the name", "X-A", "x".repeat(78 - "X-A: ".length)],
    ["long, with spaces", "X-Note", words(200)],
    ["long, with tabs and runs of spaces", "X-Note", Array.from({ length: 120 }, (_, i) => `w${i}`).join("\t  ")],
    ["a 989-character word beside a short name (998 in all)", "X-Token", "t".repeat(989)],
    ["a long word after short ones", "X-Mixed", `a b c ${"t".repeat(900)} d e`],
    ["trailing whitespace", "X-Trail", `${words(30)}   `],
  ])("%s: unfolds to the value, lines ≤ 998, ≤ 78 wherever a space allows", (_, name, value) => {
    const written = headerValue(name, value);
    expect(written).not.toBeNull();
    expect(written!.replace(/\r\n/g, "")).toBe(value);
    for (const [i, line] of lines(name, written!).entries()) {
      expect(line.length).toBeLessThanOrEqual(998);
      // Over 78 only where no whitespace could break it.
      if (line.length > 78) expect((i === 0 ? line.slice(name.length + 2) : line).trim()).not.toMatch(/[ \t]/);
      if (i > 0) expect(line).toMatch(/[^ \t]/); // no whitespace-only line (RFC 5322 §3.2.2)
    }
  });

  it("folds 200 words into lines of at most 78", () => {
    const written = headerValue("X-Note", words(200))!;
    expect(lines("X-Note", written).every((l) => l.length <= 78)).toBe(true);
    expect(lines("X-Note", written).length).toBeGreaterThan(10);
  });

  it.each<[string, string, string]>([
    ["a 998-character word", "X-Token", "t".repeat(998)],
    ["a word that passes 998 with the name", "X-Token", "t".repeat(998 - "X-Token: ".length + 1)],
    ["an unbreakable run after spaces", "X-Mixed", `a b ${"t".repeat(998)}`],
  ])("%s cannot be written: null", (_, name, value) => {
    expect(headerValue(name, value)).toBeNull();
  });

  it("the longest word that fits beside its name is written on one line", () => {
    const value = "t".repeat(998 - "X-Token: ".length);
    expect(headerValue("X-Token", value)).toBe(value);
  });
});

describe("encoded-words (non-ASCII headers, Subject, display names)", () => {
  it.each<[string, string]>([
    ["ASCII", "Your order"],
    ["accents", "Grüße aus Köln — déjà vu"],
    ["emoji (4 bytes each, never split)", "👋".repeat(300)],
    ["mixed scripts", "注文 #42 ✓ Заказ ".repeat(40)],
    ["998 characters", "é".repeat(998)],
    ["empty", ""],
  ])("%s: words of ≤ 75 characters that decode back, whole characters each", (_, text) => {
    const words = encodedWords(text);
    for (const word of words) {
      expect(word.length).toBeLessThanOrEqual(75);
      expect(() => decodeWords(word)).not.toThrow(); // each decodes alone: the fatal decoder refuses a split character
    }
    expect(decodeWords(words.join(" "))).toBe(text);
  });

  it.each<[string, string]>([
    ["Subject", "Grüße — your order 👋 ".repeat(60).slice(0, 998)],
    ["Subject", "x".repeat(998)],
    ["X-Note", "Frühling ".repeat(100)],
  ])("%s of %#: every line ≤ 78 and the text decodes back", (name, text) => {
    const written = name === "Subject" ? encodedValue(name, text) : headerValue(name, text)!;
    for (const line of lines(name, written)) expect(line.length).toBeLessThanOrEqual(78);
    expect(decodeWords(written)).toBe(text);
  });

  it("a display name of 200 emoji and a 254-character address", () => {
    const address = `${"a".repeat(64)}@${"d".repeat(184)}.test`;
    expect(address.length).toBe(254);
    const written = mailboxValue("From", "🚀".repeat(200), address)!;
    const all = lines("From", written);
    for (const line of all) expect(line.length).toBeLessThanOrEqual(998);
    for (const line of all.slice(0, -1)) expect(line.length).toBeLessThanOrEqual(78);
    expect(all.at(-1)).toBe(` <${address}>`);
    expect(decodeWords(written.replace(/ <[^>]+>$/, ""))).toBe("🚀".repeat(200));
    expect(mailboxValue("From", undefined, "a@b.test")).toBe("<a@b.test>");
  });
});

describe("linesWithinLimit", () => {
  it.each<[string, string, boolean]>([
    ["short lines", "a\r\nb\r\n\r\nbody", true],
    ["a line of 998", `${"x".repeat(998)}\r\nb`, true],
    ["a line of 999", `a\r\n${"x".repeat(999)}`, false],
    ["998 characters of 2 bytes each", "é".repeat(998), false],
    ["bare LF ends a line", `${"x".repeat(900)}\n${"x".repeat(900)}`, true],
    ["a long line between bare LFs", `a\n${"x".repeat(999)}\nb`, false],
  ])("%s → %s", (_, message, ok) => {
    expect(linesWithinLimit(message)).toBe(ok);
  });
});
