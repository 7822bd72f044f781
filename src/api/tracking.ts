/**
 * Open and click tracking (`/t/o/{token}`, `/t/c/{token}`): public, because recipients' mail
 * clients call them; the signed token is the only authority and names the account, the message
 * and, for a click, the index of a link in that message's own html (core/tracking.ts).
 */
import { Hono, type Context } from "hono";
import { ApiError } from "../core/http.ts";
import { verifyTrackingToken, type TrackingClaim } from "../core/tracking.ts";
import { accountRuntime } from "../state/config-read.ts";
import { messageStub } from "../state/stubs.ts";
import type { TrackResult } from "../state/types.ts";
import type { AppEnv } from "./types.ts";

/** The smallest transparent GIF (1×1, 43 bytes). */
const PIXEL = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (ch) => ch.charCodeAt(0));

/** Records the open or click on the message the verified claim names, under its account's privacy setting. */
async function record(c: Context<AppEnv>, claim: TrackingClaim): Promise<TrackResult> {
  const runtime = await accountRuntime(c.env, claim.account);
  return (await messageStub(c.env, claim.account, claim.messageId).track({
    kind: claim.kind,
    index: claim.index,
    method: c.req.method,
    userAgent: c.req.header("user-agent") ?? "",
    ip: c.req.header("cf-connecting-ip") ?? null,
    privacy: runtime.sections.tracking?.privacy ?? "truncated",
    at: new Date().toISOString(),
  })) as TrackResult;
}

export const trackingRoutes = new Hono<AppEnv>()
  // The pixel is the same answer whatever the token: an image that fails would show broken in
  // the reader's mail, and the answer says nothing of whether a token is ours. Only a token we
  // signed records anything; a failure to record still answers the image.
  .get("/o/:token", async (c) => {
    const claim = await verifyTrackingToken(c.env.UNSUBSCRIBE_SECRET, c.req.param("token"), "o");
    if (claim) {
      await record(c, claim).catch((error: unknown) => {
        console.error(JSON.stringify({ msg: "open not recorded", messageId: claim.messageId, error: String(error) }));
      });
    }
    return c.body(PIXEL, 200, { "content-type": "image/gif", "cache-control": "no-store, max-age=0" });
  })
  // A click leads only to the link of that index in the message it names: a forged token is a
  // 400, a message or link that is not there a 404, and neither redirects anywhere.
  .get("/c/:token", async (c) => {
    const claim = await verifyTrackingToken(c.env.UNSUBSCRIBE_SECRET, c.req.param("token"), "c");
    if (!claim) throw new ApiError(400, "invalid_token", "this link is not valid");
    const result = await record(c, claim);
    if (result.kind !== "recorded" || result.url === undefined) throw new ApiError(404, "not_found", "this link leads nowhere any more");
    return c.body(null, 302, { location: result.url, "cache-control": "no-store, max-age=0" });
  });
