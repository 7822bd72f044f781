// The webhook receiver (hooks.ts) on the control server: where lasthop's outbound events land
// under `npm start` and in tests, kept as they arrived and answered as told.
//   POST   /_sandbox/hooks   {name}      -> 201 {name, url}; 200 when it exists (what it received is kept);
//                                          400 for a name not 1-64 of [A-Za-z0-9_-]; 409 when the sandbox holds its most hooks
//   GET    /_sandbox/hooks               -> 200 {hooks: [{name, url, received, waiting, behaviours}]}
//   any    /_sandbox/hooks/{name}        the receiving door (any method: a client that follows a 303 comes back with a GET):
//                                          recorded, then answered by the behaviour queue (default 200 {"ok":true}); 413 past 256 KiB
//   GET    /_sandbox/hooks/{name}/received   -> 200 {received: [{at, method, query, headers, body, status, delayMs, aborted}]}
//   DELETE /_sandbox/hooks/{name}/received   -> 204
//   POST   /_sandbox/hooks/{name}/behaviour  {status, times?, delayMs?, retryAfter?, body?} -> 200 {behaviours} (the queue)
//   GET    /_sandbox/hooks/{name}/behaviour  -> 200 {behaviours}
//   DELETE /_sandbox/hooks/{name}/behaviour  -> 204 (200 {"ok":true} from the next delivery on)
// Unknown names answer 404. Errors are lasthop's shape, {error: {code, message, details}}.
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { readJsonInput, type Route } from "./control.ts";
import { HOOK_NAME, HookLimitError, parseBehaviour, type Detail, type HookStore } from "./hooks.ts";
import { readBody, sendEmpty, sendJson } from "./http.ts";

/** Past this a delivery is answered 413 and kept cut (lasthop's own requests are far smaller). */
export const MAX_HOOK_BODY = 256 * 1024;
const DOOR_METHODS = ["POST", "PUT", "PATCH", "GET", "HEAD", "DELETE"];
// Stored names also include `<name>.redirected` (a 3xx's target), hence the dot.
const DOOR = /^\/_sandbox\/hooks\/([A-Za-z0-9_.-]+)$/;
const RECEIVED = /^\/_sandbox\/hooks\/([A-Za-z0-9_.-]+)\/received$/;
const BEHAVIOUR = /^\/_sandbox\/hooks\/([A-Za-z0-9_.-]+)\/behaviour$/;

export function hookRoutes(hooks: HookStore): Route[] {
  /** The hook named by the path, or undefined once the 404 is sent. */
  const known = (res: ServerResponse, url: URL, path: RegExp): string | undefined => {
    const name = path.exec(url.pathname)![1]!;
    if (hooks.has(name)) return name;
    fail(res, 404, "unknown_hook", `no hook named ${name} (make it with POST /_sandbox/hooks {"name": "${name}"})`);
    return undefined;
  };
  return [
    {
      method: "POST",
      path: "/_sandbox/hooks",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        if (typeof input.name !== "string" || !HOOK_NAME.test(input.name)) {
          const message = "name must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -";
          return fail(res, 400, "invalid_name", message, [{ path: "name", message }]);
        }
        try {
          const { created, name, url } = hooks.create(input.name);
          sendJson(res, created ? 201 : 200, { name, url });
        } catch (cause) {
          if (!(cause instanceof HookLimitError)) throw cause;
          fail(res, 409, cause.code, cause.message);
        }
      },
    },
    { method: "GET", path: "/_sandbox/hooks", handle: (_req, res) => sendJson(res, 200, { hooks: hooks.list() }) },
    ...DOOR_METHODS.map(
      (method): Route => ({
        method,
        path: DOOR,
        handle: async (req, res, url) => {
          const name = known(res, url, DOOR);
          if (name !== undefined) await receive(hooks, name, req, res, url);
        },
      }),
    ),
    {
      method: "GET",
      path: RECEIVED,
      handle: (_req, res, url) => {
        const name = known(res, url, RECEIVED);
        if (name !== undefined) sendJson(res, 200, { received: hooks.received(name) });
      },
    },
    {
      method: "DELETE",
      path: RECEIVED,
      handle: (_req, res, url) => {
        const name = known(res, url, RECEIVED);
        if (name === undefined) return;
        hooks.clear(name);
        sendEmpty(res, 204);
      },
    },
    {
      method: "POST",
      path: BEHAVIOUR,
      handle: async (req, res, url) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        const name = known(res, url, BEHAVIOUR);
        if (name === undefined) return;
        const parsed = parseBehaviour(input);
        if (Array.isArray(parsed)) return fail(res, 400, "invalid_behaviour", parsed.map((d) => d.message).join("; "), parsed);
        try {
          sendJson(res, 200, { behaviours: hooks.behave(name, parsed) });
        } catch (cause) {
          if (!(cause instanceof HookLimitError)) throw cause;
          fail(res, 409, cause.code, cause.message);
        }
      },
    },
    {
      method: "GET",
      path: BEHAVIOUR,
      handle: (_req, res, url) => {
        const name = known(res, url, BEHAVIOUR);
        if (name !== undefined) sendJson(res, 200, { behaviours: hooks.behaviours(name) });
      },
    },
    {
      method: "DELETE",
      path: BEHAVIOUR,
      handle: (_req, res, url) => {
        const name = known(res, url, BEHAVIOUR);
        if (name === undefined) return;
        hooks.clearBehaviours(name);
        sendEmpty(res, 204);
      },
    },
  ];
}

/**
 * One delivery: recorded as soon as its body is read, answered after the behaviour's delay. A
 * client that leaves during the delay ends the wait (no timer outlives the request) and leaves
 * the arrival unanswered (`status: null, aborted: true`).
 */
async function receive(hooks: HookStore, name: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const gone = new AbortController();
  res.once("close", () => {
    if (!res.writableEnded) gone.abort();
  });
  const body = await readBody(req, MAX_HOOK_BODY);
  const recorded = hooks.arrive(name, {
    method: req.method ?? "GET",
    query: url.search,
    headers: headersOf(req),
    body: body.bytes.subarray(0, MAX_HOOK_BODY).toString("utf8"),
    oversized: body.oversized,
  });
  if (!recorded) return fail(res, 404, "unknown_hook", `no hook named ${name}`);
  const { arrival, answer } = recorded;
  if (answer.delayMs > 0) await sleep(answer.delayMs, undefined, { signal: gone.signal }).catch(() => undefined);
  if (gone.signal.aborted) return hooks.abandoned(arrival);
  const headers = answer.body === null ? answer.headers : { ...answer.headers, "content-length": String(Buffer.byteLength(answer.body)) };
  res.writeHead(answer.status, headers);
  res.end(answer.body ?? undefined);
  hooks.answered(arrival, answer.status);
}

/** The request's headers by lower-case name, repeated ones joined as HTTP folds them. */
function headersOf(req: IncomingMessage): Record<string, string> {
  // No prototype: a header may be called __proto__.
  const headers: Record<string, string> = Object.create(null);
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase();
    const value = req.rawHeaders[i + 1]!;
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

/** lasthop's error shape, details included (the control API's own `error` has none). */
function fail(res: ServerResponse, status: number, code: string, message: string, details: Detail[] = []): void {
  sendJson(res, status, { error: { code, message, details } });
}
