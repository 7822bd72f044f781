// Starts baseline (a), bench/baseline/worker.ts, under the same local runtime as lasthop.
// Call it after startStack(): the stack sets NODE_EXTRA_CA_CERTS before wrangler first loads.
import { fileURLToPath } from "node:url";

export type StartedWorker = { url: string; close(): Promise<void> };

/** A Worker under wrangler dev on loopback, with plain-text bindings and its own persistence. */
export async function startLocalWorker(opts: {
  config: string;
  vars: Record<string, string>;
  port: number;
  persistTo: string;
}): Promise<StartedWorker> {
  const { unstable_startWorker } = await import("wrangler");
  const worker = await unstable_startWorker({
    config: opts.config,
    bindings: Object.fromEntries(Object.entries(opts.vars).map(([name, value]) => [name, { type: "plain_text" as const, value }])),
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

export function startBaselineWorker(opts: {
  port: number;
  persistTo: string;
  webhookSecret: string;
  sendgridPublicKey: string;
  standardSecret: string;
  vapid: { subject: string; publicKey: string; privateKey: string };
}): Promise<StartedWorker> {
  return startLocalWorker({
    config: fileURLToPath(new URL("./baseline/wrangler.toml", import.meta.url)),
    vars: {
      WEBHOOK_SECRET: opts.webhookSecret,
      SENDGRID_PUBLIC_KEY: opts.sendgridPublicKey,
      STANDARD_SECRET: opts.standardSecret,
      VAPID_PUBLIC_KEY: opts.vapid.publicKey,
      VAPID_PRIVATE_KEY: opts.vapid.privateKey,
      VAPID_SUBJECT: opts.vapid.subject,
    },
    port: opts.port,
    persistTo: opts.persistTo,
  });
}
