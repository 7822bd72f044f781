// Starts the sandbox: the control API over HTTP and the simulated push service over HTTPS.
// Run directly (`node sandbox/main.ts`) for local development, or call startSandbox() from tests.
import type { Server } from "node:http";
import { createControlServer } from "./control.ts";
import { close, listen, urlHost } from "./http.ts";
import { ReceivedStore } from "./store.ts";
import { DEFAULT_CERT_DIR, ensureDevCertificates } from "./tls.ts";
import { WebPushService } from "./webpush.ts";

export type SandboxOptions = {
  /** Listen address for both servers. Default 127.0.0.1 (the dev certificate covers it). */
  host?: string;
  /** Control API port. Default 8791; 0 picks a free port. */
  httpPort?: number;
  /** Push service port. Default 8793; 0 picks a free port. */
  webpushPort?: number;
  /** Where the dev CA and server certificate live. Default <repo>/.sandbox/. */
  certDir?: string;
};

export type Sandbox = {
  /** Control API base URL, e.g. "http://127.0.0.1:8791". */
  httpUrl: string;
  /** Push service origin, e.g. "https://127.0.0.1:8793" (the VAPID aud for its endpoints). */
  webpushUrl: string;
  /** PEM file of the dev CA; give it to clients as NODE_EXTRA_CA_CERTS or `ca:`. */
  caPath: string;
  close(): Promise<void>;
};

export const DEFAULT_HTTP_PORT = 8791;
export const DEFAULT_WEBPUSH_PORT = 8793;

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const host = opts.host ?? "127.0.0.1";
  const tls = ensureDevCertificates(opts.certDir ?? DEFAULT_CERT_DIR);
  const store = new ReceivedStore();
  const webpush = new WebPushService(store, tls);
  const control: Server = createControlServer(store, webpush);

  const webpushUrl = await webpush.listen(host, opts.webpushPort ?? DEFAULT_WEBPUSH_PORT);
  let httpPort: number;
  try {
    httpPort = await listen(control, host, opts.httpPort ?? DEFAULT_HTTP_PORT);
  } catch (error) {
    await webpush.close();
    throw error;
  }

  let closing: Promise<void> | null = null;
  return {
    httpUrl: `http://${urlHost(host)}:${httpPort}`,
    webpushUrl,
    caPath: tls.caPath,
    close: () => (closing ??= Promise.all([close(control), webpush.close()]).then(() => undefined)),
  };
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${name} must be a port number, got ${raw}`);
  return port;
}

async function runFromCommandLine(): Promise<void> {
  const sandbox = await startSandbox({
    httpPort: portFromEnv("SANDBOX_HTTP_PORT", DEFAULT_HTTP_PORT),
    webpushPort: portFromEnv("SANDBOX_WEBPUSH_PORT", DEFAULT_WEBPUSH_PORT),
    certDir: process.env.SANDBOX_CERT_DIR || undefined,
  });
  console.log(`sandbox control API   ${sandbox.httpUrl}`);
  console.log(`sandbox web push      ${sandbox.webpushUrl}  (trust ${sandbox.caPath} via NODE_EXTRA_CA_CERTS)`);

  const stop = (signal: string) => {
    console.log(`sandbox stopping (${signal})`);
    // Closing the servers empties the event loop; the timer only guards against a stuck socket.
    setTimeout(() => process.exit(1), 5_000).unref();
    sandbox.close().catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

if (import.meta.main) {
  runFromCommandLine().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
