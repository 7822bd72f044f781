/**
 * Every route the fuzz calls: the OpenAPI document's route list (src/api/openapi/, the handlers'
 * own zod schemas) plus what it does not describe (the document itself, its reference page and
 * the dashboard's pages and forms). `missingFrom` compares the list with `app.routes`, so a
 * route added to the app without joining the fuzz fails the suite.
 */
import fc from "fast-check";
import { z } from "zod";
import type { ApiRoute, Auth } from "../../../src/api/openapi/registry.ts";
import { apiRoutes } from "../../../src/api/openapi/document.ts";

/** Who may call a route: the OpenAPI document's doors, and the dashboard's session cookie. */
export type FuzzAuth = Auth | "dashboard";

/**
 * How a route answers an error. `json`: exactly `{error:{code,message,details}}`. `html`: a page
 * (the dashboard, whose errors are pages a browser shows, or a 303 to sign-in), though a JSON
 * error there must still have the one shape.
 */
export type ErrorForm = "json" | "html";

export type FuzzRoute = {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** OpenAPI form: `{param}`. */
  path: string;
  auth: FuzzAuth;
  errors: ErrorForm;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** The body's schema (JSON, or a form when `contentType` says so). */
  body?: z.ZodType;
  contentType?: string;
  /** A dashboard form's valid-shaped fields (it has no zod schema: the API behind it validates). */
  form?: fc.Arbitrary<Record<string, string>>;
};

const fromApi = (r: ApiRoute): FuzzRoute => {
  const body = r.body === undefined ? undefined : r.body instanceof z.ZodType ? { schema: r.body } : r.body;
  return {
    method: r.method.toUpperCase() as FuzzRoute["method"],
    path: r.path,
    auth: r.auth,
    errors: "json",
    params: r.params,
    query: r.query,
    headers: r.headers,
    body: body?.schema,
    contentType: body && "contentType" in body ? body.contentType : body ? "application/json" : undefined,
  };
};

const isoDate = fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
const channel = fc.constantFrom("email", "sms", "webpush", "apns", "fcm");
/** Dashboard fields, valid-shaped. */
const field = {
  channel,
  recipient: fc.oneof(fc.emailAddress(), fc.stringMatching(/^\+1555\d{7}$/)),
  url: fc.webUrl(),
  description: fc.string({ maxLength: 40 }),
  enabled: fc.constantFrom("true", "false"),
  since: isoDate,
  until: isoDate,
  name: fc.string({ minLength: 1, maxLength: 20 }),
  scopes: fc.constantFrom("read", "send", "suppressions:write", "config:write", "keys:write"),
  domain: fc.domain(),
  key: fc.constantFrom("lh_nobody", ""),
  next: fc.constantFrom("/dashboard", "/dashboard/messages", "https://evil.example", "//evil.example", "/dashboard\\..\\x"),
};
const form = (...names: (keyof typeof field)[]) =>
  fc.record(Object.fromEntries(names.map((n) => [n, field[n]])) as Record<string, fc.Arbitrary<string>>, { requiredKeys: [] });
const dashQuery = z.object({
  channel: z.string().optional(),
  recipient: z.string().optional(),
  status: z.string().optional(),
  cursor: z.string().optional(),
  tag: z.string().optional(),
  next: z.string().optional(),
});
const idParam = z.object({ id: z.string() });

const page = (method: FuzzRoute["method"], path: string, extra: Partial<FuzzRoute> = {}): FuzzRoute => ({
  method,
  path,
  auth: "dashboard",
  errors: "html",
  query: dashQuery,
  ...(method === "POST" ? { contentType: "application/x-www-form-urlencoded", form: form() } : {}),
  ...extra,
});

/** What the OpenAPI document does not describe: the document, its reference, the dashboard. */
const unlisted: FuzzRoute[] = [
  { method: "GET", path: "/openapi.json", auth: "public", errors: "json" },
  { method: "GET", path: "/docs", auth: "public", errors: "html" },
  { method: "GET", path: "/docs/swagger-ui-bundle.js", auth: "public", errors: "html" },
  { method: "GET", path: "/docs/swagger-ui.css", auth: "public", errors: "html" },
  { method: "GET", path: "/docs/init.js", auth: "public", errors: "html" },
  page("GET", "/dashboard/static/app.css", { auth: "public" }),
  page("GET", "/dashboard/sign-in", { auth: "public" }),
  page("POST", "/dashboard/sign-in", { auth: "public", form: form("key", "next") }),
  page("POST", "/dashboard/sign-out"),
  page("GET", "/dashboard"),
  page("GET", "/dashboard/messages"),
  page("GET", "/dashboard/messages/{id}", { params: idParam }),
  page("GET", "/dashboard/suppressions"),
  page("GET", "/dashboard/suppressions.csv", { errors: "text" }),
  page("POST", "/dashboard/suppressions/add", { form: form("channel", "recipient") }),
  page("GET", "/dashboard/suppressions/remove"),
  page("POST", "/dashboard/suppressions/remove", { form: form("channel", "recipient") }),
  page("GET", "/dashboard/webhooks"),
  page("POST", "/dashboard/webhooks", { form: form("url", "description") }),
  page("GET", "/dashboard/webhooks/{id}", { params: idParam }),
  page("POST", "/dashboard/webhooks/{id}/enabled", { params: idParam, form: form("enabled") }),
  page("POST", "/dashboard/webhooks/{id}/rotate", { params: idParam }),
  page("POST", "/dashboard/webhooks/{id}/recover", { params: idParam, form: form("since", "until") }),
  page("GET", "/dashboard/settings"),
  page("POST", "/dashboard/settings/keys", { form: form("name", "scopes") }),
  page("GET", "/dashboard/settings/keys/{id}/revoke", { params: idParam }),
  page("POST", "/dashboard/settings/keys/{id}/revoke", { params: idParam }),
  page("POST", "/dashboard/settings/domains", { form: form("domain") }),
  page("POST", "/dashboard/settings/domains/{domain}/verify", { params: z.object({ domain: z.string() }) }),
];

export const fuzzRoutes: FuzzRoute[] = [...apiRoutes.map(fromApi), ...unlisted];

/** `METHOD /path/{param}` of each app route (Hono's `:param`), middleware and catch-alls left out. */
export function appRouteKeys(routes: readonly { method: string; path: string }[]): string[] {
  const keys = routes
    .filter((r) => r.method !== "ALL" && !r.path.endsWith("*"))
    .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}").replace(/(.)\/$/, "$1")}`);
  return [...new Set(keys)].sort();
}

export const routeKey = (r: Pick<FuzzRoute, "method" | "path">) => `${r.method} ${r.path}`;
