/**
 * How one route is described: a plain object per operation (`ApiRoute`), listed by the file of
 * its group (mirroring src/api/*.ts), with the same zod schemas the handler validates with.
 * `describe()` turns it into a zod-to-openapi path: the error responses it can answer all
 * reference the one Error component, and the security its door takes is stated with the scope
 * an API key needs (from scopes.ts, the table app.ts enforces). Runtime-neutral: Node loads it
 * to validate the document and to write docs/openapi.json.
 *
 * @example a new route is one more entry in its group's list:
 * { method: "delete", path: "/v1/recipients/{channel}/{recipient}", tag: "Recipients", auth: "apiKey",
 *   summary: "Forget a recipient", params: recipientParams, responses: { 204: { description: "forgotten" } }, errors: [400, 404] }
 */
import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { errorResponse } from "../../core/api-responses.ts";
import { scopeFor } from "../scopes.ts";

/** The error component every 4xx/5xx response references. */
export const errorSchema = errorResponse.meta({ id: "Error" });

/** The signed doors' schemes (declared in document.ts), by name. */
export const signedSchemes = [
  "bridgeSignature",
  "twilioSignature",
  "sendgridSignature",
  "snsSignature",
  "mailgunSignature",
  "postmarkBasic",
  "svixSignature",
  "standardWebhooksSignature",
  "vonageSignature",
] as const;
export type SignedScheme = (typeof signedSchemes)[number];

/** Who may call a route: an account's API key, the platform admin key, a signed sender, or anyone. */
export type Auth = "apiKey" | "adminKey" | "public" | readonly SignedScheme[];

export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502;

export type Answer = {
  description: string;
  /** JSON unless `contentType` says otherwise; no schema: an empty body. */
  schema?: z.ZodType;
  contentType?: string;
};

type Body = z.ZodType | { contentType: string; schema: z.ZodType; description?: string };

export type ApiRoute = {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI form: `{param}` where Hono writes `:param`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  auth: Auth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** A JSON body by default. */
  body?: Body;
  responses: Record<number, Answer>;
  /** What the route itself can answer besides its auth's (401, 403, 429 come with `apiKey`). */
  errors?: readonly ErrorStatus[];
};

const errorText: Record<ErrorStatus, string> = {
  400: "invalid request: `details` names each field (validation_failed, invalid_json, …)",
  401: "no valid credentials or signature (unauthorized, invalid_signature)",
  403: "the key lacks the scope (insufficient_scope) or the account is disabled (account_disabled)",
  404: "not found",
  405: "method not allowed",
  409: "conflict",
  413: "the body is over the route's limit (payload_too_large, event_too_large)",
  415: "the body is not declared application/json (unsupported_media_type)",
  422: "valid JSON the platform cannot act on (see `code`)",
  429: "over the API key's rate limit (rate_limited); `Retry-After` says when to retry",
  500: "something went wrong on our side (internal_error); retry, with the same Idempotency-Key for a send",
  502: "an upstream the route needs did not answer",
};

/** The JSON body's errors: malformed or invalid (400), over the limit (413), not JSON (415). */
export const JSON_BODY_ERRORS = [400, 413, 415] as const satisfies readonly ErrorStatus[];

/** What a route's door itself can answer: 401, and with an API key 403 (scope, disabled account) and 429. */
export function authErrors(auth: Auth): ErrorStatus[] {
  if (auth === "apiKey") return [401, 403, 429];
  if (auth === "public") return [];
  return [401];
}

/**
 * Every error status a route documents: its door's, its own, and 500, which any route answers
 * when something fails on our side (app.ts onError: `internal_error`, retry with the same
 * Idempotency-Key).
 */
export function routeErrors(route: ApiRoute): ErrorStatus[] {
  return [...new Set([...authErrors(route.auth), ...(route.errors ?? []), 500 as const])].sort((a, b) => a - b);
}

function security(auth: Auth): RouteConfig["security"] {
  if (auth === "public") return [];
  if (auth === "apiKey") return [{ apiKey: [] }];
  if (auth === "adminKey") return [{ adminKey: [] }];
  return auth.map((scheme) => ({ [scheme]: [] }));
}

function content(schema: z.ZodType, contentType = "application/json") {
  return { [contentType]: { schema } };
}

/** The zod-to-openapi path of one route. */
export function routeConfig(route: ApiRoute): RouteConfig & { "x-scopes"?: string[] } {
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, answer] of Object.entries(route.responses)) {
    responses[status] = {
      description: answer.description,
      ...(answer.schema ? { content: content(answer.schema, answer.contentType) } : {}),
    };
  }
  const errors = routeErrors(route);
  for (const status of errors) {
    responses[status] = {
      description: errorText[status],
      content: content(errorSchema),
      ...(status === 429 ? { headers: { "Retry-After": { description: "seconds", schema: { type: "integer" } } } } : {}),
    };
  }
  const scope = route.auth === "apiKey" ? scopeFor(route.method, route.path) : null;
  if (route.auth === "apiKey" && !scope) throw new Error(`${route.method} ${route.path}: no scope in scopes.ts covers this path`);
  const body = route.body;
  return {
    method: route.method,
    path: route.path,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description || scope
      ? { description: [route.description, scope ? `Needs an API key with the \`${scope}\` scope.` : ""].filter(Boolean).join("\n\n") }
      : {}),
    operationId: operationId(route.method, route.path),
    security: security(route.auth),
    ...(scope ? { "x-scopes": [scope] } : {}),
    request: {
      ...(route.params ? { params: route.params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.headers ? { headers: route.headers } : {}),
      ...(body
        ? {
            body:
              body instanceof z.ZodType
                ? { required: true, content: content(body) }
                : {
                    required: true,
                    content: content(body.schema, body.contentType),
                    ...(body.description ? { description: body.description } : {}),
                  },
          }
        : {}),
    },
    responses,
  };
}

/** `post /v1/webhook-endpoints/{id}/rotate-secret` → `postV1WebhookEndpointsIdRotateSecret`: stable, readable, unique per method+path. */
function operationId(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

export function registerRoutes(registry: OpenAPIRegistry, routes: readonly ApiRoute[]): void {
  for (const route of routes) registry.registerPath(routeConfig(route));
}
