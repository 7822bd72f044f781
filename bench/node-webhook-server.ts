// Baseline (b): a plain Node `http` server doing what the edge does before it enqueues
// (Standard Webhooks verify with our src/core code and the door's key, JSON parse, zod eventBatch) and answering
// 202. It runs as a child process so it does not share an event loop with the load client,
// just as workerd does not.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { eventBatch } from "../src/core/schema.ts";
import { EDGE_EVENTS_PATH } from "../src/core/bridge.ts";
import { doorSecret, verify, webhookHeaders } from "../src/core/standard-webhooks.ts";

const MAX_BODY_BYTES = 256 * 1024; // the edge's limit

function serve(secret: string): void {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on("end", async () => {
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      };
      if (size > MAX_BODY_BYTES) return answer(413, { error: "payload_too_large" });
      const raw = Buffer.concat(chunks).toString("utf8");
      const verdict = await verify(
        await doorSecret(secret, EDGE_EVENTS_PATH),
        webhookHeaders((name) => req.headers[name]),
        raw,
      );
      if (!verdict.ok) return answer(401, { error: verdict.reason });
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return answer(400, { error: "invalid_json" });
      }
      const parsed = eventBatch.safeParse(value);
      if (!parsed.success) return answer(400, { error: "validation_failed" });
      answer(202, { accepted: parsed.data.events.length });
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    console.log(JSON.stringify({ port: typeof address === "object" && address ? address.port : null }));
  });
  process.once("SIGTERM", () => server.close(() => process.exit(0)));
  // Never outlive the benchmark, even if it dies without stopping us.
  process.stdin.on("end", () => process.exit(0)).resume();
}

/** Starts the server in a child process; `close()` stops it and waits for it to exit. */
export async function startNodeWebhookServer(secret: string): Promise<{ url: string; close(): Promise<void> }> {
  const child = spawn(process.execPath, [new URL(import.meta.url).pathname], {
    env: { ...process.env, BENCH_WEBHOOK_SECRET: secret },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const first = await Promise.race([createInterface({ input: child.stdout })[Symbol.asyncIterator]().next(), exited.then(() => null)]);
  const port = first && !first.done ? (JSON.parse(first.value) as { port: number }).port : null;
  if (!port) {
    child.kill("SIGKILL");
    throw new Error("the Node baseline server did not start");
  }
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

if (import.meta.main) serve(process.env.BENCH_WEBHOOK_SECRET ?? "");
