import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 256 * 1024;

/** hono's body limit, answering our error shape. Content-Length is checked before any read. */
export const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(413, "payload_too_large", `the body is over the ${MAX_BODY_BYTES}-byte limit`);
  },
});

/** Reads a JSON body: 415 when it is not declared JSON, 400 when it does not parse. */
export async function readJson(c: Context, alreadyRead?: string): Promise<{ raw: string; value: unknown }> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  const raw = alreadyRead ?? (await c.req.text());
  try {
    return { raw, value: JSON.parse(raw) };
  } catch (e) {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ message: (e as Error).message }]);
  }
}
