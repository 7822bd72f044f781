// IP pools through the whole stack (issue 18): how closely a destination's per-minute throttle
// holds its rate, and whether a warming address's daily cap holds exactly. A fresh account made by
// the platform admin relays through the bridge to the bench's smtp-sink; the sink's own counter
// (read from its pipe, timestamped as each count arrived) gives each message's arrival time.
import type { Stack } from "../sandbox/stack.ts";
import { DEV_ADMIN_KEY } from "../sandbox/stack.ts";
import { utcDay } from "../src/core/warmup.ts";
import { note, type SendLog } from "./e2e.ts";
import { api, forEachConcurrent } from "./net.ts";
import type { Figure } from "./report.ts";
import { BENCH_FROM, emailSubject, type SmtpSink, waitForAcceptedEmails } from "./smtp.ts";

export type PoolsSettings = {
  /** The destination's perMinute (R); N = R × minutes messages are offered. */
  perMinute: number;
  minutes: number;
  /** The warming address's cap of the day (C); 2C messages are offered. */
  warmupCap: number;
  /** POST /v1/messages in flight. */
  concurrency: number;
  textBytes: number;
};

const WINDOW_MS = 60_000;
const STEP_MS = 1_000;

export async function poolFigures(stack: Stack, sink: SmtpSink, s: PoolsSettings, text: string, notes: string[]): Promise<Figure[]> {
  const started = performance.now();
  const figures = [...(await throttleAccuracy(stack, sink, s, text, notes)), await warmupCap(stack, sink, s, text, notes)];
  notes.push(`pools: the group took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return figures;
}

/** N = R × minutes emails to one throttled destination, offered as fast as the API takes them; arrivals at the sink over sliding minutes. */
async function throttleAccuracy(stack: Stack, sink: SmtpSink, s: PoolsSettings, text: string, notes: string[]): Promise<Figure[]> {
  const R = s.perMinute;
  const n = R * s.minutes;
  const key = await pooledAccount(stack, sink, "bench pools throttle", {
    destinations: [{ name: "bench", domains: ["throttle.example"], perMinute: R }],
  });
  const arrivals: number[] = [];
  const base = sink.messages();
  let seen = base;
  const stop = sink.onCount((count, at) => {
    for (; seen < count; seen++) arrivals.push(at);
  });
  const started = performance.now();
  let log: SendLog;
  let offeredSeconds: number;
  const progress = setInterval(() => console.error(`[bench pools] throttle: ${sink.messages() - base} at the sink`), 30_000);
  try {
    log = await offer(stack.workerUrl, key, (i) => email(`bench-${i}@throttle.example`, text), n, s.concurrency);
    offeredSeconds = (performance.now() - started) / 1000;
    // At the rate the last one is due N/R minutes after the first; a minute more before giving up.
    const reached = await sink.reached(base + log.ids.length, (s.minutes + 1) * 60_000 + offeredSeconds * 1000);
    if (reached === null) notes.push(`pools throttle: the sink had ${sink.messages() - base} of ${log.ids.length} when the bound ran out`);
    // Late repeats (a message sent twice) would still show.
    await sink.settled(3_000, 10_000);
  } finally {
    stop();
    clearInterval(progress);
  }
  const statuses = await waitForAcceptedEmails(stack.workerUrl, key, log.ids, { concurrency: 10, everyMs: 1_000, timeoutMs: 60_000 });
  const deferrals = await sampleEvents(stack.workerUrl, key, log.ids.slice(0, 50));
  const first = arrivals[0] ?? 0;
  const last = arrivals.at(-1) ?? 0;
  const windows: number[] = [];
  for (let start = first; start + WINDOW_MS <= last; start += STEP_MS) windows.push(inWindow(arrivals, start, start + WINDOW_MS));
  const minWindow = windows.length ? Math.min(...windows) : Number.NaN;
  const maxWindow = windows.length ? Math.max(...windows) : Number.NaN;
  // The first minute from the first arrival (the burst tolerance lies in it).
  const firstMinute = inWindow(arrivals, first, first + WINDOW_MS);
  const average = arrivals.length > 1 ? ((arrivals.length - 1) / (last - first)) * WINDOW_MS : Number.NaN;
  notes.push(
    `pools throttle: answers ${JSON.stringify(log.statuses)}${Object.keys(log.failures).length ? ` ${JSON.stringify(log.failures)}` : ""}; ` +
      `${n} offered in ${offeredSeconds.toFixed(1)} s (${(n / offeredSeconds).toFixed(0)}/s, ${s.concurrency} in flight); ` +
      `${arrivals.length} arrived at the sink over ${((last - first) / 1000).toFixed(1)} s (first ${((first - started) / 1000).toFixed(1)} s after the first send); ` +
      `${windows.length} full 60 s windows (step 1 s) from the first arrival to the last: min ${minWindow}, max ${maxWindow}; the first minute ${firstMinute}; ` +
      `statuses ${JSON.stringify(statuses.statuses)}${Object.keys(statuses.httpFailures).length ? ` (HTTP ${JSON.stringify(statuses.httpFailures)})` : ""}` +
      `${statuses.firstNotAccepted ? `, first not accepted: ${JSON.stringify(statuses.firstNotAccepted).slice(0, 400)}` : ""}; ` +
      `of the first 50 sent: ${deferrals.summary}`,
  );
  const settings =
    `destination perMinute R = ${R}, N = ${n} emails to bench-<i>@throttle.example offered at once (${s.concurrency} in flight), ` +
    `relay to smtp-sink; arrivals: the sink's counter on its pipe (timestamped per read); windows of 60 s sliding by 1 s, ` +
    `wholly between the first arrival and the last (${windows.length} windows)`;
  return [
    {
      name: "pools: destination throttle, most arrivals in any 60 s window (sink) vs perMinute",
      unit: "msg/min",
      value: maxWindow,
      baselines: [{ name: "configured perMinute", value: R }],
      settings,
    },
    {
      name: "pools: destination throttle, fewest arrivals in any 60 s window (sink) vs perMinute",
      unit: "msg/min",
      value: minWindow,
      baselines: [{ name: "configured perMinute", value: R }],
      settings,
    },
    {
      name: "pools: destination throttle, whole-run rate (n − 1)/(last − first arrival) vs perMinute",
      unit: "msg/min",
      value: average,
      baselines: [{ name: "configured perMinute", value: R }],
      settings: `${settings}; ${arrivals.length} arrivals over ${((last - first) / 1000).toFixed(1)} s`,
    },
  ];
}

/** 2C emails from a pool of one warming address with today's cap C: C reach the sink, the rest wait for tomorrow. */
async function warmupCap(stack: Stack, sink: SmtpSink, s: PoolsSettings, text: string, notes: string[]): Promise<Figure> {
  const C = s.warmupCap;
  const today = utcDay(Date.now());
  const key = await pooledAccount(stack, sink, "bench pools warm-up", {
    pools: [{ name: "warm", addresses: [{ ip: "127.0.0.2", warmup: { startedOn: today, schedule: [C] } }] }],
    defaultPool: "warm",
  });
  const base = sink.messages();
  const started = performance.now();
  const log = await offer(stack.workerUrl, key, (i) => email(`warm-${i}@example.net`, text), 2 * C, s.concurrency);
  // C must arrive; then nothing more for a while (the rest wait until the next UTC day).
  const reached = await sink.reached(base + C, 120_000);
  const arrived = (await sink.settled(5_000, 60_000)) - base;
  const seconds = ((reached ?? performance.now()) - started) / 1000;
  const statuses = await readStatuses(stack.workerUrl, key, log.ids);
  const deferred = log.ids.filter((id) => statuses.byId.get(id) === "deferred");
  const sample = await sampleEvents(stack.workerUrl, key, deferred.slice(0, 20));
  notes.push(
    `pools warm-up: answers ${JSON.stringify(log.statuses)}; ${arrived} of ${log.ids.length} arrived at the sink ` +
      `(${reached === null ? "never reached C" : `C reached ${seconds.toFixed(1)} s after the first send`}, then 5 s with nothing more); ` +
      `statuses ${JSON.stringify(statuses.counts)}; of 20 deferred read: ${sample.summary}`,
  );
  if (utcDay(Date.now()) !== today) notes.push("pools warm-up: the UTC day changed during the run, its figure counts two days' caps");
  return {
    name: "pools: warm-up, messages that reached the sink from a warming address vs its daily cap",
    unit: "msg",
    value: arrived,
    baselines: [{ name: "the day's cap C", value: C }],
    settings: `one pool, one address 127.0.0.2 (loopback), warm-up startedOn today with schedule [${C}], defaultPool; ${2 * C} emails to warm-<i>@example.net offered at once (${s.concurrency} in flight); relay to smtp-sink; counted by the sink`,
  };
}

const email = (to: string, text: string) => JSON.stringify({ channel: "email", from: BENCH_FROM, to, subject: emailSubject, text });

/** POST /v1/messages N times, `concurrency` in flight; every failure (a timeout included) is counted, none thrown. */
async function offer(workerUrl: string, key: string, body: (i: number) => string, n: number, concurrency: number): Promise<SendLog> {
  const log: SendLog = { statuses: {}, failures: {}, accepted: new Set(), ids: [] };
  await forEachConcurrent(n, concurrency, async (i) => {
    try {
      const response = await fetch(`${workerUrl}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: body(i),
        signal: AbortSignal.timeout(120_000),
      });
      const text = await response.text();
      if (!response.ok) return note(log, String(response.status), text);
      note(log, String(response.status));
      log.accepted.add(String(i));
      log.ids.push((JSON.parse(text) as { id: string }).id);
    } catch (error) {
      note(log, "error", String(error));
    }
  });
  return log;
}

function inWindow(sorted: number[], from: number, to: number): number {
  let count = 0;
  for (const t of sorted) if (t >= from && t < to) count++;
  return count;
}

/** A fresh account made by the platform admin: email relayed to the sink (plain SMTP), and the given delivery section. */
async function pooledAccount(stack: Stack, sink: SmtpSink, name: string, delivery: unknown): Promise<string> {
  const account = await api<{ apiKey: { key: string } }>(stack.workerUrl, DEV_ADMIN_KEY, "POST", "/v1/admin/accounts", { name });
  const key = (
    await api<{ key: string }>(stack.workerUrl, account.apiKey.key, "POST", "/v1/api-keys", {
      name,
      scopes: ["send", "read", "config:write"],
      ratePerSecond: 100_000,
    })
  ).key;
  await api(stack.workerUrl, key, "PUT", "/v1/email/settings", {
    sendingDomains: [BENCH_FROM.split("@")[1]],
    bounceDomain: "bounces.lasthop.test",
    relay: { mode: "smarthost", host: sink.host, port: sink.port, secure: false, requireTLS: false },
  });
  await api(stack.workerUrl, key, "PUT", "/v1/email/delivery", delivery);
  return key;
}

type TimelineEvent = { type: string; detail?: Record<string, unknown> };

/** Each message's status, read once (bounded in flight). */
async function readStatuses(workerUrl: string, key: string, ids: string[]) {
  const byId = new Map<string, string>();
  await forEachConcurrent(ids.length, 10, async (k) => {
    const id = ids[k]!;
    try {
      const response = await fetch(`${workerUrl}/v1/messages/${id}`, {
        headers: { authorization: `Bearer ${key}` },
        signal: AbortSignal.timeout(30_000),
      });
      byId.set(id, response.ok ? (((await response.json()) as { status?: string }).status ?? "?") : `HTTP ${response.status}`);
    } catch {
      byId.set(id, "error");
    }
  });
  const counts: Record<string, number> = {};
  for (const status of byId.values()) counts[status] = (counts[status] ?? 0) + 1;
  return { byId, counts };
}

/** The deferrals in some messages' timelines: how many, and their reasons and limits. */
async function sampleEvents(workerUrl: string, key: string, ids: string[]): Promise<{ summary: string }> {
  const reasons: Record<string, number> = {};
  let deferrals = 0;
  let withDeferral = 0;
  const retryIn: number[] = [];
  for (const id of ids) {
    let events: TimelineEvent[];
    try {
      const response = await fetch(`${workerUrl}/v1/messages/${id}`, {
        headers: { authorization: `Bearer ${key}` },
        signal: AbortSignal.timeout(30_000),
      });
      if (!response.ok) continue;
      events = (((await response.json()) as { events?: TimelineEvent[] }).events ?? []).filter((e) => e.type === "deferred");
    } catch {
      continue;
    }
    if (events.length) withDeferral++;
    deferrals += events.length;
    for (const e of events) {
      const label = `${String(e.detail?.reason)}/${String(e.detail?.limit)}`;
      reasons[label] = (reasons[label] ?? 0) + 1;
      if (typeof e.detail?.retryInSeconds === "number") retryIn.push(e.detail.retryInSeconds);
    }
  }
  const range = retryIn.length ? `, retryInSeconds ${Math.min(...retryIn)}–${Math.max(...retryIn)}` : "";
  return {
    summary: `${withDeferral} of ${ids.length} deferred at least once, ${deferrals} deferrals in all, reason/limit ${JSON.stringify(reasons)}${range}`,
  };
}
