/**
 * The rules of one outbound webhook delivery to a customer's endpoint (the event stream):
 * when each attempt is due, how an attempt's answer is judged, the signed headers it carries
 * and how much of the answer is kept for the attempt log. The schedule is Svix's (immediate,
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: 27½ hours in all), so a receiver that is
 * down for a deploy or a night gets its events when it is back.
 */
import { parseRetryAfter as retryAfterSeconds } from "./retry.ts";
import { sign } from "./standard-webhooks.ts";

/** Delay before attempt n+1 after attempt n (index 0 = the first attempt, immediate). 8 attempts in all. */
export const RETRY_SCHEDULE_MS: readonly number[] = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const MAX_ATTEMPTS = 8;
export const ATTEMPT_TIMEOUT_MS = 15_000;
export const DISABLE_AFTER_MS = 5 * 24 * 3600_000; // failing without a single success this long disables the endpoint
export const RETRY_AFTER_CAP_MS = 10 * 3600_000;
export const RESPONSE_BODY_BYTES = 1024;

const RETRY_AFTER_FLOOR_MS = 1_000;
const JITTER = 0.1;

/**
 * When attempt `attempt + 1` is due after attempt `attempt` (1-based) failed at `now`; null when it was the last.
 * ±10 % jitter from random() ∈ [0,1), so endpoints failing together do not come back together. A retryAfterMs
 * (from 429/503) replaces the scheduled delay, clamped to [1 s, RETRY_AFTER_CAP_MS], and is not jittered: the
 * receiver said when.
 */
export function nextAttemptAt(
  attempt: number,
  now: number,
  opts: { retryAfterMs?: number | null; random?: () => number } = {},
): number | null {
  const n = Math.max(1, Math.trunc(attempt));
  if (!(n < MAX_ATTEMPTS)) return null;
  const { retryAfterMs, random = Math.random } = opts;
  if (retryAfterMs != null && !Number.isNaN(retryAfterMs)) {
    return now + Math.min(RETRY_AFTER_CAP_MS, Math.max(RETRY_AFTER_FLOOR_MS, Math.round(retryAfterMs)));
  }
  const delay = RETRY_SCHEDULE_MS[n] ?? 0;
  return now + Math.round(delay * (1 - JITTER + random() * 2 * JITTER));
}

/** Retry-After: delta-seconds or an HTTP-date, relative to now; null when absent or unparseable; never negative. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | null {
  // retry.ts's parser already refuses the lenient-date traps; it answers in whole seconds.
  const seconds = retryAfterSeconds(value, now);
  return seconds === undefined ? null : seconds * 1000;
}

/**
 * reason: "redirect" (3xx), "gone" (410), "rate_limited" (429), "unavailable" (503), "status_<n>"
 * (any other non-2xx), "timeout", "network".
 */
export type AttemptVerdict = { result: "succeeded" } | { result: "failed"; reason: string; disable: boolean; retryAfterMs: number | null };

/**
 * Judges one attempt: a Response-like {status, headers} or a transport error ("timeout" | "network").
 * 2xx succeeded; 3xx failed (redirects are never followed: a redirect could lead past the URL checks
 * to an internal address); 410 failed with disable=true (the receiver says the endpoint is gone);
 * 429/503 failed with retryAfterMs from Retry-After; others failed.
 */
export function judgeAttempt(
  answer: { status: number; headers: { get(name: string): string | null } } | { error: "timeout" | "network"; message?: string },
  now: number,
): AttemptVerdict {
  if ("error" in answer) return failed(answer.error);
  const { status } = answer;
  if (status >= 200 && status <= 299) return { result: "succeeded" };
  if (status >= 300 && status <= 399) return failed("redirect");
  if (status === 410) return failed("gone", true);
  if (status === 429 || status === 503) {
    return failed(status === 429 ? "rate_limited" : "unavailable", false, parseRetryAfter(answer.headers.get("retry-after"), now));
  }
  return failed(`status_${status}`);
}

function failed(reason: string, disable = false, retryAfterMs: number | null = null): AttemptVerdict {
  return { result: "failed", reason, disable, retryAfterMs };
}

/** webhook-signature value: one `v1,<base64>` per secret, space-separated (receivers accept any one), via standard-webhooks.ts `sign`. */
export async function signatureHeader(secrets: readonly string[], id: string, timestamp: number, body: string): Promise<string> {
  // An unsigned delivery would be accepted by nobody, or worse by a receiver that skips checks.
  if (secrets.length === 0) throw new Error("a webhook delivery needs at least one signing secret");
  const signatures = await Promise.all(secrets.map((secret) => sign(secret, id, timestamp, body)));
  return signatures.join(" ");
}

export const USER_AGENT = "lasthop-webhooks/1";

/** The delivery's headers: webhook-id, webhook-timestamp (seconds), webhook-signature, content-type application/json, user-agent. */
export async function deliveryHeaders(secrets: readonly string[], id: string, body: string, now: number): Promise<Record<string, string>> {
  const timestamp = Math.floor(now / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signatureHeader(secrets, id, timestamp, body),
    "content-type": "application/json",
    "user-agent": USER_AGENT,
  };
}

/**
 * Reads at most `limit` bytes of a body stream (then cancels it) and decodes as UTF-8 (lossy), for the attempt
 * log. A receiver's answer can be endless; we keep a prefix and stop pulling. A stream that errors mid-way
 * yields what was read: the log is not worth failing an attempt over.
 */
export async function readPrefix(body: ReadableStream<Uint8Array> | null, limit = RESPONSE_BODY_BYTES): Promise<string> {
  if (!body) return "";
  const reader = body.getReader();
  const kept = new Uint8Array(limit);
  let length = 0;
  let done = false;
  try {
    while (length < limit) {
      const chunk = await reader.read();
      if (chunk.done) {
        done = true;
        break;
      }
      const take = chunk.value.subarray(0, limit - length);
      kept.set(take, length);
      length += take.length;
    }
  } catch {
    done = true; // errored: nothing left to cancel
  }
  if (!done) await reader.cancel().catch(() => {});
  reader.releaseLock();
  // fatal: false (the default) turns a character cut at the limit into U+FFFD instead of throwing.
  return new TextDecoder().decode(kept.subarray(0, length));
}
