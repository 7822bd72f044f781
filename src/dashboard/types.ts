import type { ExecutionContext } from "hono";
import type { Session } from "./session.ts";

/** The app's own fetch, injected by src/api/app.ts (the dashboard reads through the public API, in process). */
export type ApiFetch = (request: Request, env: Env, ctx: ExecutionContext) => Response | Promise<Response>;

/** An answer of the API: its status and its JSON body (the error shape `{error:{code,message,details}}` when not ok). */
export type ApiAnswer<T = unknown> = { ok: boolean; status: number; body: T };

export type Api = {
  get<T = unknown>(path: string, query?: Record<string, string | undefined>): Promise<ApiAnswer<T>>;
  send<T = unknown>(method: "POST" | "PUT" | "PATCH" | "DELETE", path: string, json?: unknown): Promise<ApiAnswer<T>>;
  /** Whether the API answered 401 to any call: the session's key no longer works (revoked). */
  readonly unauthorized: boolean;
};

export type DashEnv = {
  Bindings: Env;
  Variables: { session: Session; api: Api; csrf: string };
};
