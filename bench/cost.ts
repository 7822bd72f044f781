// Cost per message, per channel, from instrumentation: the stack runs with METER=1 (src/state/meter.ts
// counts Worker invocations, Durable Object requests and the time callers waited on them, Queue
// operations, subrequests and SQLite rows as the code runs); each case sends N messages, waits for
// their outcome and the feedback the case includes, waits until the counts stop moving, and divides
// the difference by N. The price list turns the counts into dollars per million messages, printed
// beside Amazon SES's $0.10 per 1,000 emails.
import { readdirSync, readFileSync } from "node:fs";
import { DEV_ADMIN_KEY, type Stack } from "../sandbox/stack.ts";
import { dsn } from "../test/dsn-fixture.ts";
import { deliver } from "./bounces.ts";
import { fcmSend } from "./fcm.ts";
import { api, forEachConcurrent, sleep } from "./net.ts";
import { webpushSend } from "./payloads.ts";
import { sendgridPool, type ProviderSecrets } from "./providers.ts";
import type { Figure } from "./report.ts";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";

/**
 * Cloudflare's published prices (Workers Paid, beyond the included amounts), USD. Workers: requests
 * and CPU time; Durable Objects: requests (each RPC call and alarm), duration at 128 MB, SQLite rows;
 * Queues: operations of 64 KB (a message is written, read and deleted). Subrequests are not billed.
 */
export const PRICES = {
  workerRequest: 0.3 / 1e6,
  workerCpuMs: 0.02 / 1e6,
  doRequest: 0.15 / 1e6,
  doGbSecond: 12.5 / 1e6,
  doMemoryGb: 0.128,
  sqlRowRead: 0.001 / 1e6,
  sqlRowWritten: 1.0 / 1e6,
  queueOperation: 0.4 / 1e6,
} as const;

/** Amazon SES: $0.10 per 1,000 emails sent (outbound, no attachments), per million. */
export const SES_PER_MILLION = 100;

export type CostSettings = { messages: number; concurrency: number };

type Counts = Record<string, number>;

/** What one message cost, in the meter's units, and the dollars per million messages. */
export type Cost = {
  perMessage: {
    workerInvocations: number;
    doRequests: number;
    queueOps: number;
    subrequests: number;
    rowsRead: number;
    rowsWritten: number;
    cpuMs: number;
  };
  perMillion: { total: number; workers: number; doRequests: number; doDuration: number; sqlite: number; queues: number };
};

/** Turns per-message counts into dollars per million messages, item by item. */
export function priced(diff: Counts, n: number, cpuMs: number): Cost {
  const sum = (match: (key: string) => boolean) =>
    Object.entries(diff)
      .filter(([k]) => match(k))
      .reduce((a, [, v]) => a + v, 0);
  const perMessage = {
    workerInvocations: sum((k) => /^worker\.[a-z]+$/.test(k)) / n,
    doRequests: sum((k) => /^do\.[A-Z_]+$/.test(k)) / n,
    queueOps: sum((k) => /^queue\.(write|read|delete)$/.test(k)) / n,
    subrequests: (diff.subrequest ?? 0) / n,
    rowsRead: (diff["sql.read"] ?? 0) / n,
    rowsWritten: (diff["sql.write"] ?? 0) / n,
    cpuMs: cpuMs / n,
  };
  const m = 1e6;
  const workers = m * (perMessage.workerInvocations * PRICES.workerRequest + perMessage.cpuMs * PRICES.workerCpuMs);
  const doRequests = m * perMessage.doRequests * PRICES.doRequest;
  // Objects are billed wall-clock while active; the runtime's CPU time stands in for it (local I/O waits are short).
  const doDuration = m * (perMessage.cpuMs / 1000) * PRICES.doMemoryGb * PRICES.doGbSecond;
  const sqlite = m * (perMessage.rowsRead * PRICES.sqlRowRead + perMessage.rowsWritten * PRICES.sqlRowWritten);
  const queues = m * perMessage.queueOps * PRICES.queueOperation;
  return {
    perMessage,
    perMillion: { total: workers + doRequests + doDuration + sqlite + queues, workers, doRequests, doDuration, sqlite, queues },
  };
}

/**
 * The bench's own requests to the stack (status polls, meter reads): not part of what a message
 * costs, so they are taken out of the counts (each a Worker invocation, a poll also a MessageDO get).
 */
const own = { polls: 0, meterReads: 0 };

