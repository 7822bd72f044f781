// Runs the bridge as a plain child process, as production runs it in a container: the
// stack (npm start, end-to-end tests, benchmarks) talks to it only over signed HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export type BridgeProcess = { url: string; process: ChildProcess; stop(): Promise<void>; kill(): Promise<void> };

/**
 * `onOutput`: also hands every chunk the bridge writes (stdout and stderr, still shown as before)
 * to the caller, for a test that reads the logs; without it the child writes to ours directly.
 */
export async function startBridgeProcess(
  repoRoot: string,
  port: number,
  env: Record<string, string>,
  onOutput?: (text: string) => void,
): Promise<BridgeProcess> {
  // Another bridge on the port would answer our health check and take our traffic.
  await assertPortFree(port);
  const child = spawn(process.execPath, [join(repoRoot, "bridge/src/main.ts")], {
    env: { ...process.env, BRIDGE_HOST: "127.0.0.1", BRIDGE_PORT: String(port), ...env },
    stdio: ["ignore", onOutput ? "pipe" : "inherit", onOutput ? "pipe" : "inherit"],
  });
  if (onOutput) {
    for (const [from, to] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const) {
      from?.on("data", (chunk: Buffer) => {
        onOutput(chunk.toString("utf8"));
        to.write(chunk);
      });
    }
  }
  const url = `http://127.0.0.1:${port}`;
  // However the parent ends (process.exit after a stuck shutdown, a test runner finishing), the
  // bridge goes with it rather than holding its ports as an orphan.
  const killWithParent = () => child.kill("SIGKILL");
  process.once("exit", killWithParent);
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      process.off("exit", killWithParent);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  // A crash, for tests: no graceful shutdown, in-flight work is simply gone.
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await exited;
  };
  // Bounded wait for /healthz: a bridge that cannot start fails the stack instead of hanging it.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the bridge exited with code ${child.exitCode} (see its log line above)`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, process: child, stop, kill };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error("the bridge did not answer /healthz within 15 s");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", () => reject(new Error(`127.0.0.1:${port} is already in use: is another lasthop stack (or bridge) running?`)));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve()));
  });
}
