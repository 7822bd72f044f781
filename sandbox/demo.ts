// `npm run demo`: with the stack running (`npm start`), a realistic mix through the public API
// on every channel, to sandbox recipients chosen for every outcome; a progress bar while the
// feedback arrives; then the summary, by channel and case, from lasthop's own view beside what
// the simulators and the event-stream receiver saw. A client of the API and of the sandbox's
// control API only, as any developer's script would be.
import { randomInt } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Outcome, type Plan, planMix, type Row, STOP_CASE } from "./demo-mix.ts";
import { count, type Out, Progress, renderTable, type RowSummary, sameCounts } from "./demo-report.ts";
import {
  type Arrival,
  eventsByMessage,
  lasthopOutcome,
  type MessageView,
  receiverOutcome,
  type SentWebhook,
  settled,
  simulatorEvidence,
  simulatorOutcome,
} from "./demo-views.ts";

export type DemoOptions = {
  workerUrl: string;
  sandboxUrl: string;
  apiKey: string;
  /** The account the key belongs to; the sandbox's provider webhooks must post to it. */
  account: string;
  /** Where progress and the summary go (default: nowhere). A terminal (`isTTY`) gets a redrawn bar. */
  out?: Out;
  /**
   * How long the demo waits while nothing moves (no message settles or is confirmed) before it
   * gives up and says what is pending. Default 60 s; the whole wait is capped at ten times that.
   */
  timeoutMs?: number;
  /** Six digits in this run's recipients and Idempotency-Keys. Default random: every run sends to new recipients. */
  runId?: string;
  /** The sandbox hook the account's event endpoint posts to. Default "dev" (what `npm start` connects). */
  receiver?: string;
  /** The account's SMS sender (MO STOP is sent to it). Default +15005550006. */
  smsSender?: string;
  /** A From address on the account's sending domain. Default news@lasthop.test. */
  emailFrom?: string;
  /** Hosted email routes to pin sends to. Default sendgrid and postmark. */
  espRoutes?: string[];
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
};

export type MessageSummary = {
  key: string;
  id: string;
  channel: string;
  case: string;
  expected: Outcome;
  lasthop: Outcome;
  simulators: Outcome;
  receiver: Outcome;
};

export type DemoSummary = {
  runId: string;
  account: string;
  total: number;
  rows: RowSummary[];
  messages: MessageSummary[];
  /** Every row agrees across the three views and with its expected outcome. */
  ok: boolean;
  /** Messages that had not settled, or whose views still differ, when the wait ended. */
  pending: string[];
  elapsedMs: number;
  /** At the end, the messages the search (GET /v1/messages) showed in another state than their own read, or missed; null without a search. */
  searchDiffers: { otherState: number; missing: number } | null;
};

/** The stack is not there or not set up as the demo needs; the message says what to do. */
export class DemoError extends Error {}

const POLL_MS = 500;
/** Tries of one request that keeps meeting the key's rate limit. */
const MAX_THROTTLED = 5;
/** The search's pages read per poll (100 messages each): the demo's own and whatever else was sent meanwhile. */
const MAX_SEARCH_PAGES = 20;
/** Messages read in full per poll while waiting (with the search, well within the key's 100 requests/s). */
const MAX_READS_PER_POLL = 25;

/** How far a state is: not yet with the last hop, with it, or at an end. */
function rank(status: string | undefined): number {
  if (status === undefined) return -1;
  if (status === "accepted") return 1;
  return ["queued", "sending", "deferred"].includes(status) ? 0 : 2;
}
const DEFAULTS = {
  workerUrl: "http://127.0.0.1:8787",
  sandboxUrl: "http://127.0.0.1:8791",
  apiKey: "dev-key-lasthop",
  account: "dev",
};

