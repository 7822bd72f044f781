// Outbound webhooks (the event stream): events delivered per second to a local receiver, with
// fan-out to 1 and to 5 endpoints, each beside a plain Node loop that POSTs the same signed
// bodies to the same receiver with the same number in flight.
//
// lasthop's run: N suppressions are PUT (`PUT /v1/suppressions/email/<addr>`, each emits one
// `recipient.suppressed`) `emitConcurrency` at a time, as fast as the API takes them; the clock
// runs from just before the first PUT until the receiver has N distinct webhook-ids at every
// one of the account's F endpoints (so it holds the API, the webhooks Queue, the fan-out and
// EndpointDO's alarm-driven delivery, 16 in flight per endpoint). The baseline's run: the plain
// loop (webhook-loop-sender.ts, a child process) sends the N bodies lasthop delivered to each of
// the F receiver URLs, signed per request with deliveryHeaders and that endpoint's secret, 16
// in flight per endpoint; its clock runs from its first POST until the receiver has the same
// N × F. Both ends are the receiver's own timestamps (hook-counter.ts, a child process).
import { createHmac } from "node:crypto";
import { DEV_ADMIN_KEY } from "../sandbox/stack.ts";
import type { Settings } from "./figures.ts";
import type { HookCounter, HookStats } from "./hook-counter.ts";
import { api, forEachConcurrent, median, sleep } from "./net.ts";
import type { Figure } from "./report.ts";
import { sendWithPlainLoop } from "./webhook-loop-sender.ts";

export type WebhooksOutSettings = Settings["webhooksOut"];

type Endpoint = { id: string; secret: string; name: string; url: string };
type Side = "lasthop" | "baseline";
type Run = {
  side: Side;
  rate: number;
  seconds: number;
  complete: boolean;
  arrivals: number;
  distinct: number;
  /** lasthop: the PUTs (first issued to last answered); baseline: the loop's own first POST to last answer. */
  senderSeconds: number;
  /** From the clock's start to the first delivery at the receiver. */
  firstSeconds: number | null;
  /**
   * lasthop only: the deliveries that arrived after the last PUT was answered, and over how long (to the
   * last delivery): delivery with emission over, context for the figure (null for the baseline).
   */
  tail: { deliveries: number; seconds: number; rate: number } | null;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  startedAt: number;
};

/** One figure per fan-out; `counter` is the receiver (its host:port is in the Worker's WEBHOOK_DEV_HOSTS). */
export async function outboundWebhooks(
  workerUrl: string,
  counter: HookCounter,
  s: WebhooksOutSettings,
  notes: string[],
): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const fanout of s.fanouts) figures.push(await oneFanout(workerUrl, counter, fanout, s, notes));
  return figures;
}

