/** `/t/o/{token}`, `/t/c/{token}` (src/api/tracking.ts): open and click tracking; the signed token is the authority. */
import { z } from "zod";
import type { ApiRoute } from "./registry.ts";

const params = z.object({ token: z.string().describe("the signed token lasthop wrote into the message's html") });

export const trackingRoutes: ApiRoute[] = [
  {
    method: "get",
    path: "/t/o/{token}",
    tag: "Tracking",
    summary: "The open pixel",
    description:
      "A 1×1 transparent GIF, `Cache-Control: no-store`, whatever the token (the answer says nothing of its validity). A token lasthop signed records an `opened` event on its message (`machine`, `first`, IP and user agent per the account's `tracking.privacy`); any other records nothing.",
    auth: "public",
    params,
    responses: { 200: { description: "the pixel", schema: z.string(), contentType: "image/gif" } },
  },
  {
    method: "get",
    path: "/t/c/{token}",
    tag: "Tracking",
    summary: "A tracked link",
    description:
      "302 to the link of that index in the message's own html, and a `clicked` event on the message. The token carries the index, never the URL, so it can lead nowhere the message did not: a forged or altered token is a 400, a link or message that is not there a 404, and neither redirects.",
    auth: "public",
    params,
    responses: { 302: { description: "to the original link (`Location`)" } },
    errors: [400, 404],
  },
];
