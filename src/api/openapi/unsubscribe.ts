/** `/u/{token}` (src/api/unsubscribe.tsx): RFC 8058 one-click unsubscribe; the signed token is the authority. */
import { z } from "zod";
import type { ApiRoute } from "./registry.ts";

const params = z.object({ token: z.string().describe("the signed token of the message's List-Unsubscribe link") });

export const unsubscribeRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/u/{token}",
    tag: "Unsubscribe",
    summary: "The unsubscribe page",
    description: "A page whose button POSTs: link scanners fetch every URL in a message and must not unsubscribe anyone.",
    auth: "public",
    params,
    responses: { 200: { description: "the page", schema: z.string(), contentType: "text/html" } },
    errors: [400],
  },
  {
    method: "post",
    path: "/u/{token}",
    tag: "Unsubscribe",
    summary: "Unsubscribe (one click)",
    auth: "public",
    params,
    body: {
      contentType: "application/x-www-form-urlencoded",
      schema: z.object({ "List-Unsubscribe": z.literal("One-Click") }),
    },
    responses: { 200: { description: "done: a confirmation page", schema: z.string(), contentType: "text/html" } },
    errors: [400, 413],
  },
];