async function oneFanout(
  workerUrl: string,
  counter: HookCounter,
  fanout: number,
  s: WebhooksOutSettings,
  notes: string[],
): Promise<Figure> {
  const label = `outbound webhooks, fan-out ${fanout}`;
  // A fresh account, so no other endpoint (the stack's dev receiver) and no other event shares its stream.
  const key = await freshAccountKey(workerUrl, `bench webhooks fan-out ${fanout}`);
  const endpoints: Endpoint[] = [];
  for (let e = 0; e < fanout; e++) {
    const name = `f${fanout}-e${e}`;
    const created = await api<{ id: string; secret: string }>(workerUrl, key, "POST", "/v1/webhook-endpoints", {
      url: counter.urlOf(name),
      eventTypes: ["recipient.suppressed"],
      description: `bench ${name}`,
    });
    endpoints.push({ id: created.id, secret: created.secret, name, url: counter.urlOf(name) });
  }
  // The same N addresses every run: a PUT on a suppressed address replaces the entry (a new
  // `at`), so each run emits N new events without making N new RecipientDOs.
  const addresses = Array.from({ length: s.events }, (_, i) => `hooks-${fanout}-${String(i).padStart(5, "0")}@example.net`);
  const expected = Object.fromEntries(endpoints.map((e) => [e.name, s.events]));
  const total = s.events * fanout;

  const lasthopRun = async (): Promise<Run> => {
    await counter.reset(expected);
    const statuses: Record<string, number> = {};
    const errors: Record<string, number> = {};
    const startedAt = Date.now();
    await forEachConcurrent(addresses.length, s.emitConcurrency, async (i) => {
      try {
        const res = await fetch(`${workerUrl}/v1/suppressions/email/${encodeURIComponent(addresses[i]!)}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${key}` },
        });
        await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      } catch (error) {
        errors[String(error)] = (errors[String(error)] ?? 0) + 1;
      }
    });
    const emittedAt = Date.now();
    const stats = await waitForAll(counter, endpoints, s.boundSeconds * 1000);
    const run = summarize("lasthop", stats, endpoints, total, startedAt, (emittedAt - startedAt) / 1000, statuses, errors);
    const arrivals = (await Promise.all(endpoints.map((e) => counter.deliveries(e.name)))).flatMap((d) => d.deliveries.map((x) => x.at));
    const late = arrivals.filter((at) => at > emittedAt).length;
    const seconds = (run.startedAt + run.seconds * 1000 - emittedAt) / 1000;
    return { ...run, tail: { deliveries: late, seconds, rate: seconds > 0 ? late / seconds : 0 } };
  };

  // Warm-up (untimed): the account's objects, the endpoints' first alarms, and the bodies the baseline sends.
  const warm = await lasthopRun();
  notes.push(`${label}, lasthop warm-up (not counted): ${describeRun(warm, total)}`);
  const captured = await counter.deliveries(endpoints[0]!.name);
  if (captured.deliveries.length < s.events)
    throw new Error(`${label}: the warm-up delivered ${captured.deliveries.length}/${s.events} events`);
  const bodies = captured.deliveries.slice(0, s.events).map(({ id, body }) => ({ id, body }));
  const checks = [`lasthop's first delivery ${signatureCheck(captured.first, endpoints[0]!.secret)}`];

  const baselineRun = async (): Promise<Run> => {
    await counter.reset(expected);
    const loop = await sendWithPlainLoop(
      {
        endpoints: endpoints.map((e) => ({ url: e.url, secret: e.secret })),
        deliveries: bodies,
        concurrency: s.concurrency,
        warmup: { url: counter.urlOf("warm-up"), count: s.baselineWarmup },
      },
      s.boundSeconds * 1000,
    );
    const stats = await waitForAll(counter, endpoints, 10_000);
    return summarize(
      "baseline",
      stats,
      endpoints,
      total,
      loop.startedAt,
      (loop.endedAt - loop.startedAt) / 1000,
      loop.statuses,
      loop.errors,
    );
  };

  const runs: Run[] = [];
  for (let round = 0; round < s.rounds; round++) {
    // lasthop first in even rounds, the baseline first in odd ones.
    const order: Side[] = round % 2 === 0 ? ["lasthop", "baseline"] : ["baseline", "lasthop"];
    for (const side of order) {
      const run = side === "lasthop" ? await lasthopRun() : await baselineRun();
      runs.push(run);
      notes.push(`${label}, ${side} round ${round + 1}: ${describeRun(run, total)}`);
      if (side === "baseline" && round === 0) {
        checks.push(
          `the loop's first delivery ${signatureCheck((await counter.deliveries(endpoints[0]!.name)).first, endpoints[0]!.secret)}`,
        );
      }
      // Let the last run's stragglers (EndpointDO's attempt bookkeeping, the queue's acks) settle.
      await sleep(1_000);
    }
  }
  notes.push(`${label}: signatures checked with node:crypto against the endpoint's secret: ${checks.join("; ")}`);
  notes.push(await attemptLog(workerUrl, key, endpoints[0]!, runs.filter((r) => r.side === "lasthop").at(-1)!));

  const lasthop = runs.filter((r) => r.side === "lasthop");
  const baseline = runs.filter((r) => r.side === "baseline");
  notes.push(
    `${label}: deliveries/s per round, lasthop ${lasthop.map((r) => r.rate.toFixed(1)).join(", ")}; plain loop ${baseline.map((r) => r.rate.toFixed(1)).join(", ")}`,
  );
  // Context, not the figure: wrangler dev's local Queue mostly holds the webhooks batches until
  // the PUTs pause, so here emission and delivery tend to run one after the other; the rate after
  // the last PUT is delivery with emission over (it still holds the queue's hand-over of the batches).
  const tail = median(lasthop.map((r) => r.tail?.rate ?? 0));
  const emit = median(lasthop.map((r) => r.senderSeconds));
  const loop = median(baseline.map((r) => r.rate));
  notes.push(
    `${label}: emission, median ${emit.toFixed(2)} s for ${s.events} PUTs (${(s.events / emit).toFixed(0)}/s); deliveries/s after the last PUT was answered, median ${tail.toFixed(0)}/s, against the plain loop's ${loop.toFixed(0)}/s: ratio ${(tail / loop).toFixed(3)}`,
  );
  const bodyBytes = Math.round(bodies.reduce((n, b) => n + Buffer.byteLength(b.body), 0) / bodies.length);
  return {
    name: `outbound events delivered/s, fan-out ${fanout} (${s.events} events × ${fanout} endpoint${fanout > 1 ? "s" : ""})`,
    unit: "deliveries/s",
    value: median(lasthop.map((r) => r.rate)),
    baselines: [
      {
        name: `plain Node loop: the same signed bodies to the same receiver, ${s.concurrency} in flight per endpoint`,
        value: median(baseline.map((r) => r.rate)),
      },
    ],
    settings: `clock: first PUT (${s.emitConcurrency} in flight) → ${total}th distinct delivery at a counting receiver (child process); ${s.concurrency} in flight per endpoint; ~${bodyBytes} B bodies; median of ${s.rounds} rounds`,
  };
}

