// One load client for every target (autocannon, in this process), so each system under test
// meets the same client, connection count and duration. Failures are kept, not averaged away.
import autocannon from "autocannon";

export type LoadSettings = { connections: number; durationSeconds: number };

export type Target = {
  url: string;
  headers?: Record<string, string>;
  /** A fixed body for every request ... */
  body?: string;
  /** ... or a fresh one per request, whose `tag` comes back in okTags, failedTags or unanswered. */
  next?: () => { headers: Record<string, string>; body: string; tag?: string };
};

export type LoadResult = {
  ok: number;
  seconds: number;
  /** 2xx answers per second. */
  rate: number;
  p50: number;
  p99: number;
  statusCodes: Record<string, number>;
  /** Socket errors and timeouts (no HTTP answer at all). */
  errors: number;
  timeouts: number;
  /** The first answer body seen for each non-2xx status, to report it as it was. */
  failures: Record<string, string>;
  /** Tags answered 2xx; answered otherwise; sent but cut off unanswered when the duration ended. */
  okTags: Set<string>;
  failedTags: Set<string>;
  unanswered: Set<string>;
};

export async function load(target: Target, settings: LoadSettings): Promise<LoadResult> {
  const failures: Record<string, string> = {};
  const okTags = new Set<string>();
  const failedTags = new Set<string>();
  const issued = new Set<string>();
  const result = await autocannon({
    url: target.url,
    connections: settings.connections,
    duration: settings.durationSeconds,
    timeout: 10,
    requests: [
      {
        method: "POST",
        headers: target.headers,
        body: target.body,
        ...(target.next
          ? {
              setupRequest: (req, context) => {
                const next = target.next!();
                context.tag = next.tag;
                if (next.tag !== undefined) issued.add(next.tag);
                return { ...req, headers: { ...target.headers, ...next.headers }, body: next.body };
              },
            }
          : {}),
        // With one request per connection in flight, the context still holds this request's tag.
        onResponse: (status, body, context) => {
          const tag = typeof context.tag === "string" ? context.tag : undefined;
          if (tag !== undefined) issued.delete(tag);
          if (status >= 200 && status < 300) {
            if (tag !== undefined) okTags.add(tag);
          } else {
            if (tag !== undefined) failedTags.add(tag);
            failures[status] ??= body.slice(0, 300);
          }
        },
      },
    ],
  });
  return {
    ok: result["2xx"],
    seconds: result.duration,
    rate: result["2xx"] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count])),
    errors: result.errors,
    timeouts: result.timeouts,
    failures,
    okTags,
    failedTags,
    unanswered: issued,
  };
}
