/**
 * Calls the public API in process: a real `Request` for `/v1/...` with the signed-in key as its
 * bearer, through the app's own fetch. Scopes, rate limits, validation and errors are the API's
 * own; the dashboard only renders what it answers.
 */
import type { ExecutionContext } from "hono";
import type { Api, ApiAnswer, ApiFetch } from "./types.ts";

/** Hono throws when a context has no execution context (a direct call in a test): give it a harmless one. */
function executionContext(c: { executionCtx: ExecutionContext }): ExecutionContext {
  try {
    return c.executionCtx;
  } catch {
    return { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;
  }
}

/** Query parameters without the empty ones: an empty form field means "no filter", which the API's strict schemas spell as absent. */
export function cleanQuery(query: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => typeof e[1] === "string" && e[1].trim() !== ""));
}

export function apiClient(fetchApi: ApiFetch, c: { req: { url: string }; env: Env; executionCtx: ExecutionContext }, key: string): Api {
  const origin = new URL(c.req.url).origin;
  const state = { unauthorized: false };
  const call = async <T>(method: string, path: string, json?: unknown): Promise<ApiAnswer<T>> => {
    const headers = new Headers({ authorization: `Bearer ${key}`, accept: "application/json" });
    if (json !== undefined) headers.set("content-type", "application/json");
    const request = new Request(`${origin}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    const res = await fetchApi(request, c.env, executionContext(c));
    if (res.status === 401) state.unauthorized = true;
    const text = await res.text();
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = { error: { code: "not_json", message: text.slice(0, 200), details: [] } };
    }
    return { ok: res.ok, status: res.status, body: body as T };
  };
  return {
    get: <T>(path: string, query: Record<string, string | undefined> = {}) => {
      const params = new URLSearchParams(cleanQuery(query)).toString();
      return call<T>("GET", params ? `${path}?${params}` : path);
    },
    send: <T>(method: string, path: string, json?: unknown) => call<T>(method, path, json),
    get unauthorized() {
      return state.unauthorized;
    },
  };
}

/** What to show for a failed answer: its status and the API's own message. */
export function errorText(answer: ApiAnswer): string {
  const error = (answer.body as { error?: { code?: string; message?: string; details?: Array<{ path?: string; message: string }> } })
    ?.error;
  const details = (error?.details ?? []).map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join("; ");
  return `${answer.status} ${error?.code ?? "error"}: ${error?.message ?? "no message"}${details ? ` (${details})` : ""}`;
}
