// SMTP: Postfix's smtp-sink as the one receiving MTA for every sender (the bridge, Postfix's
// smtp-source, nodemailer, lasthop end to end), with its running counter (-c) read from a pipe
// so each run can be checked against what the sink itself counted; the messages; and the
// senders that are not the bridge.
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import nodemailer from "nodemailer";
import { signMessage } from "../bridge/src/smtp/dkim.ts";
import type { DkimKey, SmtpBatch } from "../src/core/bridge.ts";
import { BRIDGE_SMTP_PATH } from "../src/core/bridge.ts";
import { probePort } from "../sandbox/ports.ts";
import { doorSecret, signedHeaders } from "../src/core/standard-webhooks.ts";
import { postBridgeBatches, type BridgeLog } from "./apns.ts";
import { note, type SendLog } from "./e2e.ts";
import { forEachConcurrent, sleep } from "./net.ts";

export const SMTP_SINK = "/usr/sbin/smtp-sink";
export const SMTP_SOURCE = "/usr/sbin/smtp-source";

export const BENCH_FROM = "news@lasthop.test";
export const BENCH_BOUNCE_DOMAIN = "bounces.lasthop.test";
export const BENCH_HELO = "bench.lasthop.test";
export const benchRecipient = (i: number) => `bench-${String(i).padStart(6, "0")}@example.net`;
export const verp = (id: string) => `bounce+${id}@${BENCH_BOUNCE_DOMAIN}`;

export type SmtpSink = {
  host: string;
  port: number;
  /** Messages the sink has counted so far (its "mesg=" counter: one per "." received). */
  messages(): number;
  /** performance.now() at the moment the counter reached `count` (read as the pipe delivered it), or null after `timeoutMs`. */
  reached(count: number, timeoutMs: number): Promise<number | null>;
  /** The counter once it has not moved for `quietMs` (bounded by `timeoutMs`). */
  settled(quietMs: number, timeoutMs: number): Promise<number>;
  /**
   * Calls `listener(count, at)` each time the counter moves (at: performance.now() as the pipe
   * delivered it; a counter that moved by k in one read is k arrivals at that moment); returns the unsubscribe.
   */
  onCount(listener: (count: number, at: number) => void): () => void;
  /** Anything the sink wrote on stderr (nothing, normally). */
  stderr(): string;
  close(): Promise<void>;
};

/**
 * `smtp-sink -c 127.0.0.1:<port> 256` (with `-u postfix` as root, which it requires), no dump
 * (-d) so it only speaks SMTP. -c rewrites `sess=N quit=N mesg=N` ending in CR after every
 * session end, QUIT and "."; the last complete one is the count.
 */