/** Polls the receiver until every endpoint's hook has its N distinct deliveries, the bound runs out, or arrivals stall for 30 s. */
async function waitForAll(counter: HookCounter, endpoints: Endpoint[], boundMs: number): Promise<Record<string, HookStats>> {
  const started = Date.now();
  let last = -1;
  let since = Date.now();
  for (;;) {
    const stats = await counter.stats();
    if (endpoints.every((e) => stats[e.name]?.doneAt != null)) return stats;
    const arrivals = endpoints.reduce((n, e) => n + (stats[e.name]?.arrivals ?? 0), 0);
    if (arrivals !== last) [last, since] = [arrivals, Date.now()];
    if (Date.now() - started > boundMs || Date.now() - since > 30_000) return stats;
    await sleep(100);
  }
}

function summarize(
  side: Side,
  stats: Record<string, HookStats>,
  endpoints: Endpoint[],
  total: number,
  startedAt: number,
  senderSeconds: number,
  statuses: Record<string, number>,
  errors: Record<string, number>,
): Run {
  const hooks = endpoints.map((e) => stats[e.name]);
  const complete = hooks.every((h) => h?.doneAt != null);
  const distinct = hooks.reduce((n, h) => n + (h?.distinct ?? 0), 0);
  const arrivals = hooks.reduce((n, h) => n + (h?.arrivals ?? 0), 0);
  const end = complete ? Math.max(...hooks.map((h) => h!.doneAt!)) : Math.max(startedAt, ...hooks.map((h) => h?.lastAt ?? 0));
  const firsts = hooks.map((h) => h?.firstAt).filter((t): t is number => t != null);
  const seconds = (end - startedAt) / 1000;
  return {
    side,
    // An incomplete run counts what arrived (and says so in the notes).
    rate: seconds > 0 ? (complete ? total : distinct) / seconds : 0,
    seconds,
    complete,
    arrivals,
    distinct,
    senderSeconds,
    firstSeconds: firsts.length ? (Math.min(...firsts) - startedAt) / 1000 : null,
    tail: null,
    statuses,
    errors,
    startedAt,
  };
}

