// Starts baseline (a), bench/baseline/worker.ts, under the same local runtime as lasthop.
// Call it after startStack(): the stack sets NODE_EXTRA_CA_CERTS before wrangler first loads.
import { fileURLToPath } from "node:url";
import { startDevWorker } from "../sandbox/dev-worker.ts";

export type StartedWorker = { url: string; close(): Promise<void> };

/** A Worker under wrangler dev on a loopback port of its own, with plain-text bindings and its own persistence. */
export async function startLocalWorker(opts: { config: string; vars: Record<string, string>; persistTo: string }): Promise<StartedWorker> {
  // Port 0: workerd binds a free port itself, so no other process can take it first.
  const { worker, url } = await startDevWorker({
    config: opts.config,
    bindings: Object.fromEntries(Object.entries(opts.vars).map(([name, value]) => [name, { type: "plain_text" as const, value }])),
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, persist: opts.persistTo },
  });
  return { url: url.origin, close: () => worker.dispose() };
}

export function startBaselineWorker(opts: {
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
    persistTo: opts.persistTo,
  });
}