async function meter(stack: Stack): Promise<Counts> {
  own.meterReads++;
  const res = await fetch(`${stack.workerUrl}/v1/admin/meter`, { headers: { authorization: `Bearer ${DEV_ADMIN_KEY}` } });
  if (!res.ok) throw new Error(`GET /v1/admin/meter: ${res.status} ${await res.text()} (does the stack run with METER=1?)`);
  return ((await res.json()) as { counts: Counts }).counts;
}

/** CPU time (ms) of each workerd process on the machine, by pid. */
function workerdCpuMs(): Map<string, number> {
  const byPid = new Map<string, number>();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "workerd") continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      byPid.set(pid, (Number(fields[11]) + Number(fields[12])) * 10); // utime + stime, in USER_HZ (100 on Linux)
    } catch {
      // The process ended meanwhile.
    }
  }
  return byPid;
}

/**
 * CPU used between two readings by the workerd processes alive at both (the stack's runtime): one
 * that started or ended in between (another program's tests) is not the stack's, and would make
 * the difference meaningless, even negative.
 */
function cpuBetween(before: Map<string, number>, after: Map<string, number>): number {
  let ms = 0;
  for (const [pid, at] of after) if (before.has(pid)) ms += at - before.get(pid)!;
  return ms;
}

/** Waits until the counts have not moved for `quietMs` (effects after the outcome: counters, events). */
async function settled(stack: Stack, quietMs = 1_500, boundMs = 60_000): Promise<Counts> {
  const deadline = Date.now() + boundMs;
  let last = JSON.stringify(await meter(stack));
  let since = Date.now();
  for (;;) {
    await sleep(250);
    const now = await meter(stack);
    // The meter reads themselves count worker.fetch: leave them out of "moving".
    const key = JSON.stringify({ ...now, "worker.fetch": 0 });
    if (key !== last) {
      last = key;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return now;
    if (Date.now() > deadline) return now;
  }
}

const diffOf = (before: Counts, after: Counts): Counts =>
  Object.fromEntries(Object.keys(after).map((k) => [k, (after[k] ?? 0) - (before[k] ?? 0)]));

/** The counts less the bench's own requests: `polls` status reads and `reads` meter reads (the last read's own count included). */
function withoutOwn(diff: Counts, polls: number, reads: number): Counts {
  const less = (key: string, n: number) => ({ [key]: Math.max(0, (diff[key] ?? 0) - n) });
  return {
    ...diff,
    ...less("worker.fetch", polls + reads),
    ...less("do.MESSAGE", polls),
    ...less("do.MESSAGE.get", polls),
  };
}

type Case = {
  name: string;
  channel: string;
  /** Sends (and, where the case includes it, the feedback); resolves once every message reached its outcome. */
  run: (n: number) => Promise<{ ids: string[]; note: string }>;
};

async function sendAll(stack: Stack, key: string, body: (i: number) => unknown, n: number, concurrency: number): Promise<string[]> {
  const ids: string[] = [];
  const run = `${Date.now()}`;
  await forEachConcurrent(n, concurrency, async (i) => {
    // As a careful client: a lost answer (a busy local runtime drops a few) is asked again under the same key.
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${stack.workerUrl}/v1/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "idempotency-key": `cost-${run}-${i}` },
        body: typeof body(i) === "string" ? (body(i) as string) : JSON.stringify(body(i)),
      });
      if (res.status === 202 || res.status === 200) {
        ids[i] = ((await res.json()) as { id: string }).id;
        return;
      }
      if (res.status < 500 || attempt === 3) throw new Error(`send ${i}: ${res.status} ${await res.text()}`);
    }
  });
  return ids;
}

async function untilStatus(stack: Stack, key: string, ids: string[], statuses: string[], boundMs = 300_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  const pending = new Set(ids);
  const seen: Record<string, string> = {};
  while (pending.size) {
    const round = [...pending];
    await forEachConcurrent(round.length, 5, async (i) => {
      const id = round[i]!;
      own.polls++;
      const res = await fetch(`${stack.workerUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${key}` } });
      seen[id] = res.ok ? ((await res.json()) as { status: string }).status : `http ${res.status}`;
      if (statuses.includes(seen[id]!)) pending.delete(id);
    });
    if (!pending.size) return;
    if (Date.now() > deadline) {
      const left = [...pending].map((id) => `${id}: ${seen[id]}`).slice(0, 10);
      throw new Error(`${pending.size} of ${ids.length} messages not ${statuses.join("/")} within ${boundMs} ms (${left.join(", ")})`);
    }
    await sleep(250);
  }
}

