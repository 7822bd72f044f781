/**
 * DKIM signing off the event loop: a pool of worker threads (sign-worker.ts), one per core by
 * default, each signing whole messages (header parse, body hash, RSA/Ed25519 signature). An RSA
 * signature costs ~0.3 ms of CPU; on the event loop that caps the relay at a few thousand
 * messages per second on one core and stalls every socket while it signs.
 *
 * A message is never sent unsigned: a job whose thread dies (crash, OOM, terminate) is given
 * to another thread once; if that one dies too, or no thread is running, the job fails with
 * `SignerUnavailableError` (the relay answers `retry`). A thread that dies is replaced; one that
 * dies before it answered anything is replaced after a pause, so a thread that cannot start
 * does not spin.
 */
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { DkimKey } from "../../../src/core/bridge.ts";
import { DkimError } from "./dkim.ts";

export type SignJob = { id: number; raw: string; keys: DkimKey[]; now: number };
export type SignResult = { id: number; ok: true; headers: string } | { id: number; ok: false; error: string };

/** Signs `raw` with `dkim` and returns the message to send (DKIM-Signature headers in front). */
export type Signer = { sign(raw: string, dkim: DkimKey | DkimKey[] | undefined): Promise<Buffer> };

/** No signing thread could sign the message (they died or the pool is closed): nothing was sent. */
export class SignerUnavailableError extends Error {
  override name = "SignerUnavailableError";
}

/** Tries per job: its first thread, and one other if that one died with it. */
const MAX_TRIES = 2;
/** Pause before replacing a thread that died without answering anything. */
const RESPAWN_PAUSE_MS = 1_000;

type Pending = { job: SignJob; tries: number; resolve(buffer: Buffer): void; reject(error: Error): void };
type Thread = { worker: Worker; pending: Map<number, Pending>; answered: boolean; exited: boolean };

export class SignPool implements Signer {
  readonly size: number;
  readonly #log: Logger | undefined;
  readonly #threads: Thread[] = [];
  #nextId = 1;
  #closed = false;
  #respawnTimers = new Set<NodeJS.Timeout>();

  constructor(options: { threads: number; log?: Logger }) {
    if (!Number.isInteger(options.threads) || options.threads < 1) throw new RangeError("the signing pool needs at least one thread");
    this.size = options.threads;
    this.#log = options.log;
    for (let i = 0; i < this.size; i++) this.#spawn();
  }

  /** The running threads (tests end one to see the pool survive it). */
  get workers(): Worker[] {
    return this.#threads.map((t) => t.worker);
  }

  sign(raw: string, dkim: DkimKey | DkimKey[] | undefined): Promise<Buffer> {
    const keys = Array.isArray(dkim) ? dkim : dkim ? [dkim] : [];
    if (keys.length === 0) return Promise.resolve(Buffer.from(raw, "utf8"));
    return new Promise<Buffer>((resolve, reject) => {
      const pending: Pending = {
        job: { id: this.#nextId++, raw, keys, now: Date.now() },
        tries: 0,
        resolve,
        reject,
      };
      this.#dispatch(pending);
    });
  }

  /** Ends every thread; jobs still waiting fail with `SignerUnavailableError`. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#respawnTimers) clearTimeout(timer);
    this.#respawnTimers.clear();
    const threads = this.#threads.splice(0);
    for (const thread of threads) this.#fail(thread, "the DKIM signing pool is closed");
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  #dispatch(pending: Pending): void {
    if (this.#closed) return pending.reject(new SignerUnavailableError("the DKIM signing pool is closed"));
    let best: Thread | undefined;
    for (const thread of this.#threads) if (!best || thread.pending.size < best.pending.size) best = thread;
    if (!best) return pending.reject(new SignerUnavailableError("no DKIM signing thread is running"));
    pending.tries++;
    best.pending.set(pending.job.id, pending);
    best.worker.postMessage(pending.job);
  }

  #spawn(): void {
    const worker = new Worker(new URL("./sign-worker.ts", import.meta.url));
    // The bridge's sockets keep the process alive; an idle signing thread should not.
    worker.unref();
    const thread: Thread = { worker, pending: new Map(), answered: false, exited: false };
    this.#threads.push(thread);
    worker.on("message", (result: SignResult) => {
      thread.answered = true;
      const pending = thread.pending.get(result.id);
      if (!pending) return;
      thread.pending.delete(result.id);
      if (result.ok) pending.resolve(Buffer.concat([Buffer.from(result.headers, "utf8"), Buffer.from(pending.job.raw, "utf8")]));
      else pending.reject(new DkimError(result.error));
    });
    worker.on("error", (error) => this.#log?.error({ err: error }, "a DKIM signing thread failed"));
    worker.on("exit", (code) => {
      if (thread.exited) return;
      thread.exited = true;
      const at = this.#threads.indexOf(thread);
      if (at < 0) return; // closed: its jobs were failed already
      this.#threads.splice(at, 1);
      this.#log?.warn({ code, jobs: thread.pending.size }, "a DKIM signing thread exited: replacing it");
      if (thread.answered) this.#spawn();
      else {
        const timer = setTimeout(() => {
          this.#respawnTimers.delete(timer);
          if (!this.#closed) this.#spawn();
        }, RESPAWN_PAUSE_MS);
        timer.unref();
        this.#respawnTimers.add(timer);
      }
      const stranded = [...thread.pending.values()];
      thread.pending.clear();
      for (const pending of stranded) {
        if (pending.tries < MAX_TRIES) this.#dispatch(pending);
        else pending.reject(new SignerUnavailableError("the DKIM signing thread died twice while signing this message"));
      }
    });
  }

  #fail(thread: Thread, why: string): void {
    thread.exited = true;
    for (const pending of thread.pending.values()) pending.reject(new SignerUnavailableError(why));
    thread.pending.clear();
  }
}
