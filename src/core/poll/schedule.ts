/**
 * Status polling where a provider's webhook may never come (issue 19): which messages the
 * `scheduled` handler asks their provider about, and when it asks again. Pure; the run is
 * `queues/poll.ts`, the index rows it reads live in the account's shards (`state/poll-index.ts`).
 */
import { z } from "zod";

/** The `statusPoll` part of the `delivery` section. Ages are counted from the message's last change. */
export const statusPollSettings = z.strictObject({
  enabled: z.boolean().default(true),
  /** A message `accepted` for this long without feedback is asked about. */
  afterMinutes: z.number().int().min(5).max(1440).default(15),
  /** A message older than this (since its creation) is no longer asked about. */
  stopAfterHours: z.number().int().min(1).max(168).default(72),
});
export type StatusPollSettings = z.infer<typeof statusPollSettings>;
export const DEFAULT_STATUS_POLL: StatusPollSettings = { enabled: true, afterMinutes: 15, stopAfterHours: 72 };

/**
 * At most this many messages of one account are asked about per run (every 5 minutes: 600 an
 * hour), the oldest due first, so one account's backlog cannot make a run explode; the rest
 * wait for the next run. And at most this many of its requests are in flight at once.
 */
export const POLL_PER_ACCOUNT = 50;
export const POLL_IN_FLIGHT = 8;

/** The longest wait between two polls of one message. */
const MAX_INTERVAL_MS = 6 * 3600_000;
/** After a provider error, the next run asks again (runs are 5 minutes apart; this is less). */
export const RETRY_AFTER_ERROR_MS = 60_000;

/**
 * The provider types whose status API the run knows (`provider` of the index row: the route's
 * type): REST SMS (Twilio's Messages API) and Mailgun (its Events API, whose events carry the
 * webhook's own ids). Resend and Postmark are not: their APIs cannot give back the id their
 * webhook's event has, so a polled event and its webhook would be two; SES has no per-message API.
 */
export const polledProviders = ["rest", "mailgun"] as const;
export type PolledProvider = (typeof polledProviders)[number];

/** The rows a shard is asked for at `now`: still `accepted`, created after `createdAfter`, unchanged since `unchangedSince`. */
export type PollWindow = { createdAfter: string; unchangedSince: string; now: number; limit: number };

export function pollWindow(settings: StatusPollSettings, now: number, limit = POLL_PER_ACCOUNT): PollWindow {
  return {
    createdAfter: new Date(now - settings.stopAfterHours * 3600_000).toISOString(),
    unchangedSince: new Date(now - settings.afterMinutes * 60_000).toISOString(),
    now,
    limit,
  };
}

/**
 * When a message answered "still in flight" is asked again: after as long as it had already
 * waited (15 min, 30 min, 1 h, 2 h… at most 6 h apart), so one that never gets a final status
 * costs about 18 polls over 72 hours instead of one every run.
 */
export function nextPollAt(settings: StatusPollSettings, updatedAt: string, now: number): number {
  const waited = now - Date.parse(updatedAt);
  const floor = settings.afterMinutes * 60_000;
  return now + Math.min(MAX_INTERVAL_MS, Math.max(floor, Number.isFinite(waited) ? waited : floor));
}

/** The cron of the poll run (wrangler.toml); the hourly one is retention's. */
export const POLL_CRON = "*/5 * * * *";
