/**
 * How a body goes out over SMPP: which alphabet, how many parts, and the parts themselves with the
 * 8-bit concatenation UDH (3GPP TS 23.040 §9.2.3.24.1). One splitting rule serves both the plan and
 * the parts, so the count quoted before sending is the count sent.
 */
import { encodeGsm7, encodeUcs2, gsm7CharSeptets, gsm7Septets } from "./gsm.ts";

export type SmsEncoding = "gsm7" | "ucs2";
export type SmsPlan = { encoding: SmsEncoding; dataCoding: 0 | 8; units: number; segments: number };
export type SmsPart = { index: number; total: number; esmClass: number; dataCoding: 0 | 8; shortMessage: Uint8Array };

/** Units per part: alone, and beside the 6-octet UDH (7 septets in GSM 7-bit, 3 code units in UCS-2). */
const LIMITS = { gsm7: { single: 160, multi: 153 }, ucs2: { single: 70, multi: 67 } } as const;
const DATA_CODING = { gsm7: 0, ucs2: 8 } as const;
/** esm_class bit 6: short_message begins with a user data header. */
const ESM_UDHI = 0x40;
/** The concatenation IE counts parts in one octet. */
const MAX_PARTS = 255;

type Layout = { encoding: SmsEncoding; units: number; parts: string[] };

/**
 * Splits on whole characters only: an escape pair (2 septets) or a surrogate pair (2 code units)
 * that would straddle a boundary moves to the next part, which is why parts may hold 152 or 66.
 */
function layout(text: string): Layout {
  const chars = Array.from(text);
  const septets = chars.map(gsm7CharSeptets);
  const encoding: SmsEncoding = septets.every((n) => n !== null) ? "gsm7" : "ucs2";
  const sizes = encoding === "gsm7" ? (septets as number[]) : chars.map((c) => c.length);
  const units = sizes.reduce((sum, n) => sum + n, 0);
  const { single, multi } = LIMITS[encoding];
  if (units <= single) return { encoding, units, parts: [text] };

  const parts: string[] = [];
  let part = "";
  let used = 0;
  chars.forEach((char, i) => {
    const size = sizes[i] ?? 0;
    if (used + size > multi) {
      parts.push(part);
      part = "";
      used = 0;
    }
    part += char;
    used += size;
  });
  parts.push(part);
  return { encoding, units, parts };
}

export function planSms(text: string): SmsPlan {
  const { encoding, units, parts } = layout(text);
  return { encoding, dataCoding: DATA_CODING[encoding], units, segments: parts.length };
}

function encode(text: string, encoding: SmsEncoding): Uint8Array {
  // layout chose gsm7 only when every character has a septet, so encodeGsm7 cannot fail here.
  return encoding === "gsm7" ? encodeGsm7(text)! : encodeUcs2(text);
}

export function segmentSms(text: string, reference: number): SmsPart[] {
  if (!Number.isInteger(reference) || reference < 0 || reference > 255) {
    throw new RangeError(`concatenation reference must be 0..255, got ${reference}`);
  }
  const { encoding, parts } = layout(text);
  const dataCoding = DATA_CODING[encoding];
  const total = parts.length;
  if (total > MAX_PARTS) throw new RangeError(`message needs ${total} parts; the UDH allows ${MAX_PARTS}`);
  if (total === 1) return [{ index: 1, total, esmClass: 0, dataCoding, shortMessage: encode(text, encoding) }];

  return parts.map((part, i) => {
    const body = encode(part, encoding);
    const shortMessage = new Uint8Array(6 + body.length);
    shortMessage.set([0x05, 0x00, 0x03, reference, total, i + 1]);
    shortMessage.set(body, 6);
    return { index: i + 1, total, esmClass: ESM_UDHI, dataCoding, shortMessage };
  });
}

/** The whole body for the message_payload TLV: the SMSC segments it, so no UDH. */
export function smsPayload(text: string): { dataCoding: 0 | 8; messagePayload: Uint8Array } {
  const encoding: SmsEncoding = gsm7Septets(text) === null ? "ucs2" : "gsm7";
  return { dataCoding: DATA_CODING[encoding], messagePayload: encode(text, encoding) };
}

/** FNV-1a over the id's UTF-16 code units, folded to one octet: stable across retries of a message. */
export function referenceFor(messageId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < messageId.length; i++) {
    hash ^= messageId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash ^ (hash >>> 8) ^ (hash >>> 16) ^ (hash >>> 24)) & 0xff;
}