/**
 * The cases: web push and FCM (no feedback path); email through the relay with one DSN per message
 * back through the bridge's inbound SMTP (the worst case: every message bounces); email through the
 * SendGrid route with one signed `delivered` event per message, in SendGrid-style batches of 100.
 */
export async function costPerMessage(
  stack: Stack,
  apiKey: string,
  subscription: PushSubscriptionJson,
  providers: ProviderSecrets,
  s: CostSettings,
  notes: string[],
): Promise<Figure[]> {
  const sendgridKey = await sendgridAccount(stack, providers);
  const cases: Case[] = [
    {
      name: "web push",
      channel: "webpush",
      run: async (n) => {
        const ids = await sendAll(stack, apiKey, (i) => webpushSend(subscription, "cost", i), n, s.concurrency);
        await untilStatus(stack, apiKey, ids, ["accepted"]);
        return { ids, note: "send → push service accepted (no feedback path: a 410 comes back on the send)" };
      },
    },
    {
      name: "FCM",
      channel: "fcm",
      run: async (n) => {
        const ids = await sendAll(stack, apiKey, (i) => fcmSend(i), n, s.concurrency);
        await untilStatus(stack, apiKey, ids, ["accepted"]);
        return { ids, note: "send → FCM accepted" };
      },
    },
    {
      name: "email, relay, + 1 DSN each",
      channel: "email",
      run: async (n) => {
        // Fresh addresses each run: the warm-up's bounced ones are suppressed.
        const r = ++round;
        const ids = await sendAll(
          stack,
          apiKey,
          (i) => ({ channel: "email", from: "news@lasthop.test", to: `cost-${r}-${i}@example.net`, subject: "s", text: "t" }),
          n,
          s.concurrency,
        );
        await untilStatus(stack, apiKey, ids, ["accepted"]);
        const messages = ids.map((id, i) => ({ to: `bounce+${id}@bounces.lasthop.test`, raw: dsn(id, `cost-${r}-${i}@example.net`) }));
        const refused = await deliver(stack.inboundSmtp.host, stack.inboundSmtp.port, messages, 4);
        if (refused) throw new Error(`cost: ${refused} DSNs refused by the bridge`);
        await untilStatus(stack, apiKey, ids, ["bounced"]);
        return { ids, note: "send → relay → sink accepted, then a DSN per message → bridge inbound SMTP → bounced (suppression included)" };
      },
    },
    {
      name: "email, SendGrid route, + 1 event each",
      channel: "email",
      run: async (n) => {
        const r = ++round;
        // The case's own batched events are the feedback: the simulator's per-message webhooks
        // (posted to the stack's default account) are turned off meanwhile.
        const target = await sandboxTarget(stack);
        await fetch(`${stack.sandbox.httpUrl}/_sandbox/webhooks/target`, { method: "DELETE" });
        try {
          return await sendgridCase(n, r);
        } finally {
          if (target) await fetch(`${stack.sandbox.httpUrl}/_sandbox/webhooks/target`, { method: "PUT", body: JSON.stringify(target) });
        }
      },
    },
  ];

  async function sendgridCase(n: number, r: number): Promise<{ ids: string[]; note: string }> {
    const ids = await sendAll(
      stack,
      sendgridKey,
      (i) => ({
        channel: "email",
        from: "news@lasthop.test",
        to: `cost-sg-${r}-${i}@example.net`,
        subject: "s",
        text: "t",
        route: "sendgrid",
      }),
      n,
      s.concurrency,
    );
    await untilStatus(stack, sendgridKey, ids, ["accepted"]);
    const batches = Array.from({ length: Math.ceil(ids.length / 100) }, (_, r) =>
      sendgridPool(
        providers,
        1,
        Math.min(100, ids.length - r * 100),
        `cost-${Date.now()}-${r}`,
        ids.slice(r * 100, r * 100 + 100),
        "delivered",
      ),
    ).flat();
    for (const batch of batches) {
      const res = await fetch(`${stack.workerUrl}/v1/webhooks/sendgrid/${sendgridAccountId}`, {
        method: "POST",
        headers: batch.headers,
        body: batch.body,
      });
      if (!res.ok) throw new Error(`SendGrid events: ${res.status} ${await res.text()}`);
    }
    await untilStatus(stack, sendgridKey, ids, ["delivered"]);
    return {
      ids,
      note: "send → SendGrid simulator accepted, then one signed `delivered` event per message (batches of 100) → delivered",
    };
  }

  const figures: Figure[] = [];
  for (const c of cases) {
    await c.run(Math.min(10, s.messages)); // warm-up: isolates, caches, the objects' first open
    await settled(stack);
    const before = await meter(stack);
    const ownBefore = { ...own };
    const cpuBefore = workerdCpuMs();
    const { ids, note } = await c.run(s.messages);
    const after = await settled(stack);
    const cpu = cpuBetween(cpuBefore, workerdCpuMs());
    const diff = withoutOwn(diffOf(before, after), own.polls - ownBefore.polls, own.meterReads - ownBefore.meterReads);
    const cost = priced(diff, ids.length, cpu);
    const p = cost.perMessage;
    const $ = cost.perMillion;
    notes.push(
      `cost, ${c.name}: ${note}; per message ${p.workerInvocations.toFixed(2)} Worker invocations, ${p.doRequests.toFixed(2)} DO requests, ${p.queueOps.toFixed(2)} Queue ops, ${p.subrequests.toFixed(2)} subrequests, ${p.rowsRead.toFixed(1)} rows read, ${p.rowsWritten.toFixed(1)} rows written, ${p.cpuMs.toFixed(1)} ms workerd CPU; $/million: Workers ${$.workers.toFixed(2)}, DO requests ${$.doRequests.toFixed(2)}, DO duration ${$.doDuration.toFixed(2)}, SQLite ${$.sqlite.toFixed(2)}, Queues ${$.queues.toFixed(2)}; by DO method ${JSON.stringify(perMethod(diff, ids.length))}; rows written by table ${JSON.stringify(perTable(diff, ids.length))}`,
    );
    figures.push({
      name: `cost per million messages, ${c.name} (${c.channel}), from instrumentation`,
      unit: "$/M",
      value: $.total,
      baselines: [{ name: "Amazon SES, $0.10 per 1,000 emails", value: SES_PER_MILLION }],
      settings: `${ids.length} messages, ${s.concurrency} in flight; Cloudflare list prices; the bridge's own compute (a container, priced per instance-hour) not included`,
    });
  }
  return figures;
}

