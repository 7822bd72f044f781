import type { Context } from "hono";
import { verify, webhookHeaders } from "../core/standard-webhooks.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./types.ts";

/**
 * Checks the Standard Webhooks signature of a request whose body was read as `raw`, before
 * anything parses it: 401 and nothing changed otherwise.
 */
export async function assertSigned(c: Context<AppEnv>, raw: string): Promise<void> {
  const verdict = await verify(c.env.WEBHOOK_SECRET, webhookHeaders(c.req.raw.headers), raw);
  if (!verdict.ok) throw new ApiError(401, "invalid_signature", verdict.reason);
}
