import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { decodeGsm7, decodeUcs2, encodeGsm7, encodeUcs2, gsm7Septets } from "../../src/core/sms/gsm.ts";

// The smpp package's own GSM 03.38 coder: an independent implementation to check ours against.
const smpp = createRequire(import.meta.url)("smpp/lib/defs.js") as {
  gsmCoder: { encode(text: string, table: number): Buffer; decode(bytes: Buffer, table: number): string };
  encodings: { UCS2: { encode(text: string): Buffer; decode(bytes: Buffer): string } };
};

/** 3GPP TS 23.038 §6.2.1, written out by code (0x1B is the escape, not a character). */
const DEFAULT_TABLE: ReadonlyArray<readonly [number, string]> = [
  [0x00, "@"],
  [0x01, "£"],
  [0x02, "$"],
  [0x03, "¥"],
  [0x04, "è"],
  [0x05, "é"],
  [0x06, "ù"],
  [0x07, "ì"],
  [0x08, "ò"],
  [0x09, "Ç"],
  [0x0a, "\n"],
  [0x0b, "Ø"],
  [0x0c, "ø"],
  [0x0d, "\r"],
  [0x0e, "Å"],
  [0x0f, "å"],
  [0x10, "Δ"],
  [0x11, "_"],
  [0x12, "Φ"],
  [0x13, "Γ"],
  [0x14, "Λ"],
  [0x15, "Ω"],
  [0x16, "Π"],
  [0x17, "Ψ"],
  [0x18, "Σ"],
  [0x19, "Θ"],
  [0x1a, "Ξ"],
  [0x1c, "Æ"],
  [0x1d, "æ"],
  [0x1e, "ß"],
  [0x1f, "É"],
  [0x20, " "],
  [0x21, "!"],
  [0x22, '"'],
  [0x23, "#"],
  [0x24, "¤"],
  [0x25, "%"],
  [0x26, "&"],
  [0x27, "'"],
  [0x28, "("],
  [0x29, ")"],
  [0x2a, "*"],
  [0x2b, "+"],
  [0x2c, ","],
  [0x2d, "-"],
  [0x2e, "."],
  [0x2f, "/"],
  ...Array.from("0123456789:;<=>?", (c, i) => [0x30 + i, c] as const),
  [0x40, "¡"],
  ...Array.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ", (c, i) => [0x41 + i, c] as const),
  [0x5b, "Ä"],
  [0x5c, "Ö"],
  [0x5d, "Ñ"],
  [0x5e, "Ü"],
  [0x5f, "§"],
  [0x60, "¿"],
  ...Array.from("abcdefghijklmnopqrstuvwxyz", (c, i) => [0x61 + i, c] as const),
  [0x7b, "ä"],
  [0x7c, "ö"],
  [0x7d, "ñ"],
  [0x7e, "ü"],
  [0x7f, "à"],
];

/** §6.2.1.1: the extension table, reached by 0x1B. */
const EXTENSION_TABLE: ReadonlyArray<readonly [number, string]> = [
  [0x0a, "\f"],
  [0x14, "^"],
  [0x28, "{"],
  [0x29, "}"],
  [0x2f, "\\"],
  [0x3c, "["],
  [0x3d, "~"],
  [0x3e, "]"],
  [0x40, "|"],
  [0x65, "€"],
];

const hex = (bytes: Uint8Array | null) => (bytes === null ? null : Buffer.from(bytes).toString("hex"));

