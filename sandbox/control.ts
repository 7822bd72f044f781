// The sandbox control API (plain HTTP): lets tests and developers mint subscriptions and read
// back what the simulated providers received. Simulators served over plain HTTP (FCM, the OAuth
// token endpoint) and the control routes of the others plug in as extra routes (see
// apns-routes.ts, fcm-routes.ts).
//   GET    /healthz
//   GET    /_sandbox/received[?channel=webpush]
//   DELETE /_sandbox/received[?channel=webpush]
//   POST   /_sandbox/webpush/subscriptions   {"name"?: string, "applicationServerKey"?: string}
//          (with a key, as PushManager.subscribe({applicationServerKey}): pushes signed with another key get 403)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { readBody, sendEmpty, sendJson } from "./http.ts";
import { CHANNELS, isChannel, type Channel, type ReceivedStore } from "./store.ts";
import type { WebPushService } from "./webpush.ts";

const MAX_BODY_BYTES = 16 * 1024;

export type Route = {
  method: string;
  /** An exact path, or a pattern for paths that carry parameters (e.g. an FCM project id). */
  path: string | RegExp;
  handle: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> | void;
};

export function createControlServer(store: ReceivedStore, webpush: WebPushService, extraRoutes: readonly Route[] = []): Server {
  const routes: Route[] = [
    { method: "GET", path: "/healthz", handle: (_req, res) => sendJson(res, 200, { ok: true }) },
    {
      method: "GET",
      path: "/_sandbox/received",
      handle: (_req, res, url) => {
        const channel = channelParam(res, url);
        if (channel !== false) sendJson(res, 200, store.list(channel));
      },
    },
    {
      method: "DELETE",
      path: "/_sandbox/received",
      handle: (_req, res, url) => {
        const channel = channelParam(res, url);
        if (channel === false) return;
        store.clear(channel);
        sendEmpty(res, 204);
      },
    },
    {
      method: "POST",
      path: "/_sandbox/webpush/subscriptions",
      handle: async (req, res) => {
        const input = await readJsonInput(req, res);
        if (input === null) return;
        if (input.name !== undefined && typeof input.name !== "string") {
          return error(res, 400, "invalid_name", "name must be a string");
        }
        if (
          input.applicationServerKey !== undefined &&
          (typeof input.applicationServerKey !== "string" || !/^[\w-]{87}$/.test(input.applicationServerKey))
        ) {
          return error(res, 400, "invalid_application_server_key", "applicationServerKey must be a base64url uncompressed P-256 point");
        }
        sendJson(res, 201, webpush.createSubscription(input.name, input.applicationServerKey as string | undefined));
      },
    },
    ...extraRoutes,
  ];

  const server = createServer((req, res) => {
    dispatch(routes, req, res).catch((cause: unknown) => {
      if (res.headersSent) res.destroy();
      else error(res, 500, "internal", cause instanceof Error ? cause.message : String(cause));
    });
  });
  server.requestTimeout = 30_000;
  return server;
}

async function dispatch(routes: Route[], req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://sandbox.invalid");
  const onPath = routes.filter((route) => (typeof route.path === "string" ? route.path === url.pathname : route.path.test(url.pathname)));
  if (onPath.length === 0) return error(res, 404, "not_found", `No route for ${req.method} ${url.pathname}`);
  const route = onPath.find((candidate) => candidate.method === req.method);
  if (route === undefined) {
    const allow = onPath.map((candidate) => candidate.method).join(", ");
    return error(res, 405, "method_not_allowed", `${req.method} is not allowed on ${url.pathname}`, { allow });
  }
  await route.handle(req, res, url);
}

/** The optional ?channel= filter; `false` once an error has been sent. */
function channelParam(res: ServerResponse, url: URL): Channel | undefined | false {
  const channel = url.searchParams.get("channel");
  if (channel === null || channel === "") return undefined;
  if (isChannel(channel)) return channel;
  error(res, 400, "unknown_channel", `channel must be one of ${CHANNELS.join(", ")}`);
  return false;
}

/** The request body as a JSON object (empty counts as {}); null once an error has been sent. */
export async function readJsonInput(req: IncomingMessage, res: ServerResponse): Promise<Record<string, unknown> | null> {
  const body = await readBody(req, MAX_BODY_BYTES);
  if (body.oversized) {
    error(res, 413, "too_large", `Body exceeds ${MAX_BODY_BYTES} bytes`);
    return null;
  }
  const input = parseJsonObject(body.bytes);
  if (input === null) error(res, 400, "invalid_json", "Body must be a JSON object (or empty)");
  return input;
}

function parseJsonObject(bytes: Buffer): Record<string, unknown> | null {
  if (bytes.length === 0) return {};
  try {
    const value: unknown = JSON.parse(bytes.toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The phone number in a control path (the pattern's first group); null once an error has been sent. */
export function pathNumber(res: ServerResponse, path: RegExp, pathname: string): string | null {
  try {
    // "+" is often left unencoded in a path; a space is what a form decoder would make of it.
    return decodeURIComponent(path.exec(pathname)![1]!).replace(/^ /, "+");
  } catch {
    error(res, 400, "invalid_number", "the number in the path is not valid percent-encoding");
    return null;
  }
}

/** The control API's error shape, `{error: {code, message}}`. */
export function error(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}
