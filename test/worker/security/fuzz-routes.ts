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
 * error there must still have the one shape. `text`: the suppressions CSV download, whose error is
 * the API's as one line of text (a download link: the browser shows it as it is).
 */
export type ErrorForm = "json" | "html" | "text";

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
  form?: fc.Arbitrary<Partial<Record<string, string>>>;
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

/**
 * The fuzz runs in groups, one test file each (fuzz-<group>.test.ts): SELF.fetch gets slower with
 * every request a workerd instance has served (cloudflare/workers-sdk#15446: ~6 ms to ~370 ms after
 * 1,500), and each file gets a fresh instance. A group is the routes whose key starts with one of
 * its prefixes; fuzz.test.ts fails if a route is in no group or in two.
 */
export const fuzzGroups = {
  public: ["GET /openapi.json", "GET /docs", "GET /u/", "POST /u/", "GET /t/", "GET / ", "GET /healthz"],
  messages: ["/v1/messages", "/v1/suppressions", "/v1/recipients", "/v1/stats", "/v1/routes", "/v1/bridge", "/v1/sms/inbound", "/v1/audit"],
  settings: ["/v1/email", "/v1/sms/settings", "/v1/push", "/v1/retention", "/v1/providers", "/v1/templates"],
  accounts: ["/v1/domains", "/v1/api-keys", "/v1/webhook-endpoints", "/v1/admin"],
  doors: ["/v1/webhooks", "/v1/inbound"],
  "dashboard-pages": ["GET /dashboard"],
  "dashboard-forms": ["POST /dashboard"],
} as const;
export type FuzzGroup = keyof typeof fuzzGroups;

/** The groups a route is in (by its key, `METHOD /path`, with a space after it so `GET / ` is the root alone). */
export function groupsOf(route: FuzzRoute): FuzzGroup[] {
  const key = `${routeKey(route)} `;
  return (Object.keys(fuzzGroups) as FuzzGroup[]).filter((g) =>
    fuzzGroups[g].some((prefix) => (prefix.includes(" ") ? key.startsWith(prefix) : key.split(" ")[1]!.startsWith(prefix))),
  );
}