export async function runDemo(opts: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  const out = opts.out ?? { write: () => undefined };
  const say = (line: string) => out.write(`${line}\n`);
  const runId = opts.runId ?? String(randomInt(0, 1_000_000)).padStart(6, "0");
  if (!/^\d{6}$/.test(runId)) throw new DemoError("runId must be 6 digits (it goes into phone numbers)");
  const stallMs = opts.timeoutMs ?? 60_000;
  if (!(stallMs > 0)) throw new DemoError("timeoutMs must be a positive number of milliseconds (--timeout in seconds)");
  const receiver = opts.receiver ?? "dev";
  const smsSender = opts.smsSender ?? "+15005550006";
  const espRoutes = opts.espRoutes ?? ["sendgrid", "postmark"];
  const client = new Client(opts.workerUrl, opts.sandboxUrl, opts.apiKey, opts.concurrency ?? 8);

  await preflight(client, opts, receiver, espRoutes);
  const { plans, rows } = await planMix(
    {
      subscription: async (name) => (await client.sandbox("POST", "/_sandbox/webpush/subscriptions", { name })) as never,
      apnsToken: async (name) => ((await client.sandbox("POST", "/_sandbox/apns/tokens", { name })) as { token: string }).token,
    },
    { runId, smsSender, emailFrom: opts.emailFrom ?? "news@lasthop.test", espRoutes },
  );
  say(`lasthop demo, run ${runId}: ${plans.length} messages for account "${opts.account}" at ${opts.workerUrl}`);

  // The opt-outs first: each handset texts STOP, and its send must then be held back.
  const stops = plans.filter((p) => p.case === STOP_CASE);
  say(`  ${stops.length} handsets text STOP to ${smsSender} (through the sandbox SMSC)`);
  for (const p of stops) await client.sandbox("POST", "/_sandbox/sms/mo", { from: p.recipient, to: smsSender, body: "STOP" });
  const deadline = Date.now() + stallMs;
  for (const p of stops) {
    const path = `/v1/suppressions/sms/${encodeURIComponent(`${p.recipient}:${smsSender}`)}`;
    while ((await client.api("GET", path)).status !== 200) {
      if (Date.now() > deadline) throw new DemoError(`the STOP from ${p.recipient} never became a suppression (${path})`);
      await sleep(100);
    }
  }

  say(`  sending ${plans.length} messages (Idempotency-Key demo-${runId}-<n>)`);
  const ids = new Map<Plan, string>();
  const sendStart = Date.now();
  await client.each(plans, async (p) => ids.set(p, await client.send(p)));

  // Wait for the feedback: each message settled in lasthop, and the simulators and the receiver agreeing.
  // The search's lower bound: a little before the first send, in case the clocks differ by a hair.
  const since = new Date(sendStart - 5_000).toISOString();
  const progress = new Progress(out);
  const views = new Map<Plan, MessageView & { readAt?: number }>();
  const cap = Date.now() + 10 * stallMs;
  let moved = Date.now();
  let last = "";
  let stalled = false;
  for (;;) {
    const snapshot = await observe(client, plans, ids, views, receiver, since);
    const done = snapshot.filter((m) => settled(m.plan, m.lasthop)).length;
    const agreed = snapshot.filter((m) => settled(m.plan, m.lasthop) && m.simulators === m.lasthop && m.receiver === m.lasthop).length;
    progress.update(done, plans.length, count(snapshot.map((m) => m.lasthop)), `(${agreed} confirmed by simulators and receiver)`);
    if (agreed === plans.length) break;
    const state = snapshot.map((m) => `${m.lasthop}${m.simulators}${m.receiver}`).join();
    if (state !== last) [last, moved] = [state, Date.now()];
    if (Date.now() - moved > stallMs || Date.now() > cap) {
      stalled = true;
      break;
    }
    await sleep(POLL_MS);
  }
  progress.done();
  if (stalled) say(`  gave up waiting: nothing moved for ${Math.round(stallMs / 1000)} s (--timeout)`);

  // The summary from fresh reads of every message: lasthop's own view, in full.
  const fullViews = new Map<Plan, MessageView>();
  const final = await observe(client, plans, ids, fullViews, receiver, null);
  // The search's rows, which should agree with each message's own read now that everything settled.
  const indexed = await client.statuses(since);
  const searchDiffers = indexed
    ? {
        otherState: plans.filter((p) => indexed.has(ids.get(p)!) && indexed.get(ids.get(p)!) !== fullViews.get(p)?.status).length,
        missing: plans.filter((p) => !indexed.has(ids.get(p)!)).length,
      }
    : null;
  const { summaries, pending } = summarize(rows, final);
  const ok = summaries.every((r) => r.ok);

  say("");
  say(renderTable(summaries));
  say("");
  say("accepted: the last hop took custody; web push, FCM, APNs and relayed mail send no delivery receipt.");
  say("delivered: a receipt said so (an SMS DLR or Twilio callback, a provider's webhook). simulators: nothing arrived = suppressed.");
  if (pending.length > 0) {
    say("");
    say(`${pending.length} message(s) not as expected after ${Math.round((Date.now() - started) / 1000)} s:`);
    for (const line of pending.slice(0, 20)) say(`  ${line}`);
    if (pending.length > 20) say(`  … and ${pending.length - 20} more`);
  }
  say("");
  say(
    ok
      ? `ok: ${plans.length} messages, lasthop's view equals the simulators' and the receiver's (${((Date.now() - started) / 1000).toFixed(1)} s)`
      : "MISMATCH: see the rows marked above",
  );
  if (searchDiffers && (searchDiffers.otherState || searchDiffers.missing))
    say(
      `note: GET /v1/messages (the search) showed ${searchDiffers.otherState} of them in another state than GET /v1/messages/:id, and missed ${searchDiffers.missing}`,
    );
  say(`watch them: ${opts.workerUrl}/dashboard`);

  return {
    runId,
    account: opts.account,
    total: plans.length,
    rows: summaries,
    messages: final.map((m) => ({
      key: m.plan.key,
      id: m.id,
      channel: m.plan.channel,
      case: m.plan.case,
      expected: m.plan.expected,
      lasthop: m.lasthop,
      simulators: m.simulators,
      receiver: m.receiver,
    })),
    ok,
    pending,
    elapsedMs: Date.now() - started,
    searchDiffers,
  };
}

