// Small request/response helpers shared by the sandbox servers.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

export type Body = {
  /** The first `limit + 1` bytes at most: enough to tell "fits" from "too large". */
  bytes: Buffer;
  /** True when the client sent more than `limit` bytes. */
  oversized: boolean;
};

// Oversized bodies are still drained, so the client reads our 413 instead of a reset, but
// only this far: past it the connection is dropped, as real front ends do.
const DRAIN_LIMIT = 1024 * 1024;

export function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    let seen = 0;
    req.on("data", (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_LIMIT) {
        req.destroy(new Error(`request body exceeds ${DRAIN_LIMIT} bytes`));
        return;
      }
      if (kept <= limit) {
        const take = chunk.subarray(0, limit + 1 - kept);
        chunks.push(take);
        kept += take.length;
      }
    });
    req.on("end", () => resolve({ bytes: Buffer.concat(chunks), oversized: seen > limit }));
    req.on("error", reject);
    req.on("close", () => reject(new Error("request closed before its body ended")));
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, "content-length": 0 });
  res.end();
}

export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      if (address === null || typeof address === "string") reject(new Error("server has no TCP address"));
      else resolve(address.port);
    });
  });
}

/** Stops accepting, drops idle keep-alive sockets and in-flight ones, and waits for the close. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!server.listening) return resolve();
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeAllConnections();
  });
}

/** Host part of a URL for a listen address (IPv6 literals need brackets). */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

export type RetryPolicy = {
  tries: number;
  /** Doubled after each failed try. */
  firstBackoffMs: number;
  /** Per try. */
  timeoutMs: number;
};

export type RetryOptions = RetryPolicy & {
  /** Ends the tries when the sandbox closes; an aborted backoff sleep rejects. */
  signal: AbortSignal;
  /** Called before each try is sent, e.g. to count attempts. */
  onAttempt?: () => void;
};

/** A webhook POST retried with exponential backoff; true once a 2xx came back. */
export async function postWithRetries(
  url: string,
  request: { headers: Record<string, string>; body: string },
  options: RetryOptions,
): Promise<boolean> {
  const { tries, firstBackoffMs, timeoutMs, signal, onAttempt } = options;
  for (let attempt = 1; attempt <= tries; attempt++) {
    if (signal.aborted) return false;
    onAttempt?.();
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: request.headers,
        body: request.body,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        // A redirect is an answer, not a delivery: real providers don't follow it either.
        redirect: "manual",
      });
      // Drained so the keep-alive socket can be reused.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return true;
    } catch {
      // refused, reset or timed out: try again
    }
    if (attempt < tries) await sleep(firstBackoffMs * 2 ** (attempt - 1), undefined, { signal });
  }
  return false;
}
