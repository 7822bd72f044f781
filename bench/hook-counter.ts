// The outbound webhook figure's receiver: a plain Node `http` server in a child process of its
// own (so neither sender shares an event loop with it) that counts what arrives and answers
// 200 {"ok":true} at once, as the sandbox's hooks do by default. Per hook (a path
// `/h/<name>`) it keeps the arrivals, the distinct webhook-ids and each delivery's id and body
// (so the baseline can send the very bytes lasthop sent), the first delivery's headers (to check
// its signature), and the moment the expected number of distinct ids was reached, on its own
// clock (Date.now(): one machine, so the parent and the sender compare it with theirs).
//   POST /h/<name>                 a delivery (any body)
//   POST /_control/reset {expected: {<name>: n}}  forgets everything, expects n distinct ids per hook
//   GET  /_control/stats           {<name>: {arrivals, distinct, firstAt, lastAt, doneAt, statuses}}
//   GET  /_control/hook/<name>     {deliveries: [{id, body, at}], first: {headers, body} | null}
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import { createInterface } from "node:readline";

export type HookStats = { arrivals: number; distinct: number; firstAt: number | null; lastAt: number | null; doneAt: number | null };
export type HookDeliveries = {
  /** Each distinct webhook-id's first delivery, in arrival order, with when it arrived (receiver's clock). */
  deliveries: Array<{ id: string; body: string; at: number }>;
  first: { headers: Record<string, string>; body: string } | null;
};

export type HookCounter = {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  urlOf(name: string): string;
  reset(expected: Record<string, number>): Promise<void>;
  stats(): Promise<Record<string, HookStats>>;
  deliveries(name: string): Promise<HookDeliveries>;
  close(): Promise<void>;
};

type Hook = HookStats & { expected: number; ids: Set<string>; deliveries: HookDeliveries["deliveries"]; first: HookDeliveries["first"] };

function serve(port: number): void {
  let hooks = new Map<string, Hook>();
  const hookOf = (name: string): Hook => {
    let hook = hooks.get(name);
    if (!hook) {
      hook = {
        arrivals: 0,
        distinct: 0,
        firstAt: null,
        lastAt: null,
        doneAt: null,
        expected: 0,
        ids: new Set(),
        deliveries: [],
        first: null,
      };
      hooks.set(name, hook);
    }
    return hook;
  };
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });
  const json = (res: import("node:http").ServerResponse, status: number, value: unknown) => {
    const text = JSON.stringify(value);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
  };
  const server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const body = await read(req).catch(() => null);
    if (body === null) return;
    if (req.method === "POST" && path.startsWith("/h/")) {
      const now = Date.now();
      const hook = hookOf(path.slice(3));
      const id = String(req.headers["webhook-id"] ?? "");
      hook.arrivals++;
      hook.firstAt ??= now;
      hook.lastAt = now;
      if (!hook.ids.has(id)) {
        hook.ids.add(id);
        hook.distinct++;
        hook.deliveries.push({ id, body, at: now });
        if (hook.distinct === hook.expected) hook.doneAt = now;
      }
      if (!hook.first) hook.first = { headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), body };
      return json(res, 200, { ok: true });
    }
    if (req.method === "POST" && path === "/_control/reset") {
      const { expected } = JSON.parse(body) as { expected: Record<string, number> };
      hooks = new Map();
      for (const [name, n] of Object.entries(expected)) hookOf(name).expected = n;
      return json(res, 200, { ok: true });
    }
    if (req.method === "GET" && path === "/_control/stats") {
      const stats = Object.fromEntries(
        [...hooks].map(([name, h]) => [
          name,
          { arrivals: h.arrivals, distinct: h.distinct, firstAt: h.firstAt, lastAt: h.lastAt, doneAt: h.doneAt } satisfies HookStats,
        ]),
      );
      return json(res, 200, stats);
    }
    if (req.method === "GET" && path.startsWith("/_control/hook/")) {
      const hook = hooks.get(path.slice("/_control/hook/".length));
      return json(res, 200, { deliveries: hook?.deliveries ?? [], first: hook?.first ?? null } satisfies HookDeliveries);
    }
    json(res, 404, { error: "not found" });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, "127.0.0.1", () => process.stdout.write("ready\n"));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
}

/** Starts the receiver on 127.0.0.1:`port` in a child Node process; answers once it listens. */
export async function startHookCounter(port: number): Promise<HookCounter> {
  const child: ChildProcess = spawn(process.execPath, [new URL(import.meta.url).pathname, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const first = await Promise.race([createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next(), exited.then(() => null)]);
  if (!first || first.done || first.value !== "ready") {
    child.kill("SIGKILL");
    throw new Error(`the hook counter did not start on port ${port} (exit ${child.exitCode ?? child.signalCode})`);
  }
  const origin = `http://127.0.0.1:${port}`;
  const control = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${origin}${path}`, body === undefined ? {} : { method: "POST", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`hook counter ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    origin,
    urlOf: (name) => `${origin}/h/${name}`,
    reset: async (expected) => void (await control("/_control/reset", { expected })),
    stats: () => control("/_control/stats"),
    deliveries: (name) => control(`/_control/hook/${name}`),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.kill("SIGTERM");
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

if (import.meta.main) serve(Number(process.argv[2]));
