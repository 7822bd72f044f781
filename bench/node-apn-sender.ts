// The APNs baseline: @parse/node-apn sending to the sandbox APNs from a child process, so it
// does not share an event loop with the sandbox, just as the bridge does not. The parent
// hands it one job on stdin (tokens, key, settings); it sends the warm-up tokens, then the
// measured ones, in batches of `batch` recipients (one `provider.send(note, tokens)` each),
// `inFlight` batches at a time, on one provider, and answers with one JSON line per job: what
// node-apn reported sent and failed, and how long each phase took (first send to last answer,
// measured here, so process start-up is not in it).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import apn from "@parse/node-apn";
import { forEachConcurrent } from "./net.ts";

export type NodeApnJob = {
  /** "provider": `apn.Provider` (one client, one HTTP/2 session); "multi": `apn.MultiProvider` with `clientCount` clients. */
  mode: "provider" | "multi";
  clientCount: number;
  address: string;
  port: number;
  caPath: string;
  key: { key: string; keyId: string; teamId: string };
  connectionRetryLimit: number;
  requestTimeoutMs: number;
  topic: string;
  pushType: "alert";
  priority: number;
  payload: Record<string, unknown>;
  /** Sent first and not timed (connection, JIT), then `tokens`, timed. */
  warmupTokens: string[];
  tokens: string[];
  batch: number;
  inFlight: number;
};

export type NodeApnResult = { warmup: NodeApnPhase; main: NodeApnPhase };

export type NodeApnPhase = {
  /** Wall clock (ms since the epoch) of the first send, to line up with the sandbox's arrival times. */
  startedAt: number;
  seconds: number;
  /** Devices node-apn reported as sent (APNs answered 200). */
  sent: string[];
  /** Failures by "<status> <reason>" (or the error message when there was no answer), and the first one as it was. */
  failures: Record<string, number>;
  firstFailure: unknown;
  /** Batches whose send() itself threw (node-apn normally reports failures per device instead). */
  thrown: string[];
};

async function run(job: NodeApnJob): Promise<NodeApnResult> {
  const options = {
    token: job.key,
    production: false,
    // node-apn connects to `https://${address}` with `port` in the TLS options (the URL's port is ignored).
    address: job.address,
    port: job.port,
    ca: [readFileSync(job.caPath)],
    connectionRetryLimit: job.connectionRetryLimit,
    requestTimeout: job.requestTimeoutMs,
  };
  const provider = job.mode === "multi" ? new apn.MultiProvider({ ...options, clientCount: job.clientCount }) : new apn.Provider(options);
  const note = new apn.Notification();
  note.topic = job.topic;
  note.pushType = job.pushType;
  note.priority = job.priority;
  note.rawPayload = job.payload;
  const phase = async (tokens: string[]): Promise<NodeApnPhase> => {
    const result: NodeApnPhase = { startedAt: Date.now(), seconds: 0, sent: [], failures: {}, firstFailure: null, thrown: [] };
    const started = performance.now();
    await forEachConcurrent(Math.ceil(tokens.length / job.batch), job.inFlight, async (b) => {
      try {
        const { sent, failed } = await provider.send(note, tokens.slice(b * job.batch, (b + 1) * job.batch));
        for (const s of sent) result.sent.push(s.device);
        for (const f of failed) {
          const key = f.status !== undefined ? `${f.status} ${f.response?.reason ?? ""}`.trim() : String(f.error?.message ?? "error");
          result.failures[key] = (result.failures[key] ?? 0) + 1;
          result.firstFailure ??= f;
        }
      } catch (error) {
        result.thrown.push(String(error));
      }
    });
    result.seconds = (performance.now() - started) / 1000;
    return result;
  };
  try {
    const warmup = await phase(job.warmupTokens);
    return { warmup, main: await phase(job.tokens) };
  } finally {
    // shutdown() returns nothing to await; its callback says when every session is closed.
    await new Promise<void>((resolve) => provider.shutdown(() => resolve()));
  }
}

/** Runs one job in a child Node process; bounded by `timeoutMs`, after which the child is killed. */
export async function sendWithNodeApn(job: NodeApnJob, timeoutMs: number): Promise<NodeApnResult> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    child.stdin.end(`${JSON.stringify(job)}\n`);
    const first = await Promise.race([createInterface({ input: child.stdout })[Symbol.asyncIterator]().next(), exited.then(() => null)]);
    if (!first || first.done) throw new Error(`the node-apn sender ended without a result (exit ${child.exitCode ?? child.signalCode})`);
    return JSON.parse(first.value) as NodeApnResult;
  } finally {
    await exited;
    clearTimeout(timer);
  }
}

if (import.meta.main) {
  const line = await createInterface({ input: process.stdin })[Symbol.asyncIterator]().next();
  if (line.done) process.exit(1);
  const result = await run(JSON.parse(line.value) as NodeApnJob);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
