/**
 * Header fields as lasthop writes them (RFC 5322 §2.1.1, §2.2.3; RFC 2047): no control
 * characters in a value, lines folded (CRLF before whitespace already in the value) to 78
 * octets where the value allows and never past 998. Text that is not plain ASCII goes as
 * encoded-words, which split anywhere between characters, so only an ASCII word too long
 * for one line cannot be written: the API refuses it (400) rather than emit a broken line.
 */
import { toBase64, utf8 } from "./bytes.ts";

/** RFC 5322 §2.1.1: the hard limit of a line, CRLF excluded. */
export const MAX_LINE_OCTETS = 998;
/** …and the one lines should keep to. */
export const SOFT_LINE_OCTETS = 78;
/** RFC 2047 §2: an encoded-word is at most 75 characters. */
const MAX_ENCODED_WORD = 75;

/**
 * C0 controls but HTAB (CR and LF among them), DEL, C1 (U+0085 NEL among them), and the
 * Unicode line and paragraph separators: each ends or corrupts a header line somewhere.
 */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/;

export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}

/** Printable ASCII and tabs: written as is. */
const PLAIN = /^[\x20-\x7e\t]*$/;

/**
 * The value of a custom header as written after `Name: `: plain ASCII folded at its own
 * whitespace, anything else as encoded-words. Null when a line would still be over 998 octets
 * (an ASCII run without whitespace that long).
 */
export function headerValue(name: string, value: string): string | null {
  if (!PLAIN.test(value)) return fold(name, spaced(encodedWords(value, firstWordRoom(name))));
  return fold(name, value.match(/[ \t]*[^ \t]+|[ \t]+$/g) ?? [""]);
}

/** Unstructured text always written as encoded-words (the Subject, as mimetext did). */
export function encodedValue(name: string, text: string): string {
  return fold(name, spaced(encodedWords(text, firstWordRoom(name))))!;
}

/** A mailbox `Display Name <addr>`: the name as encoded-words, the address whole. */
export function mailboxValue(name: string, displayName: string | undefined, address: string): string | null {
  const words = displayName ? spaced(encodedWords(displayName, firstWordRoom(name))) : [];
  return fold(name, [...words, `${words.length ? " " : ""}<${address}>`]);
}

/**
 * RFC 2047 B encoded-words of UTF-8, each at most 75 characters (the first at most `firstMax`
 * so it fits beside the field name), each an integral number of characters (§5).
 */
export function encodedWords(text: string, firstMax = MAX_ENCODED_WORD): string[] {
  // "=?utf-8?B?" + "?=" is 12 characters; base64 writes 3 bytes as 4.
  const room = (max: number) => Math.max(1, Math.floor((max - 12) / 4)) * 3;
  const words: string[] = [];
  let bytes: number[] = [];
  let limit = room(firstMax);
  for (const char of text) {
    const encoded = utf8(char);
    if (bytes.length > 0 && bytes.length + encoded.length > limit) {
      words.push(encodedWord(bytes));
      bytes = [];
      limit = room(MAX_ENCODED_WORD);
    }
    bytes.push(...encoded);
  }
  if (bytes.length > 0 || words.length === 0) words.push(encodedWord(bytes));
  return words;
}

/** Every line of a message within 998 octets (a bare LF or CR ends a line too, as MTAs read it). */
export function linesWithinLimit(message: string): boolean {
  return message.split(/\r\n|\n|\r/).every((line) => line.length <= MAX_LINE_OCTETS && utf8(line).length <= MAX_LINE_OCTETS);
}

function encodedWord(bytes: number[]): string {
  return `=?utf-8?B?${toBase64(new Uint8Array(bytes))}?=`;
}

/** Room for the first encoded-word on the `Name: ` line within 78 octets. */
function firstWordRoom(name: string): number {
  return Math.min(MAX_ENCODED_WORD, SOFT_LINE_OCTETS - name.length - 2);
}

/** Encoded-words separated by a space each: whitespace between them is not part of the text (RFC 2047 §6.2). */
function spaced(words: string[]): string[] {
  return words.map((word, i) => (i === 0 ? word : ` ${word}`));
}

/**
 * Greedy folding: a chunk that starts with whitespace may begin a new line when the current
 * one would pass 78 octets and already holds text. Returns the value part (after `Name: `),
 * or null when a line is still over 998.
 */
function fold(name: string, chunks: string[]): string | null {
  const prefix = `${name}: `;
  const lines: string[] = [];
  let line = prefix;
  let holdsText = false;
  for (const chunk of chunks) {
    const text = /[^ \t]/.test(chunk);
    if (holdsText && text && /^[ \t]/.test(chunk) && line.length + chunk.length > SOFT_LINE_OCTETS) {
      lines.push(line);
      line = chunk;
    } else {
      line += chunk;
    }
    holdsText ||= text;
  }
  lines.push(line);
  if (lines.some((l) => l.length > MAX_LINE_OCTETS)) return null;
  return lines.join("\r\n").slice(prefix.length);
}
