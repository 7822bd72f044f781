/**
 * The documented route of a concrete request, and the schema of the answer it documents for a
 * status: what the tests use to hold the API's real answers (and the README's examples) to the
 * document, through the same zod schemas it was generated from.
 */
import type { z } from "zod";
import { apiRoutes } from "./document.ts";
import { errorSchema, routeErrors, type ApiRoute } from "./registry.ts";

const matchers = apiRoutes.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/\{[^}]+\}/g, "[^/]+")}$`),
}));

/** The route documented for `method` and a concrete `path` (placeholders and real values fill `{param}`). */
export function findRoute(method: string, path: string): ApiRoute | undefined {
  const m = method.toLowerCase();
  return matchers.find(({ route, pattern }) => route.method === m && pattern.test(path))?.route;
}

/**
 * The documented answer for a status: its schema (undefined for an empty body), or null when the
 * route documents no such status. Errors are the Error schema.
 */
export function documentedAnswer(route: ApiRoute, status: number): { schema?: z.ZodType; contentType: string } | null {
  const answer = route.responses[status];
  if (answer) return { ...(answer.schema ? { schema: answer.schema } : {}), contentType: answer.contentType ?? "application/json" };
  if (status >= 400 && (routeErrors(route) as number[]).includes(status)) return { schema: errorSchema, contentType: "application/json" };
  return null;
}
