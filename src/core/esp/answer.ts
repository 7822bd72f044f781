/**
 * What the five hosted providers' send APIs have in common: the request shape each adapter
 * builds, and how an HTTP answer maps to an outcome once the adapter has read its provider's
 * error fields. The mapping decides failover (`passesOn`) and circuit health (`routeHealthy`):
 * only an answer that proves the provider did not take the message says `submitted: "no"`.
 */
import type { SendOutcome } from "../outcome.ts";
import { parseRetryAfter } from "../retry.ts";

/** One provider request, built without I/O; the channel sender fetches (and, for SES, signs) it. */
export type EspRequest = { url: string; method: "POST"; headers: Record<string, string>; body: string | FormData };

/** The provider's error, as it named it: put in `detail` beside the reason. */
export type ProviderError = { error?: string; errorCode?: string | number; [key: string]: unknown };

/** The API's origin and path prefix, without a trailing slash. */
export function base(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

export function accepted(status: number, providerMessageId: string | undefined): SendOutcome {
  return { kind: "accepted", detail: { ...(providerMessageId ? { providerMessageId } : {}), status } };
}

/**
 * A refusal by status, for what the provider's own codes did not settle:
 * - 401/403: credentials refused; nothing was taken and no message will pass, so the next route may take it;
 * - 404 or a redirect: the route points at no send API (its baseUrl or domain is wrong); same;
 * - 429: throttled before taking it (not passed on: the route is healthy, only busy);
 * - 502/503: the gateway or the service answered for a provider that did not take it;
 * - 504: a gateway gave up waiting, the provider may have taken it: pinned;
 * - other 5xx: ambiguous, pinned to the route;
 * - other 4xx: this message is refused, on any route.
 */
export function refusal(status: number, headers: Headers, error: ProviderError): SendOutcome {
  const detail = { status, ...clean(error) };
  const retryAfter = parseRetryAfter(headers.get("retry-after"));
  const retry = (reason: string, submitted: "no" | "maybe", hint?: string): SendOutcome => ({
    kind: "retry",
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    detail: { reason, ...detail, submitted, ...(hint ? { hint } : {}) },
  });
  if (status === 401 || status === 403) return retry("route_auth", "no", "the provider refused the route's credentials");
  if (status === 404) return retry("route_down", "no", "no send API at this address: check the route's baseUrl (and domain)");
  if (status >= 300 && status < 400) return retry("route_down", "no", "the send API answered a redirect: check the route's baseUrl");
  // 408: the server gave up reading the request, so it never processed it.
  if (status === 408) return retry("timeout", "no");
  if (status === 429) return retry("throttled", "no");
  if (status === 502 || status === 503) return retry("route_down", "no");
  if (status === 504) return retry("timeout", "maybe");
  if (status >= 400 && status < 500) return { kind: "failed", detail: { reason: "rejected", ...detail } };
  return retry("provider_error", "maybe");
}

/** An outcome the provider's own code settled, with its error beside the reason. */
export function retryNotSubmitted(status: number, headers: Headers, reason: string, error: ProviderError, hint?: string): SendOutcome {
  const retryAfter = parseRetryAfter(headers.get("retry-after"));
  return {
    kind: "retry",
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    detail: { reason, status, ...clean(error), submitted: "no", ...(hint ? { hint } : {}) },
  };
}

/** A recipient the provider refuses to send to (its suppression list): a hard bounce, on any route. */
export function suppressed(status: number, error: ProviderError): SendOutcome {
  return { kind: "bounced", detail: { class: "hard", reason: "suppressed", status, ...clean(error) } };
}

/** The body as an object, when the provider answered JSON. */
export function record(body: unknown): Record<string, unknown> {
  return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

export function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A non-JSON error body (a proxy's page, Mailgun's "Forbidden"), clipped for the timeline. */
export function plain(body: unknown): string | undefined {
  return typeof body === "string" && body.trim() !== "" ? body.trim().slice(0, 512) : undefined;
}

/** A header value on one line: the relay's folding (CRLF + WSP) is for the wire, JSON APIs fold themselves. */
export function unfolded(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, "");
}

/** `Name <addr>` as Postmark and Resend parse a From: the name quoted when it holds a special. */
export function mailbox(address: string, name?: string): string {
  if (!name) return address;
  const safe = /^[\w !#$%&'*+/=?^`{|}~-]+$/.test(name) ? name : `"${name.replace(/["\\]/g, "\\$&")}"`;
  return `${safe} <${address}>`;
}

/**
 * Tags as providers with a narrow alphabet take them (SES, Resend: ASCII letters, digits, _ and -,
 * at most 256): other characters become `_`; duplicates and our own key are dropped.
 */
export function safeTags(tags: readonly string[] | undefined, ourKey: string): string[] {
  const out = new Set<string>();
  for (const tag of tags ?? []) {
    const safe = tag.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 256);
    if (safe !== "" && safe !== ourKey) out.add(safe);
  }
  return [...out];
}

/** SES and Resend tags: names and values of letters, digits, _ and -, at most 256 each. */
export const TAG_PAIR_LIMITS = { maxPairs: 40, maxKey: 256, maxValue: 256, pattern: /^[A-Za-z0-9_-]+$/ };

/** What a provider lets a message carry as custom key/value pairs (custom args, metadata, variables, tags). */
export type PairLimits = {
  maxPairs: number;
  maxKey: number;
  maxValue: number;
  /** Keys and values must match (SES and Resend tags: letters, digits, _ and -). */
  pattern?: RegExp;
  /** Names the provider uses itself (SendGrid flattens custom args among its event fields). */
  reserved?: ReadonlySet<string>;
};

/**
 * The send's metadata as the string pairs a provider can carry: strings as they are, other
 * values as JSON; our id's key is never overwritten. A pair outside the provider's limits is
 * left out rather than cut (a cut value would read as a different one): the message keeps its
 * metadata in lasthop either way, and the event stream carries it whole.
 */
export function metadataPairs(metadata: Record<string, unknown> | undefined, ourKey: string, limits: PairLimits): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const [key, raw] of Object.entries(metadata ?? {})) {
    if (pairs.length >= limits.maxPairs) break;
    const value = typeof raw === "string" ? raw : JSON.stringify(raw);
    if (key === ourKey || key === "" || value === undefined || limits.reserved?.has(key.toLowerCase())) continue;
    if (key.length > limits.maxKey || value.length > limits.maxValue) continue;
    if (limits.pattern && !(limits.pattern.test(key) && limits.pattern.test(value))) continue;
    pairs.push([key, value]);
  }
  return pairs;
}

function clean(error: ProviderError): ProviderError {
  return Object.fromEntries(Object.entries(error).filter(([, v]) => v !== undefined && v !== null && v !== ""));
}
