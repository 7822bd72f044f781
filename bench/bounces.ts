// Issue 5's figures: bounces parsed and classified per second over the bounce corpus (test/fixtures/bounces), and
// DSNs per second through the bridge's inbound SMTP to applied state (`bounced` in the
// MessageDO), each beside a same-run baseline.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";
import { parseFeedbackMessage } from "../src/core/bounce/parse.ts";
import PostalMime from "postal-mime";
import type { Stack } from "../sandbox/stack.ts";
import { EDGE_EMAIL_INBOUND_PATH } from "../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../src/core/standard-webhooks.ts";
import { dsn } from "../test/dsn-fixture.ts";
import { forEachConcurrent } from "./net.ts";
import type { Figure } from "./report.ts";

const CORPUS = process.env.BOUNCE_CORPUS ?? fileURLToPath(new URL("../test/fixtures/bounces/emails", import.meta.url));

/** Parse + classify every corpus message `rounds` times; baseline: postal-mime's parse alone (our floor). */
export async function bouncesParsed(rounds = 8): Promise<Figure> {
  const files = readdirSync(CORPUS)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => readFileSync(join(CORPUS, f)));
  const time = async (work: (raw: Buffer) => Promise<unknown>) => {
    for (const raw of files) await work(raw); // warm-up
    const started = performance.now();
    for (let r = 0; r < rounds; r++) for (const raw of files) await work(raw);
    return (files.length * rounds) / ((performance.now() - started) / 1000);
  };
  const floor = await time((raw) => PostalMime.parse(raw));
  const ours = await time((raw) => parseFeedbackMessage(raw));
  return {
    name: "bounces parsed + classified/s (corpus)",
    unit: "msg/s",
    value: ours,
    baselines: [
      { name: "postal-mime parse alone (the MIME floor we build on)", value: floor },
      { name: "Sisimai Go port, published (~1,200/s; not this machine)", value: 1200 },
    ],
    settings: `${files.length} real messages × ${rounds} rounds, one at a time`,
  };
}

/**
 * Sends each message in an SMTP transaction of its own over `concurrency` connections: a new
 * connection per message, or (`reuse`) each connection kept for its share of the messages
 * with RSET between transactions, as an MTA with a backlog for one destination does.
 */
export async function deliver(
  host: string,
  port: number,
  messages: Array<{ to: string; raw: string }>,
  concurrency: number,
  reuse = false,
): Promise<number> {
  let refused = 0;
  const open = async () => {
    const conn = new SMTPConnection({ host, port, ignoreTLS: true, socketTimeout: 30_000 });
    await new Promise<void>((resolve, reject) => conn.connect((err?: Error) => (err ? reject(err) : resolve())));
    return conn;
  };
  const send = (conn: SMTPConnection, { to, raw }: { to: string; raw: string }) =>
    new Promise<void>((resolve) =>
      conn.send({ from: "", to: [to] }, raw, (err: Error | null) => {
        if (err) refused++;
        resolve();
      }),
    );
  if (!reuse) {
    await forEachConcurrent(messages.length, concurrency, async (i) => {
      const conn = await open();
      await send(conn, messages[i]!);
      conn.quit();
    });
    return refused;
  }
  let next = 0;
  const lane = async () => {
    const conn = await open();
    while (next < messages.length) {
      await send(conn, messages[next++]!);
      await new Promise<void>((resolve) => conn.reset(() => resolve()));
    }
    conn.quit();
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, lane));
  return refused;
}

/**
 * For each N in `sizes`: N DSNs (each about a distinct message) by SMTP to the bridge's inbound
 * server until all N messages read `bounced`; baseline: the same N DSNs, same client and
 * concurrency, into smtp-sink (the loopback SMTP limit). The settings say when the last sender
 * heard 250 (the edge had custody of every DSN) apart from when the last message read bounced.
 */
export async function inboundBounces(
  stack: Stack,
  apiKey: string,
  sink: { host: string; port: number },
  runs: ReadonlyArray<{ n: number; reuse: boolean }> = [
    { n: 1, reuse: false },
    { n: 10, reuse: false },
    { n: 100, reuse: false },
    { n: 100, reuse: true },
  ],
  concurrency = 4,
): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const { n, reuse } of runs) figures.push(await inboundRun(stack, apiKey, sink, n, concurrency, reuse));
  return figures;
}