/** The rows (each view's counts, and whether they agree with each other and the case) and the messages not as expected. */
function summarize(rows: readonly Row[], final: readonly Observed[]): { summaries: RowSummary[]; pending: string[] } {
  const summaries = rows.map((row): RowSummary => {
    const mine = final.filter((m) => m.plan.channel === row.channel && m.plan.case === row.case);
    const lasthop = count(mine.map((m) => m.lasthop));
    const simulators = count(mine.map((m) => m.simulators));
    const receiver = count(mine.map((m) => m.receiver));
    const ok = (lasthop[row.expected] ?? 0) === mine.length && sameCounts(lasthop, simulators) && sameCounts(lasthop, receiver);
    return { ...row, sent: mine.length, lasthop, simulators, receiver, ok };
  });
  const pending = final
    .filter((m) => !(m.lasthop === m.plan.expected && m.simulators === m.lasthop && m.receiver === m.lasthop))
    .map(
      (m) =>
        `${m.plan.channel} / ${m.plan.case}: ${m.id} to ${m.plan.recipient} expected ${m.plan.expected}; ` +
        `lasthop ${m.lasthop} (${m.timeline}), simulators ${m.simulators} (${m.evidence}), receiver ${m.receiver} (${m.events})`,
    );
  return { summaries, pending };
}

type Observed = {
  plan: Plan;
  id: string;
  lasthop: Outcome;
  simulators: Outcome;
  receiver: Outcome;
  /** What each outcome was read from, to say why when a message is not as expected. */
  timeline: string;
  evidence: string;
  events: string;
};

/**
 * The three views of every message now. While waiting (`since`: the run's start), lasthop's
 * states come first from its message search (a request or two per poll); the messages still
 * unsettled are then read in full, the least recently read first and at most MAX_READS_PER_POLL
 * a poll, so the key's rate holds. `since` null reads every message in full.
 */