function describeRun(r: Run, total: number): string {
  const sender = r.side === "lasthop" ? "the PUTs took" : "the loop sent for";
  return (
    `${r.rate.toFixed(1)} deliveries/s, ${r.distinct}/${total} distinct in ${r.seconds.toFixed(2)} s${r.complete ? "" : " (INCOMPLETE: bound or stall)"}` +
    ` (${r.arrivals - r.distinct} repeats); ${sender} ${r.senderSeconds.toFixed(2)} s, answers ${JSON.stringify(r.statuses)}` +
    `${Object.keys(r.errors).length ? `, errors ${JSON.stringify(r.errors)}` : ""}; first delivery after ${r.firstSeconds?.toFixed(2) ?? "—"} s` +
    (r.tail
      ? `; after the last PUT was answered, ${r.tail.deliveries} deliveries in ${r.tail.seconds.toFixed(2)} s (${r.tail.rate.toFixed(0)}/s)`
      : "")
  );
}

/** Standard Webhooks, checked with node:crypto (not src/core's code): one `v1,` entry must match. */
function signatureCheck(first: { headers: Record<string, string>; body: string } | null, secret: string): string {
  if (!first) return "missing";
  const id = first.headers["webhook-id"];
  const timestamp = first.headers["webhook-timestamp"];
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const mac = createHmac("sha256", key).update(`${id}.${timestamp}.${first.body}`).digest("base64");
  const ok = (first.headers["webhook-signature"] ?? "").split(" ").includes(`v1,${mac}`);
  return `${ok ? "verifies" : "DOES NOT verify"} (webhook-id ${id}, user-agent ${first.headers["user-agent"]}, ${Buffer.byteLength(first.body)} B)`;
}

/** What lasthop's attempt log says of the last measured run at the first endpoint: attempt durations and when they started. */
async function attemptLog(workerUrl: string, key: string, endpoint: Endpoint, run: Run): Promise<string> {
  type Attempt = { at: string; result: string; durationMs: number | null };
  const attempts: Attempt[] = [];
  let cursor: string | null = null;
  const since = new Date(run.startedAt).toISOString();
  do {
    const query: string = `since=${encodeURIComponent(since)}&limit=1000${cursor ? `&cursor=${cursor}` : ""}`;
    const page = await api<{ data: Attempt[]; nextCursor: string | null }>(
      workerUrl,
      key,
      "GET",
      `/v1/webhook-endpoints/${endpoint.id}/attempts?${query}`,
    );
    attempts.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  const durations = attempts.map((a) => a.durationMs ?? 0).sort((a, b) => a - b);
  const starts = attempts.map((a) => Date.parse(a.at)).sort((a, b) => a - b);
  const q = (p: number) => durations[Math.min(durations.length - 1, Math.floor(p * durations.length))] ?? 0;
  // The longest pause between two consecutive attempt starts: the delivery loop idle while events waited.
  let gap = 0;
  for (let i = 1; i < starts.length; i++) gap = Math.max(gap, starts[i]! - starts[i - 1]!);
  const results: Record<string, number> = {};
  for (const a of attempts) results[a.result] = (results[a.result] ?? 0) + 1;
  return (
    `outbound webhooks, lasthop's attempt log (endpoint ${endpoint.name}, last lasthop round): ${attempts.length} attempts ${JSON.stringify(results)}; ` +
    `duration p50 ${q(0.5)} ms, p90 ${q(0.9)} ms, max ${durations.at(-1) ?? 0} ms; ` +
    `first attempt ${starts.length ? ((starts[0]! - run.startedAt) / 1000).toFixed(2) : "—"} s after the first PUT, last ${starts.length ? ((starts.at(-1)! - run.startedAt) / 1000).toFixed(2) : "—"} s; ` +
    `longest pause between attempt starts ${gap} ms`
  );
}

async function freshAccountKey(workerUrl: string, name: string): Promise<string> {
  const account = await api<{ apiKey: { key: string } }>(workerUrl, DEV_ADMIN_KEY, "POST", "/v1/admin/accounts", { name });
  // A rate far above the load, so the PUTs measure the API, not the key's limit.
  const created = await api<{ key: string }>(workerUrl, account.apiKey.key, "POST", "/v1/api-keys", {
    name: "bench webhooks",
    scopes: ["suppressions:write", "config:write", "read"],
    ratePerSecond: 100_000,
  });
  return created.key;
}
