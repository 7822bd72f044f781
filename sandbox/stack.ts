// The whole local stack in one process tree: the sandbox (every last hop, simulated) and
// the Worker under wrangler dev (local Durable Objects and Queues). Used by `npm start`,
// the end-to-end tests and the benchmarks, so all three run exactly the same thing.
import { fileURLToPath } from "node:url";
import { startSandbox, type Sandbox, type SandboxOptions } from "./main.ts";

export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

export type StackOptions = SandboxOptions & {
  /** Worker port. Default 8787. */
  workerPort?: number;
  /** Where wrangler dev keeps DO, Queue and KV state. Default <repo>/.wrangler/state. */
  persistTo?: string;
  /** Plain-text bindings that override wrangler.toml and .dev.vars (tests pass generated keys). */
  vars?: Record<string, string>;
  /** Reload the Worker when its source changes. On for `npm start`, off for tests and benchmarks. */
  watch?: boolean;
};

export type Stack = { workerUrl: string; sandbox: Sandbox; close(): Promise<void> };

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const sandbox = await startSandbox(opts);
  // workerd verifies TLS; this makes it trust the sandbox's dev CA. Miniflare reads the
  // variable when its module loads, hence the dynamic import after setting it.
  process.env.NODE_EXTRA_CA_CERTS = sandbox.caPath;
  const { unstable_startWorker } = await import("wrangler");
  const port = opts.workerPort ?? 8787;
  let worker: Awaited<ReturnType<typeof unstable_startWorker>>;
  try {
    worker = await unstable_startWorker({
      config: `${REPO_ROOT}wrangler.toml`,
      bindings: Object.fromEntries(
        Object.entries(opts.vars ?? {}).map(([name, value]) => [name, { type: "plain_text", value }]),
      ),
      dev: {
        server: { hostname: "127.0.0.1", port },
        inspector: false,
        watch: opts.watch ?? false,
        ...(opts.persistTo ? { persist: opts.persistTo } : {}),
      },
    });
    await worker.ready;
  } catch (error) {
    await sandbox.close();
    throw error;
  }
  const url = await worker.url;
  let closing: Promise<void> | null = null;
  return {
    workerUrl: url.origin,
    sandbox,
    close: () => (closing ??= Promise.all([worker.dispose(), sandbox.close()]).then(() => undefined)),
  };
}