/** The bench account's messages through the API: made fresh for each run, then watched until a status. */
function messagesOf(stack: Stack, apiKey: string) {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.workerUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" } });
  const create = async (n: number, tag: string) => {
    const ids: string[] = [];
    await forEachConcurrent(n, 8, async (i) => {
      // Setup, not timed: a busy local runtime sometimes drops a connection, so each send is tried up to 3 times.
      for (let attempt = 1; ; attempt++) {
        try {
          const res = await api("/v1/messages", {
            method: "POST",
            body: JSON.stringify({
              channel: "email",
              from: "news@lasthop.test",
              to: `dsn-${tag}-${i}@example.net`,
              subject: "s",
              text: "t",
            }),
          });
          const body = (await res.json()) as { id?: string };
          if (res.status !== 202 || !body.id)
            throw new Error(`POST /v1/messages answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
          ids[i] = body.id;
          return;
        } catch (error) {
          console.error(`bench: a DSN's message, try ${attempt} of 3: ${String(error)}`);
          if (attempt === 3) return; // left out of the run (the figure counts the messages it has)
        }
      }
    });
    return ids.filter((id) => id !== undefined);
  };
  const statusOf = async (id: string) => {
    try {
      return ((await (await api(`/v1/messages/${id}`)).json()) as { status: string }).status;
    } catch {
      return "unknown"; // asked again on the next round
    }
  };
  /** Polls only what is still pending, 4 at a time (the polls share the machine with what they watch); returns how many never got there. */
  const waitAll = async (ids: readonly string[], status: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    let pending = [...ids];
    while (pending.length && Date.now() < deadline) {
      const seen = new Array<string>(pending.length);
      await forEachConcurrent(pending.length, 4, async (k) => {
        seen[k] = await statusOf(pending[k]!);
      });
      pending = pending.filter((_, k) => seen[k] !== status);
      if (pending.length) await new Promise((r) => setTimeout(r, 20));
    }
    return pending.length;
  };
  return { create, waitAll };
}

async function inboundRun(
  stack: Stack,
  apiKey: string,
  sink: { host: string; port: number },
  n: number,
  concurrency: number,
  reuse: boolean,
): Promise<Figure> {
  const { create, waitAll } = messagesOf(stack, apiKey);
  const tag = `${n}${reuse ? "r" : ""}`;
  const ids = await create(n, tag);
  const made = ids.length; // < n only when a send was refused 3 times (each logged)
  await waitAll(ids, "accepted", 60_000);
  const messages = ids.map((id, i) => ({ to: `bounce+${id}@bounces.lasthop.test`, raw: dsn(id, `dsn-${tag}-${i}@example.net`) }));

  let started = performance.now();
  await deliver(
    sink.host,
    sink.port,
    messages.map((m) => ({ ...m, to: "x@sink.test" })),
    concurrency,
    reuse,
  );
  const baseline = made / ((performance.now() - started) / 1000);

  started = performance.now();
  const refused = await deliver(stack.inboundSmtp.host, stack.inboundSmtp.port, messages, concurrency, reuse);
  const custody = (performance.now() - started) / 1000;
  const left = await waitAll(ids, "bounced", 60_000);
  const ours = (made - left) / ((performance.now() - started) / 1000);
  return {
    name: `inbound DSNs/s: SMTP → bridge → edge → applied (bounced), ${n} DSN${n === 1 ? "" : "s"}${reuse ? ", connections reused" : ""}`,
    unit: "msg/s",
    value: ours,
    baselines: [{ name: "the same DSNs, same client, into smtp-sink (loopback SMTP limit)", value: baseline }],
    settings: `${made} DSNs about ${made} distinct messages${made < n ? ` (${n - made} of ${n} sends refused)` : ""}, ${concurrency} SMTP connections, ${reuse ? "each kept for its share (RSET between transactions)" : "a new one per DSN"}; every 250 after ${custody.toFixed(2)} s (${(made / custody).toFixed(0)}/s to the edge's custody); ${refused} refused, ${left} not applied within 60 s`,
  };
}

/**
 * The edge alone: N DSNs (fresh messages each run) signed and posted to /v1/inbound/email by
 * the bench itself, `inFlight` POSTs at a time, either one DSN per POST (the baseline: what the
 * bridge sent before it batched) or `batch` per POST; timed until every POST was answered 202
 * (custody), then until every message reads bounced (applied).
 */
export async function inboundEdge(stack: Stack, apiKey: string, webhookSecret: string, n = 100, batch = 10, inFlight = 4): Promise<Figure> {
  const { create, waitAll } = messagesOf(stack, apiKey);
  const key = await doorSecret(webhookSecret, EDGE_EMAIL_INBOUND_PATH);
  const run = async (perPost: number, tag: string) => {
    const ids = await create(n, tag);
    await waitAll(ids, "accepted", 60_000);
    const items = ids.map((id, i) => ({
      to: `bounce+${id}@bounces.lasthop.test`,
      from: "",
      raw: Buffer.from(dsn(id, `dsn-${tag}-${i}@example.net`)).toString("base64"),
    }));
    const bodies: string[] = [];
    for (let i = 0; i < items.length; i += perPost)
      bodies.push(JSON.stringify(perPost === 1 ? items[i] : { messages: items.slice(i, i + perPost) }));
    let refused = 0;
    const started = performance.now();
    await forEachConcurrent(bodies.length, inFlight, async (k) => {
      const res = await fetch(`${stack.workerUrl}${EDGE_EMAIL_INBOUND_PATH}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(await signedHeaders(key, bodies[k]!)) },
        body: bodies[k]!,
      });
      await res.text();
      if (res.status !== 202) refused++;
    });
    const custody = (performance.now() - started) / 1000;
    const left = await waitAll(ids, "bounced", 60_000);
    const applied = (performance.now() - started) / 1000;
    return { custody, applied, left, refused, made: ids.length };
  };
  const single = await run(1, "edge1");
  const batched = await run(batch, `edge${batch}`);
  const say = (r: typeof single) =>
    `custody ${r.custody.toFixed(2)} s, all bounced ${r.applied.toFixed(2)} s (${(r.made / r.applied).toFixed(1)}/s), ${r.refused} refused, ${r.left} not applied${r.made < n ? `, ${n - r.made} of ${n} sends refused` : ""}`;
  return {
    name: `inbound DSNs/s taken by the edge (signed POSTs straight to /v1/inbound/email), ${batch} per POST`,
    unit: "msg/s",
    value: batched.made / batched.custody,
    baselines: [{ name: "the same, one DSN per POST (the bridge before batching)", value: single.made / single.custody }],
    settings: `${n} DSNs about ${n} distinct messages each, ${inFlight} POSTs in flight. Batched: ${say(batched)}. One per POST: ${say(single)}`,
  };
}