/** The sandbox's default webhook target (where its email simulators post), if one is set. */
async function sandboxTarget(stack: Stack): Promise<unknown> {
  const res = await fetch(`${stack.sandbox.httpUrl}/_sandbox/webhooks/target`);
  return res.ok ? res.json() : null;
}

let sendgridAccountId = "";
/** Each run's recipients are its own. */
let round = 0;

/** DO requests per message by binding and method, rounded (what a message costs where). */
function perMethod(diff: Counts, n: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(diff)
      .filter(([k, v]) => /^do\.[A-Z_]+\.[a-zA-Z]+$/.test(k) && v > 0)
      .map(([k, v]) => [k.slice(3), Math.round((v / n) * 100) / 100]),
  );
}

/** SQLite rows written per message by table (index rows included), largest first. */
function perTable(diff: Counts, n: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(diff)
      .filter(([k, v]) => k.startsWith("sql.write.") && v > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([k, v]) => [k.slice(10), Math.round((v / n) * 100) / 100]),
  );
}

/** A fresh account whose email goes through one SendGrid route, with SendGrid's event webhook configured. */
async function sendgridAccount(stack: Stack, providers: ProviderSecrets): Promise<string> {
  const account = await api<{ id: string; apiKey: { key: string } }>(stack.workerUrl, DEV_ADMIN_KEY, "POST", "/v1/admin/accounts", {
    name: "bench cost sendgrid",
  });
  sendgridAccountId = account.id;
  const key = (
    await api<{ key: string }>(stack.workerUrl, account.apiKey.key, "POST", "/v1/api-keys", {
      name: "bench cost",
      scopes: ["send", "read", "config:write"],
      ratePerSecond: 100_000,
    })
  ).key;
  const config = (await (await fetch(`${stack.sandbox.httpUrl}/_sandbox/esp/config`)).json()) as {
    sendgrid: { baseUrl: string; apiKey: string };
  };
  await api(stack.workerUrl, key, "PUT", "/v1/providers/sendgrid", {
    apiKey: config.sendgrid.apiKey,
    webhookPublicKey: providers.sendgridPublicKey,
  });
  await api(stack.workerUrl, key, "PUT", "/v1/email/settings", {
    sendingDomains: ["lasthop.test"],
    bounceDomain: "bounces.lasthop.test",
    relay: { mode: "direct" },
    routes: [{ name: "sendgrid", type: "sendgrid", baseUrl: config.sendgrid.baseUrl }],
  });
  return key;
}