describe("GSM 7-bit default alphabet", () => {
  it("has 127 characters and 10 extension characters", () => {
    expect(new Set(DEFAULT_TABLE.map(([code]) => code)).size).toBe(127);
    expect(EXTENSION_TABLE).toHaveLength(10);
  });

  it.each(DEFAULT_TABLE)("0x%s encodes, decodes and matches smpp", (code, char) => {
    expect(gsm7Septets(char)).toBe(1);
    expect(Array.from(encodeGsm7(char)!)).toEqual([code]);
    expect(decodeGsm7(Uint8Array.of(code))).toBe(char);
    expect(Array.from(smpp.gsmCoder.encode(char, 0))).toEqual([code]);
    expect(smpp.gsmCoder.decode(Buffer.from([code]), 0)).toBe(char);
  });

  it.each(EXTENSION_TABLE)("escape 0x%s encodes, decodes and matches smpp", (code, char) => {
    expect(gsm7Septets(char)).toBe(2);
    expect(Array.from(encodeGsm7(char)!)).toEqual([0x1b, code]);
    expect(decodeGsm7(Uint8Array.of(0x1b, code))).toBe(char);
    expect(Array.from(smpp.gsmCoder.encode(char, 0))).toEqual([0x1b, code]);
    expect(smpp.gsmCoder.decode(Buffer.from([0x1b, code]), 0)).toBe(char);
  });

  it.each([
    ["Hello world", 11],
    ["Your code is 123456. It expires in 10 minutes.", 46],
    ["Prix: 5€ {promo} [ok] ~ \\ | ^", 38],
    ["Ærø Straße, ÅÄÖ åäö, Ñandu, ¿qué? ¡si! §1 £2 ¥3 ¤4 @5", 53],
    ["line\nbreak\rreturn", 17],
  ])("%j round-trips in %i septets, byte-for-byte as smpp encodes it", (text, septets) => {
    expect(gsm7Septets(text)).toBe(septets);
    const ours = encodeGsm7(text)!;
    expect(ours).toHaveLength(septets);
    expect(hex(ours)).toBe(smpp.gsmCoder.encode(text, 0).toString("hex"));
    expect(decodeGsm7(ours)).toBe(text);
    expect(smpp.gsmCoder.decode(Buffer.from(ours), 0)).toBe(text);
  });

  // Outside the alphabet: null here. smpp's coder instead writes 0x00 ("@") for any character it
  // cannot map (it pushes the string " " into a byte array, which Buffer.from turns into 0), so
  // "ça" would silently go out as "@a".
  it.each([
    ["ç", "lower-case c cedilla: TS 23.038 puts the capital Ç at 0x09 (Unicode's GSM0338.TXT maps it to ç)"],
    ["ça va", "same, inside a sentence"],
    ["😀", "emoji"],
    ["Привет", "Cyrillic"],
    ["\u2126", "OHM SIGN is not GREEK CAPITAL OMEGA"],
    ["\u2206", "INCREMENT is not GREEK CAPITAL DELTA"],
    ["\x1b", "the escape code itself is not a character"],
    ["`", "grave accent"],
    ["\t", "tab"],
  ])("%j has no GSM encoding (%s)", (text) => {
    expect(gsm7Septets(text)).toBeNull();
    expect(encodeGsm7(text)).toBeNull();
  });

  it("smpp writes @ for a character it cannot map (we refuse instead)", () => {
    expect(Array.from(smpp.gsmCoder.encode("ça", 0))).toEqual([0x00, 0x61]);
  });

  it.each([
    ["escape before an undefined extension code shows the default character", [0x1b, 0x41], "A"],
    ["escape-escape is reserved: shown as a space", [0x1b, 0x1b, 0x41], " A"],
    ["a trailing lone escape is dropped", [0x41, 0x1b], "A"],
    ["an octet above 0x7F is not a septet", [0x41, 0x80], "A\uFFFD"],
    ["empty", [], ""],
  ])("decodeGsm7: %s", (_, bytes, text) => {
    expect(decodeGsm7(Uint8Array.from(bytes))).toBe(text);
  });
});

describe("UCS-2 (UTF-16BE)", () => {
  it.each([
    ["", ""],
    ["A", "0041"],
    ["€", "20ac"],
    ["Привет", "041f04400438043204350442"],
    ["😀", "d83dde00"],
    ["a😀b", "0061d83dde000062"],
    ["中文", "4e2d6587"],
  ])("%j is %s, as smpp (iconv utf16-be) encodes it", (text, expected) => {
    expect(hex(encodeUcs2(text))).toBe(expected);
    expect(smpp.encodings.UCS2.encode(text).toString("hex")).toBe(expected);
    expect(decodeUcs2(encodeUcs2(text))).toBe(text);
    expect(smpp.encodings.UCS2.decode(Buffer.from(encodeUcs2(text)))).toBe(text);
  });

  it("a dangling odd octet decodes to U+FFFD", () => {
    expect(decodeUcs2(Uint8Array.of(0x00, 0x41, 0x00))).toBe("A\uFFFD");
  });
});
