import { createMiddleware } from "hono/factory";
import { ApiError } from "../core/http.ts";
import { checkSignatureHeaders, webhookHeaders } from "../core/standard-webhooks.ts";
import type { AppEnv } from "./types.ts";

/**
 * 401 before any byte of the body is read when the Standard Webhooks headers cannot be valid
 * (missing, malformed, outside the 5-minute tolerance): an unsigned or replayed-late request
 * costs no read. The signature over the body is still verified once it is read (assertSigned).
 */
export const signatureHeadersFirst = createMiddleware<AppEnv>(async (c, next) => {
  const verdict = checkSignatureHeaders(webhookHeaders(c.req.raw.headers));
  if (!verdict.ok) throw new ApiError(401, "invalid_signature", verdict.reason);
  await next();
});
