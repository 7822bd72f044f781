// The APNs baseline: @parse/node-apn sending to the sandbox APNs from a child process, so it
// does not share an event loop with the sandbox, just as the bridge does not. The parent
// hands it one job on stdin (tokens, key, settings); it sends the warm-up tokens, then the
// measured ones, in batches of `batch` recipients (one `provider.send(note, tokens)` each),
// `inFlight` batches at a time, on one provider, and answers with one JSON line per job: what
// node-apn reported sent and failed, and how long each phase took (first send to last answer,
// measured here, so process start-up is not in it).
import { readFileSync } from "node:fs";
import apn from "@parse/node-apn";
import { forEachConcurrent } from "./net.ts";
import { runJobInChild, serveOneJob } from "./child-job.ts";

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
export function sendWithNodeApn(job: NodeApnJob, timeoutMs: number): Promise<NodeApnResult> {
  return runJobInChild<NodeApnResult>(import.meta.url, job, timeoutMs, "the node-apn sender");
}

if (import.meta.main) await serveOneJob(run);
