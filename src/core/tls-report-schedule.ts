/**
 * The clock and bookkeeping of sending TLS-RPT reports (RFC 8460 §4.1, §5.4, §5.5), pure: which
 * UTC day a session counts in, when a day's report is due (after midnight UTC with a spread, so
 * every policy domain's object does not wake in the same second), how a failed delivery backs
 * off within the 24 hours §5.5 asks for, and the wire session as a tally session.
 */
import type { TlsSessionReport } from "./bridge.ts";
import type { TlsRptSession } from "./tls-rpt.ts";

export const DAY_MS = 86_400_000;
/** §5.5: a failed delivery SHOULD be retried for up to 24 hours. */
export const REPORT_RETRY_WINDOW_MS = DAY_MS;
/** Reports wait up to this long after midnight UTC, spread at random. */
export const REPORT_SPREAD_MS = 15 * 60_000;
const FIRST_RETRY_MS = 5 * 60_000;
const MAX_RETRY_MS = 4 * 3_600_000;

/** The UTC day of `ms` as `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** 00:00:00 UTC of a `YYYY-MM-DD` day, in ms. */
export function dayStart(day: string): number {
  return Date.parse(`${day}T00:00:00Z`);
}

/** When the report of the day holding `now` is due: the next 00:00 UTC plus `random` of the spread. */
export function reportDueAt(now: number, random: number): number {
  return dayStart(utcDay(now)) + DAY_MS + Math.floor(Math.min(Math.max(random, 0), 1) * REPORT_SPREAD_MS);
}

/** The wait before retry number `attempts` (1 = the first retry): 5 min doubling, at most 4 h (exponential, §5.5). */
export function retryDelay(attempts: number): number {
  return Math.min(FIRST_RETRY_MS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_MS);
}

/**
 * The report's id: one per policy domain and day, the same on every retry, shaped as a msg-id
 * (§5.3's Subject carries it in angle brackets) so the receiver can drop a duplicate.
 */
export function reportIdOf(day: string, policyDomain: string, submitter: string): string {
  return `${day.replaceAll("-", "")}.${policyDomain}@${submitter}`;
}

/** A posted session as the tally (core/tls-rpt.ts) counts it. */
export function tallySession(session: TlsSessionReport): TlsRptSession {
  const { policy, result, ...details } = session;
  if (result === "success") return { policy, ok: true };
  return { policy, ok: false, failure: { resultType: result, ...details } };
}