async function observe(
  client: Client,
  plans: readonly Plan[],
  ids: ReadonlyMap<Plan, string>,
  views: Map<Plan, MessageView & { readAt?: number }>,
  receiver: string,
  since: string | null,
): Promise<Observed[]> {
  const statuses = since === null ? null : await client.statuses(since);
  for (const p of plans) {
    const status = statuses?.get(ids.get(p)!);
    // The index follows the message a little behind: it may only move a view forward.
    if (status !== undefined && rank(status) > rank(views.get(p)?.status)) views.set(p, { id: ids.get(p)!, status });
  }
  const read =
    since === null
      ? plans
      : plans
          .filter((p) => !settled(p, lasthopOutcome(views.get(p))))
          .sort((a, b) => (views.get(a)?.readAt ?? 0) - (views.get(b)?.readAt ?? 0))
          .slice(0, MAX_READS_PER_POLL);
  await client.each(read, async (p) => {
    // A read that fails (wrangler dev restarting an isolate) leaves the last view for the next poll.
    const res = await client.api("GET", `/v1/messages/${ids.get(p)}`).catch(() => null);
    if (res?.status === 200 && typeof res.body === "object") views.set(p, { ...(res.body as MessageView), readAt: Date.now() });
  });
  const [arrivals, webhooks, hook] = await Promise.all([
    client.sandbox("GET", "/_sandbox/received") as Promise<Arrival[]>,
    client.sandbox("GET", "/_sandbox/webhooks/sent") as Promise<SentWebhook[]>,
    client.sandbox("GET", `/_sandbox/hooks/${encodeURIComponent(receiver)}/received`) as Promise<{ received: Array<{ body: string }> }>,
  ]);
  const events = eventsByMessage(hook.received);
  return plans.map((plan) => {
    const id = ids.get(plan)!;
    return {
      plan,
      id,
      lasthop: lasthopOutcome(views.get(plan)),
      simulators: simulatorOutcome(plan, arrivals, webhooks),
      receiver: receiverOutcome(events.get(id)),
      timeline:
        views
          .get(plan)
          ?.events?.map((e) => e.type)
          .join(" → ") ?? "not read",
      evidence: simulatorEvidence(plan, arrivals, webhooks),
      events: events.get(id)?.join(", ") ?? "no events",
    };
  });
}

/** The stack answers, the key works, and the account has what the mix needs: else a DemoError saying what to do. */
async function preflight(client: Client, opts: DemoOptions, receiver: string, espRoutes: readonly string[]): Promise<void> {
  const start = "Start it with `npm start` and run `npm run demo` in a second terminal";
  for (const [what, url] of [
    ["lasthop", `${opts.workerUrl}/healthz`],
    ["the sandbox", `${opts.sandboxUrl}/healthz`],
  ] as const) {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) }).catch((e: unknown) => e as Error);
    if (res instanceof Error) throw new DemoError(`${what} is not running at ${url} (${res.cause ?? res.message}). ${start}.`);
    await res.body?.cancel();
    if (!res.ok) throw new DemoError(`${what} answered ${res.status} at ${url}. ${start}.`);
  }
  const routes = await client.api("GET", "/v1/routes");
  if (routes.status === 401 || routes.status === 403)
    throw new DemoError(
      `the API key was refused (${routes.status} ${JSON.stringify(routes.body)}); pass the account's key with --key or LASTHOP_API_KEY`,
    );
  if (routes.status !== 200) throw new DemoError(`GET /v1/routes answered ${routes.status}: ${JSON.stringify(routes.body)}`);
  const names = new Set(((routes.body as { email?: Array<{ name: string }> }).email ?? []).map((r) => r.name));
  const missing = ["relay", ...espRoutes].filter((name) => !names.has(name));
  if (missing.length > 0)
    throw new DemoError(
      `the account has no email route ${missing.join(", ")} (it has ${[...names].join(", ") || "none"}); \`npm start\` configures one of each type`,
    );
  const endpoints = await client.api("GET", "/v1/webhook-endpoints");
  const hookUrl = `${new URL(opts.sandboxUrl).origin}/_sandbox/hooks/${receiver}`;
  const data = (endpoints.body as { data?: Array<{ url: string; enabled?: boolean }> } | null)?.data ?? [];
  if (!data.some((e) => e.url === hookUrl))
    throw new DemoError(`the account has no event endpoint at the sandbox receiver ${hookUrl}; \`npm start\` connects it`);
  const target = await fetch(`${opts.sandboxUrl}/_sandbox/webhooks/target`);
  const body = (await target.json().catch(() => null)) as { account?: string } | null;
  if (!target.ok || body?.account !== opts.account)
    throw new DemoError(
      `the sandbox's provider webhooks post to ${body?.account ? `account "${body.account}"` : "no account"}, not "${opts.account}"`,
    );
}

/** The demo's two doors: the public API (with the account's key) and the sandbox's control API. */
class Client {
  readonly #worker: string;
  readonly #sandbox: string;
  readonly #key: string;
  readonly #concurrency: number;

  constructor(worker: string, sandbox: string, key: string, concurrency: number) {
    this.#worker = worker.replace(/\/$/, "");
    this.#sandbox = sandbox.replace(/\/$/, "");
    this.#key = key;
    this.#concurrency = concurrency;
  }