export async function startSmtpSink(port: number): Promise<SmtpSink> {
  const args = [...(process.getuid?.() === 0 ? ["-u", "postfix"] : []), "-c", `127.0.0.1:${port}`, "256"];
  const child: ChildProcess = spawn(SMTP_SINK, args, { stdio: ["ignore", "pipe", "pipe"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let spawnError: Error | null = null;
  child.once("error", (error) => (spawnError = error));
  let count = 0;
  let tail = "";
  let errors = "";
  const waiters: Array<{ count: number; resolve: (at: number | null) => void; timer?: NodeJS.Timeout }> = [];
  const listeners = new Set<(count: number, at: number) => void>();
  child.stdout!.setEncoding("latin1");
  child.stdout!.on("data", (chunk: string) => {
    const at = performance.now();
    tail += chunk;
    const end = tail.lastIndexOf("\r");
    if (end < 0) return;
    const match = /mesg=(\d+)/.exec(tail.slice(tail.lastIndexOf("\r", end - 1) + 1, end));
    tail = tail.slice(end + 1);
    if (match && Number(match[1]) !== count) {
      count = Number(match[1]);
      for (const listener of listeners) listener(count, at);
    }
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (count < waiters[i]!.count) continue;
      const [waiter] = waiters.splice(i, 1);
      clearTimeout(waiter!.timer);
      waiter!.resolve(at);
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (errors = (errors + chunk).slice(-2_000)));
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  // Bounded wait until it accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (spawnError) throw new Error(`${SMTP_SINK}: ${String(spawnError)} (Postfix is needed: see /work/shared/TOOLCHAIN.md)`);
    if (child.exitCode !== null) throw new Error(`smtp-sink exited with code ${child.exitCode}: ${errors}`);
    if ((await probePort(port)) === "open") break;
    if (Date.now() > deadline) {
      await close();
      throw new Error(`smtp-sink did not listen on 127.0.0.1:${port} within 10 s: ${errors}`);
    }
    await sleep(100);
  }
  // The probe connection above is a session too; let its counter line arrive first.
  await sleep(200);
  return {
    host: "127.0.0.1",
    port,
    messages: () => count,
    reached: (target, timeoutMs) =>
      count >= target
        ? Promise.resolve(performance.now())
        : new Promise((resolve) => {
            const waiter: (typeof waiters)[number] = { count: target, resolve };
            // Cleared when the count arrives: a pending bound would keep the bench process alive after it is done.
            waiter.timer = setTimeout(() => {
              const i = waiters.indexOf(waiter);
              if (i >= 0) waiters.splice(i, 1)[0]!.resolve(null);
            }, timeoutMs);
            waiters.push(waiter);
          }),
    settled: async (quietMs, timeoutMs) => {
      const end = Date.now() + timeoutMs;
      let seen = count;
      let quietSince = Date.now();
      while (Date.now() < end && Date.now() - quietSince < quietMs) {
        await sleep(50);
        if (count !== seen) [seen, quietSince] = [count, Date.now()];
      }
      return count;
    },
    onCount: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stderr: () => errors,
    close,
  };
}

const LOREM =
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. " +
  "Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. ";

/** Plain ASCII text of exactly `bytes` bytes (at least 2) in CRLF-ended lines of at most 76 characters, none starting with ".". */
export function plainText(bytes: number): string {
  const source = LOREM.repeat(2);
  let text = "";
  let at = 0;
  for (let remaining = bytes; remaining > 0; ) {
    // 79 bytes left would end on a lone byte: take one less now, and end on an empty line.
    const length = remaining <= 78 ? remaining - 2 : remaining === 79 ? 75 : 76;
    text += `${source.slice(at, at + length).replace(/^\./, "x")}\r\n`;
    at = (at + length) % LOREM.length;
    remaining -= length + 2;
  }
  return text;
}

/**
 * The i-th benchmark message: an RFC 5322 text/plain message (CRLF) of exactly `size` bytes
 * for every i (fixed-width recipient and Message-ID), before any DKIM-Signature.
 */
export function smtpMessage(i: number, id: string, size: number): string {
  const head = `${[
    `From: Lasthop Bench <${BENCH_FROM}>`,
    `To: <${benchRecipient(i)}>`,
    "Subject: Your weekly digest",
    "Date: Sun, 22 Nov 2026 08:00:00 +0000",
    `Message-ID: <${id}@lasthop.test>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: 7bit",
  ].join("\r\n")}\r\n\r\n`;
  if (size < head.length + 2) throw new Error(`an SMTP benchmark message needs at least ${head.length + 2} bytes`);
  return head + plainText(size - head.length);
}

/** Bytes the bridge puts in front of `raw` when it signs with `dkim` (its own signMessage, once). */
export async function dkimHeaderBytes(raw: string, dkim: DkimKey | DkimKey[]): Promise<number> {
  return (await signMessage(raw, dkim)).length - Buffer.byteLength(raw);
}

export type SmtpRelay = { mode: "smarthost"; host: string; port: number; secure: false; requireTLS: false };

/**
 * N messages through the bridge's `POST /v1/smtp/send`, `batch` items per signed request,
 * `inFlight` requests at a time. Messages, bodies and signatures are made before the clock
 * starts; the bridge signs DKIM (when `dkim` is given), pools and relays inside it.
 */
export async function sendSmtpThroughBridge(
  bridgeUrl: string,
  secret: string,
  opts: { messages: number; size: number; batch: number; inFlight: number; account: string; relay: SmtpRelay; dkim?: DkimKey | DkimKey[] },
): Promise<BridgeLog> {
  const items = new Map<string, string>();
  const requests: Array<{ body: string; headers: Record<string, string> }> = [];
  const key = await doorSecret(secret, BRIDGE_SMTP_PATH);
  for (let start = 0; start < opts.messages; start += opts.batch) {
    const batchItems: SmtpBatch["items"] = [];
    for (let i = start; i < Math.min(start + opts.batch, opts.messages); i++) {
      const id = randomUUID();
      items.set(id, benchRecipient(i));
      batchItems.push({
        id,
        account: opts.account,
        mailFrom: verp(id),
        rcptTo: benchRecipient(i),
        raw: smtpMessage(i, id, opts.size),
        ...(opts.dkim ? { dkim: opts.dkim } : {}),
        relay: opts.relay,
      });
    }
    const body = JSON.stringify({ items: batchItems });
    requests.push({ body, headers: { "content-type": "application/json", ...(await signedHeaders(key, body)) } });
  }
  return postBridgeBatches(`${bridgeUrl}${BRIDGE_SMTP_PATH}`, requests, items, opts.inFlight);
}

export type SmtpSourceRun = { seconds: number; code: number | null; signal: string | null; stderr: string; args: string[] };

/**
 * Postfix's smtp-source: `sessions` SMTP sessions in parallel sending `messages` copies of the
 * message in `file` (LF lines; it sends each line with CRLF, dot-stuffed, as is: no headers of
 * its own) to 127.0.0.1:port; `reuse` adds -d (next message over the same connection). Timed
 * with a wall clock around the process; killed after `timeoutMs`.
 */
export async function runSmtpSource(opts: {
  port: number;
  sessions: number;
  messages: number;
  file: string;
  from: string;
  to: string;
  reuse: boolean;
  timeoutMs: number;
}): Promise<SmtpSourceRun> {
  const args = [
    ...(opts.reuse ? ["-d"] : []),
    "-s",
    String(opts.sessions),
    "-m",
    String(opts.messages),
    "-F",
    opts.file,
    "-f",
    opts.from,
    "-t",
    opts.to,
    "-M",
    BENCH_HELO,
    `127.0.0.1:${opts.port}`,
  ];
  const started = performance.now();
  const child = spawn(SMTP_SOURCE, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-2_000)));
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
  const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once("error", (error) => {
      stderr += String(error);
      resolve({ code: null, signal: null });
    });
    child.once("exit", (c, s) => resolve({ code: c, signal: s }));
  });
  const seconds = (performance.now() - started) / 1000;
  clearTimeout(timer);
  return { seconds, code, signal, stderr: stderr.trim(), args };
}

/** The email both end-to-end senders send: same subject and text body. */
export const emailSubject = "Your weekly digest";
export const emailSend = (i: number, text: string) =>
  JSON.stringify({ channel: "email", from: BENCH_FROM, to: benchRecipient(i), subject: emailSubject, text });

export type NodemailerLog = SendLog & { seconds: number; sizes: number[] };

/**
 * The end-to-end baseline: the same N emails composed, DKIM-signed (same key, relaxed/relaxed,
 * rsa-sha256) and sent by nodemailer's pooled SMTP transport straight to the sink:
 * `connections` pooled connections (the bridge's SMTP_MAX_PER_DOMAIN), 100 messages per
 * connection (the bridge's recycling), `concurrency` sendMail() calls in flight.
 */
export async function sendWithNodemailer(
  sink: { host: string; port: number },
  dkim: { domain: string; selector: string; privateKeyPem: string },
  text: string,
  n: number,
  concurrency: number,
  connections: number,
): Promise<NodemailerLog> {
  const log: NodemailerLog = { statuses: {}, failures: {}, accepted: new Set(), ids: [], seconds: 0, sizes: [] };
  const transport = nodemailer.createTransport({
    host: sink.host,
    port: sink.port,
    secure: false,
    ignoreTLS: true,
    name: BENCH_HELO,
    pool: true,
    maxConnections: connections,
    maxMessages: 100,
    dkim: { domainName: dkim.domain, keySelector: dkim.selector, privateKey: dkim.privateKeyPem },
  });
  const started = performance.now();
  try {
    await forEachConcurrent(n, concurrency, async (i) => {
      const id = randomUUID();
      try {
        const info = (await transport.sendMail({
          from: BENCH_FROM,
          to: benchRecipient(i),
          subject: emailSubject,
          text,
          messageId: `<${id}@lasthop.test>`,
          envelope: { from: verp(id), to: benchRecipient(i) },
        })) as { messageSize?: number; response?: string };
        note(log, info.response?.slice(0, 3) ?? "sent");
        log.accepted.add(String(i));
        log.ids.push(id);
        if (typeof info.messageSize === "number") log.sizes.push(info.messageSize);
      } catch (error) {
        const e = error as { responseCode?: number; response?: string; message?: string };
        note(log, e.responseCode ? String(e.responseCode) : "error", e.response ?? e.message ?? String(error));
      }
    });
    log.seconds = (performance.now() - started) / 1000;
  } finally {
    transport.close();
  }
  return log;
}

/**
 * Every id's status from `GET /v1/messages/:id`, re-reading those not yet `accepted` every
 * `everyMs` until all are or `timeoutMs` has passed; returns the last status of each and when
 * (performance.now()) the last of them was first seen accepted.
 */
export async function waitForAcceptedEmails(
  workerUrl: string,
  apiKey: string,
  ids: string[],
  opts: { concurrency: number; everyMs: number; timeoutMs: number },
): Promise<{
  statuses: Record<string, number>;
  allAcceptedAt: number | null;
  httpFailures: Record<string, string>;
  firstNotAccepted: unknown;
}> {
  const last = new Map<string, string>();
  const httpFailures: Record<string, string> = {};
  let firstNotAccepted: unknown = null;
  const deadline = Date.now() + opts.timeoutMs;
  let allAcceptedAt: number | null = null;
  for (;;) {
    const pending = ids.filter((id) => last.get(id) !== "accepted");
    await forEachConcurrent(pending.length, opts.concurrency, async (k) => {
      const id = pending[k]!;
      try {
        const response = await fetch(`${workerUrl}/v1/messages/${id}`, {
          headers: { authorization: `Bearer ${apiKey}` },
          signal: AbortSignal.timeout(10_000),
        });
        const text = await response.text();
        if (!response.ok) {
          httpFailures[String(response.status)] ??= text.slice(0, 300);
          last.set(id, `HTTP ${response.status}`);
          return;
        }
        const body = JSON.parse(text) as { status?: string };
        last.set(id, body.status ?? "?");
      } catch (error) {
        httpFailures.error ??= String(error).slice(0, 300);
        last.set(id, "error");
      }
    });
    if (ids.every((id) => last.get(id) === "accepted")) {
      allAcceptedAt = performance.now();
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(opts.everyMs);
  }
  const statuses: Record<string, number> = {};
  for (const id of ids) {
    const status = last.get(id) ?? "unread";
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  if (allAcceptedAt === null) {
    const id = ids.find((x) => last.get(x) !== "accepted");
    if (id) {
      const response = await fetch(`${workerUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${apiKey}` } }).catch(() => null);
      firstNotAccepted = response ? ((await response.json().catch(() => null)) as unknown) : null;
    }
  }
  return { statuses, allAcceptedAt, httpFailures, firstNotAccepted };
}

/** The message lasthop's Worker composes for `emailSend(0, text)`, from its own composeEmail run in Node (a size probe, outside any clock), or null if it cannot run here. */
export async function lasthopComposed(text: string, account: string, bounceDomain: string, publicUrl: string): Promise<string | null> {
  try {
    // A computed specifier: the Worker's module names Worker-only types that this tsconfig does not load.
    const specifier = new URL("../src/channels/email.ts", import.meta.url).href;
    const { composeEmail } = (await import(specifier)) as {
      composeEmail(job: unknown, config: unknown, env: { PUBLIC_URL: string; UNSUBSCRIBE_SECRET: string }): Promise<{ raw: string }>;
    };
    const { raw } = await composeEmail(
      {
        id: randomUUID(),
        account,
        createdAt: new Date().toISOString(),
        request: { channel: "email", from: BENCH_FROM, to: benchRecipient(0), subject: emailSubject, text },
      },
      { sendingDomains: ["lasthop.test"], bounceDomain, feedbackSenderId: "lasthop" },
      { PUBLIC_URL: publicUrl, UNSUBSCRIBE_SECRET: "dev-unsubscribe-secret-change-me" },
    );
    return raw;
  } catch {
    return null;
  }
}
