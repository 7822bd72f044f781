/**
 * Retry timing for transient failures: exponential backoff with jitter, overridden by
 * the next hop's own Retry-After when it gives one (a push service that says "wait 30 s"
 * knows better than our curve).
 */

/** Cloudflare Queues accept a retry delay of at most 12 hours. */
export const MAX_QUEUE_DELAY_SECONDS = 43_200;

/**
 * Delay before retry `attempt` (1-based): base × 2^(attempt-1), capped, with "equal jitter"
 * (half fixed, half random) so a burst of failures does not come back in lockstep.
 */
export function backoffSeconds(attempt: number, baseSeconds: number, capSeconds = 3600, random = Math.random): number {
  const ceiling = Math.min(capSeconds, baseSeconds * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** An HTTP-date in any of its three forms (RFC 9110 §5.6.7) starts with a day name. */
const HTTP_DATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? [\w :-]+$/;

/**
 * Parses Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Anything else is
 * ignored rather than guessed at (a lenient date parser reads "1.5" as a day in 2001,
 * which would turn into an immediate retry).
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!HTTP_DATE.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export function retryDelaySeconds(attempt: number, baseSeconds: number, retryAfter?: number, random = Math.random): number {
  const delay = retryAfter ?? backoffSeconds(attempt, baseSeconds, 3600, random);
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, delay));
}

/**
 * Email's schedule (Postal's): base × 1.3^(attempt-1), ±10% jitter. Receivers that
 * greylist want minutes, not seconds, and the series stretches a 48 h life over ~20 tries.
 */
export function emailRetryDelaySeconds(attempt: number, baseSeconds: number, random = Math.random): number {
  const delay = baseSeconds * 1.3 ** Math.max(0, attempt - 1);
  return Math.min(MAX_QUEUE_DELAY_SECONDS, Math.round(delay * (0.9 + random() * 0.2)));
}

/** Whether a message created at `createdAt` would outlive its maximum age by waiting `delaySeconds`. */
export function outlivesMaxAge(createdAt: string, delaySeconds: number, maxAgeSeconds: number, now = Date.now()): boolean {
  return now + delaySeconds * 1000 > Date.parse(createdAt) + maxAgeSeconds * 1000;
}
