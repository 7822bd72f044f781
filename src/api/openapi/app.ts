/** The app's own routes (src/api/app.ts): who it is, and whether it is up. */
import { healthResponse, rootResponse } from "../../core/api-responses.ts";
import type { ApiRoute } from "./registry.ts";

export const appRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/",
    tag: "Service",
    summary: "Name and API root",
    auth: "public",
    responses: { 200: { description: "the service", schema: rootResponse } },
  },
  {
    method: "get",
    path: "/healthz",
    tag: "Service",
    summary: "Liveness",
    auth: "public",
    responses: { 200: { description: "up", schema: healthResponse } },
  },
];