  async api(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    // A 429 (the key's rate, 100 requests/s by default) is waited out as its Retry-After says, a few times.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${this.#worker}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.#key}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (res.status === 429 && attempt < MAX_THROTTLED) {
        const seconds = Number(res.headers.get("retry-after"));
        await sleep(Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, 10) * 1000 : 1000);
        continue;
      }
      return { status: res.status, body: parseJson(text) };
    }
  }

  async sandbox(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.#sandbox}${path}`, {
      method,
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new DemoError(`sandbox ${method} ${path}: ${res.status} ${text}`);
    return parseJson(text);
  }

  /** One send, as a careful client makes it: a lost answer or a 5xx is retried with the same Idempotency-Key. */
  async send(plan: Plan): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.api("POST", "/v1/messages", plan.body, { "idempotency-key": plan.key }).catch((e: unknown) => e as Error);
      const retry = res instanceof Error || res.status >= 500;
      if (retry && attempt < 3) continue;
      if (res instanceof Error) throw new DemoError(`POST /v1/messages (${plan.channel}, ${plan.case}): ${res.message}`);
      // 200 is the replay of a key already used: the same message, not a second one.
      if (res.status !== 202 && res.status !== 200)
        throw new DemoError(`POST /v1/messages (${plan.channel}, ${plan.case}) answered ${res.status}: ${JSON.stringify(res.body)}`);
      return (res.body as { id: string }).id;
    }
  }

  /**
   * Message id -> state of every message created since `since` (GET /v1/messages, newest first,
   * page by page); null when the search is not there or failed, so the caller reads one by one.
   */
  async statuses(since: string): Promise<Map<string, string> | null> {
    const out = new Map<string, string>();
    let cursor: string | null = null;
    for (let page = 0; page < MAX_SEARCH_PAGES; page++) {
      const query = new URLSearchParams({ from: since, limit: "100", ...(cursor ? { cursor } : {}) });
      const res = await this.api("GET", `/v1/messages?${query}`).catch(() => null);
      if (res?.status !== 200) return null;
      const body = res.body as { data: Array<{ id: string; status: string }>; nextCursor: string | null };
      for (const row of body.data) out.set(row.id, row.status);
      cursor = body.nextCursor;
      if (!cursor) return out;
    }
    return out;
  }

  /** `work` on every item, at most `concurrency` at once. */
  async each<T>(items: readonly T[], work: (item: T) => Promise<unknown>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await work(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, items.length) }, worker));
  }
}

/** JSON, or the text itself when it is not (a proxy's or a runtime's plain-text error). */
function parseJson(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      worker: { type: "string" },
      sandbox: { type: "string" },
      key: { type: "string" },
      account: { type: "string" },
      receiver: { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`npm run demo [-- --worker URL --sandbox URL --key KEY --account NAME --receiver HOOK --timeout SECONDS]
  defaults: ${DEFAULTS.workerUrl}, ${DEFAULTS.sandboxUrl}, ${DEFAULTS.apiKey}, ${DEFAULTS.account}, dev, 60
  --timeout: how long to wait while nothing moves (no message settles) before reporting what is pending
  env: LASTHOP_URL, LASTHOP_SANDBOX_URL, LASTHOP_API_KEY, LASTHOP_ACCOUNT`);
    return;
  }
  const env = process.env;
  try {
    const summary = await runDemo({
      workerUrl: values.worker ?? env.LASTHOP_URL ?? DEFAULTS.workerUrl,
      sandboxUrl: values.sandbox ?? env.LASTHOP_SANDBOX_URL ?? DEFAULTS.sandboxUrl,
      apiKey: values.key ?? env.LASTHOP_API_KEY ?? DEFAULTS.apiKey,
      account: values.account ?? env.LASTHOP_ACCOUNT ?? DEFAULTS.account,
      ...(values.receiver ? { receiver: values.receiver } : {}),
      ...(values.timeout ? { timeoutMs: Number(values.timeout) * 1000 } : {}),
      out: process.stdout,
    });
    process.exitCode = summary.ok ? 0 : 1;
  } catch (error) {
    if (!(error instanceof DemoError)) throw error;
    console.error(`demo: ${error.message}`);
    process.exitCode = 2;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
