/**
 * Scheduled sends: what a `sendAt` means at a given moment. The schema checks the form (RFC 3339
 * with an offset); the bounds depend on the clock, so they are checked here, at accept, with `now`
 * given (tables test them without a clock).
 */
import { z } from "zod";

/** How far ahead a send may be scheduled. */
export const SCHEDULE_MAX_AHEAD_MS = 72 * 3600_000;

/**
 * A `sendAt` up to this far in the past is "now" (a client's clock, a request in flight): sent at
 * once, as without `sendAt`. Further in the past is refused: that send was meant for another time.
 */
export const SCHEDULE_PAST_TOLERANCE_MS = 60_000;

export const sendAtField = z.iso
  .datetime({ offset: true, error: "must be an RFC 3339 date-time with an offset, such as 2030-01-01T09:00:00Z" })
  .describe(
    "when to send (RFC 3339 with an offset): at most 72 h ahead; up to 60 s in the past is sent at once. The message is `scheduled` until then and can be canceled",
  );

export type Schedule = { kind: "now" } | { kind: "at"; at: number } | { kind: "invalid"; reason: "past" | "too_far"; message: string };

/**
 * What `sendAt` asks for at `now`: no time or a time within the tolerance is now, a later time up
 * to 72 h ahead is a schedule, anything else is refused with the reason.
 *
 * @example
 * scheduleOf("2030-01-01T10:00:00Z", Date.parse("2030-01-01T09:00:00Z")) // { kind: "at", at: … }
 */
export function scheduleOf(sendAt: string | undefined, now: number): Schedule {
  if (sendAt === undefined) return { kind: "now" };
  const at = Date.parse(sendAt);
  if (at > now + SCHEDULE_MAX_AHEAD_MS) {
    return { kind: "invalid", reason: "too_far", message: "must be at most 72 hours ahead" };
  }
  if (at < now - SCHEDULE_PAST_TOLERANCE_MS) {
    return { kind: "invalid", reason: "past", message: "is in the past (more than 60 s ago)" };
  }
  return at > now ? { kind: "at", at } : { kind: "now" };
}
