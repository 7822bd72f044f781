/**
 * GSM 7-bit default alphabet and its extension table (3GPP TS 23.038 §6.2.1, §6.2.1.1),
 * unpacked: one septet per octet, which is what SMPP short_message carries with data_coding 0
 * (the SMSC packs). UCS-2 here is UTF-16BE, surrogate pairs written as two code units.
 */

/** The default alphabet in code order; 0x1B is the escape to the extension table, not a character. */
const DEFAULT_ALPHABET =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
  "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

export const GSM_ESCAPE = 0x1b;

/** Extension table: character ⇄ the code that follows an escape. */
const EXTENSION: ReadonlyArray<readonly [string, number]> = [
  ["\f", 0x0a],
  ["^", 0x14],
  ["{", 0x28],
  ["}", 0x29],
  ["\\", 0x2f],
  ["[", 0x3c],
  ["~", 0x3d],
  ["]", 0x3e],
  ["|", 0x40],
  ["€", 0x65],
];

/** By code, with "" at 0x1B: the escape is not a character. */
const defaultChars = Array.from(DEFAULT_ALPHABET, (char, code) => (code === GSM_ESCAPE ? "" : char));
const defaultCode = new Map(defaultChars.flatMap((char, code) => (char === "" ? [] : [[char, code] as const])));
const extensionCode = new Map(EXTENSION);
const extensionChar = new Map(EXTENSION.map(([char, code]) => [code, char]));

/** Septets one character takes (2 for extension characters), or null when it has none. */
export function gsm7CharSeptets(char: string): 1 | 2 | null {
  if (defaultCode.has(char)) return 1;
  if (extensionCode.has(char)) return 2;
  return null;
}

export function gsm7Septets(text: string): number | null {
  let septets = 0;
  for (const char of text) {
    const n = gsm7CharSeptets(char);
    if (n === null) return null;
    septets += n;
  }
  return septets;
}

export function encodeGsm7(text: string): Uint8Array | null {
  const out: number[] = [];
  for (const char of text) {
    const code = defaultCode.get(char);
    if (code !== undefined) {
      out.push(code);
      continue;
    }
    const ext = extensionCode.get(char);
    if (ext === undefined) return null;
    out.push(GSM_ESCAPE, ext);
  }
  return Uint8Array.from(out);
}

/**
 * Receivers follow §6.2.1.1: an escape before a code the extension table does not define shows
 * the default character; escape-escape (reserved for a further table) shows a space. A trailing
 * lone escape is a truncated pair and yields nothing; an octet above 0x7F is not a septet (U+FFFD).
 */
export function decodeGsm7(bytes: Uint8Array): string {
  let text = "";
  let escaped = false;
  for (const b of bytes) {
    if (b > 0x7f) text += "\uFFFD";
    else if (!escaped && b === GSM_ESCAPE) {
      escaped = true;
      continue;
    } else if (!escaped) text += defaultChars[b];
    else if (b === GSM_ESCAPE) text += " ";
    else text += extensionChar.get(b) ?? defaultChars[b];
    escaped = false;
  }
  return text;
}

export function encodeUcs2(text: string): Uint8Array {
  const out = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    out[2 * i] = unit >> 8;
    out[2 * i + 1] = unit & 0xff;
  }
  return out;
}

/** A dangling odd octet cannot be a code unit: it decodes to U+FFFD rather than vanishing. */
export function decodeUcs2(bytes: Uint8Array): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let text = "";
  for (let i = 0; i + 1 < bytes.length; i += 2) text += String.fromCharCode(view.getUint16(i));
  if (bytes.length % 2 === 1) text += "\uFFFD";
  return text;
}
