// Starts baseline (a), bench/baseline/worker.ts, under the same local runtime as lasthop.
// Call it after startStack(): the stack sets NODE_EXTRA_CA_CERTS before wrangler first loads.
import { fileURLToPath } from "node:url";

export async function startBaselineWorker(opts: {
  port: number;
  persistTo: string;
  webhookSecret: string;
}): Promise<{ url: string; close(): Promise<void> }> {
  const { unstable_startWorker } = await import("wrangler");
  const worker = await unstable_startWorker({
    config: fileURLToPath(new URL("./baseline/wrangler.toml", import.meta.url)),
    bindings: { WEBHOOK_SECRET: { type: "plain_text", value: opts.webhookSecret } },
    dev: { server: { hostname: "127.0.0.1", port: opts.port }, inspector: false, persist: opts.persistTo },
  });
  try {
    await worker.ready;
  } catch (error) {
    await worker.dispose();
    throw error;
  }
  return { url: (await worker.url).origin, close: () => worker.dispose() };
}
