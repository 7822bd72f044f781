/**
 * SMPP delivery receipts: the Appendix B text SMSCs put in deliver_sm short_message, the
 * message_state TLV, and how per-part receipts decide one message's outcome.
 */
import { dlrStats, type DlrStat } from "../bridge.ts";

export type Receipt = {
  id: string;
  sub?: string;
  dlvrd?: string;
  submitDate?: string;
  doneDate?: string;
  stat: DlrStat;
  err?: string;
  text?: string;
};

type Field = keyof Receipt;

/** Keys in any case, `submit date` also as `submit_date`/`submitdate`; a key must not end a longer word. */
const KEY = /(?<![A-Za-z0-9_])(id|sub|dlvrd|submit[\s_]*date|done[\s_]*date|stat|err|text)\s*:/gi;

function fieldOf(key: string): Field {
  const k = key.toLowerCase().replace(/[\s_]+/g, "");
  if (k === "submitdate") return "submitDate";
  if (k === "donedate") return "doneDate";
  return k as Field;
}

/**
 * Fields may come in any order and SMSCs append their own (IMSI:, MSC:…), so every value but
 * `text` is the first word after its key. `text` is the tail of the original message, so what
 * follows `text:` is text to the end, and a body quoting "stat:DELIVRD" cannot set the status.
 * The one exception is an empty text that other fields follow (`text: stat:DELIVRD`, seen in the
 * wild). The first occurrence of a key wins.
 */
export function parseReceiptText(text: string): Receipt | null {
  const source = text.replace(/\0+$/, "");
  const matches = [...source.matchAll(KEY)];
  const found: Partial<Record<Field, string>> = {};
  for (const [i, match] of matches.entries()) {
    const field = fieldOf(match[1] ?? "");
    const start = match.index + match[0].length;
    const end = matches[i + 1]?.index ?? source.length;
    const raw = source.slice(start, end);
    if (field === "text") {
      const emptyBeforeMoreFields = end < source.length && raw.length > 0 && raw.trim() === "";
      if (!emptyBeforeMoreFields) {
        found.text ??= source.slice(start).trim();
        break;
      }
      continue;
    }
    found[field] ??= raw.trim().split(/\s+/)[0];
  }

  const stat = found.stat?.toUpperCase();
  if (!found.id || !isDlrStat(stat)) return null;
  const receipt: Receipt = { id: found.id, stat };
  for (const field of ["sub", "dlvrd", "submitDate", "doneDate", "err", "text"] as const) {
    if (found[field]) receipt[field] = found[field];
  }
  return receipt;
}

function isDlrStat(value: string | undefined): value is DlrStat {
  return (dlrStats as readonly string[]).includes(value ?? "");
}

/**
 * `YYMMDDhhmm` (Appendix B) or `YYMMDDhhmmss`; also the 14-digit `YYYYMMDDhhmmss` some SMSCs send.
 * Receipts carry no zone: read as UTC. Two-digit years are 20YY.
 */
export function receiptDate(value: string): string | undefined {
  const v = value.trim();
  const digits = /^\d+$/.test(v) ? v.length : 0;
  // 12 digits are YYMMDDhhmmss (Appendix B with seconds), never YYYYMMDDhhmm.
  const fields = digits === 10 || digits === 12 ? `20${v}` : digits === 14 ? v : undefined;
  if (fields === undefined) return undefined;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = fields.match(/^\d{4}|\d{2}/g)!.map(Number);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 31 April into 1 May; a receipt that says 31 April is malformed.
  if (date.getUTCDate() !== day) return undefined;
  return date.toISOString();
}

/** SMPP 3.4 §5.2.28 message_state values. */
export const messageStates: Readonly<Record<number, DlrStat>> = Object.freeze({
  1: "ENROUTE",
  2: "DELIVRD",
  3: "EXPIRED",
  4: "DELETED",
  5: "UNDELIV",
  6: "ACCEPTD",
  7: "UNKNOWN",
  8: "REJECTD",
});

/**
 * SMSCs write the same id in hex in submit_sm_resp and decimal in the receipt, or the reverse
 * (Kannel's msg-id-type); both sides are brought to one decimal form before matching.
 */
export function canonicalSmscId(id: string, base: 10 | 16): string {
  const trimmed = id.trim();
  if (base === 16 && /^[0-9a-f]+$/i.test(trimmed)) return BigInt(`0x${trimmed}`).toString();
  if (base === 10 && /^[0-9]+$/.test(trimmed)) return BigInt(trimmed).toString();
  return trimmed.toLowerCase();
}

export type ReceiptOutcome = "delivered" | "bounced" | "failed" | "expired";

const OUTCOMES: Readonly<Record<DlrStat, ReceiptOutcome | null>> = {
  DELIVRD: "delivered",
  UNDELIV: "bounced",
  REJECTD: "failed",
  DELETED: "failed",
  EXPIRED: "expired",
  ENROUTE: null,
  ACCEPTD: null,
  UNKNOWN: null,
};

export function receiptOutcome(stat: DlrStat): ReceiptOutcome | null {
  return OUTCOMES[stat];
}

/** When parts end differently, the worst final word about the handset decides. */
const PRECEDENCE: readonly ReceiptOutcome[] = ["bounced", "failed", "expired"];

/**
 * A multipart message is delivered only when every part is; one part that ends undelivered
 * decides it at once (the reader has a hole whatever the other parts do).
 */
export function aggregateReceipts(total: number, stats: ReadonlyArray<DlrStat | undefined>): ReceiptOutcome | null {
  if (!Number.isInteger(total) || total < 1) throw new RangeError(`total must be a positive integer, got ${total}`);
  const outcomes = Array.from({ length: total }, (_, i) => {
    const stat = stats[i];
    return stat === undefined ? null : receiptOutcome(stat);
  });
  for (const worst of PRECEDENCE) if (outcomes.includes(worst)) return worst;
  return outcomes.every((o) => o === "delivered") ? "delivered" : null;
}
