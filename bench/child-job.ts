// A benchmark sender in a child Node process, so it does not share an event loop with what it
// measures (node-apn-sender.ts, smpp-client-sender.ts): the parent writes one JSON job on
// stdin, the child answers one JSON line on stdout and exits.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

/**
 * The parent's side: runs `moduleUrl` (a module that calls serveOneJob when it is the main
 * module) with `job`; bounded by `timeoutMs`, after which the child is killed.
 */
export async function runJobInChild<R>(moduleUrl: string, job: unknown, timeoutMs: number, name: string): Promise<R> {
  const child = spawn(process.execPath, [new URL(moduleUrl).pathname], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    child.stdin.end(`${JSON.stringify(job)}\n`);
    const first = await Promise.race([createInterface({ input: child.stdout })[Symbol.asyncIterator]().next(), exited.then(() => null)]);
    if (!first || first.done) throw new Error(`${name} ended without a result (exit ${child.exitCode ?? child.signalCode})`);
    return JSON.parse(first.value) as R;
  } finally {
    await exited;
    clearTimeout(timer);
  }
}

/** The child's side: reads one job from stdin, runs it, writes the result as one line, exits. */
export async function serveOneJob<J, R>(run: (job: J) => Promise<R>): Promise<void> {
  const line = await createInterface({ input: process.stdin })[Symbol.asyncIterator]().next();
  if (line.done) process.exit(1);
  const result = await run(JSON.parse(line.value) as J);
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}
