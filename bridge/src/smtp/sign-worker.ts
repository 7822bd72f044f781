/**
 * A DKIM signing thread of the pool (sign-pool.ts): one job in, its DKIM-Signature header lines
 * (or why it could not sign) out. Key objects stay cached in the thread between jobs.
 */
import { parentPort } from "node:worker_threads";
import { DkimError, dkimSignatureHeaders } from "./dkim.ts";
import type { SignJob, SignResult } from "./sign-pool.ts";

const port = parentPort;
if (!port) throw new Error("sign-worker.ts runs as a worker thread of the DKIM signing pool");

port.on("message", (job: SignJob) => {
  let result: SignResult;
  try {
    result = { id: job.id, ok: true, headers: dkimSignatureHeaders(Buffer.from(job.raw, "utf8"), job.keys, job.now) };
  } catch (error) {
    const message = error instanceof DkimError ? error.message : `DKIM signing failed: ${(error as Error).message}`;
    result = { id: job.id, ok: false, error: message };
  }
  port.postMessage(result);
});
