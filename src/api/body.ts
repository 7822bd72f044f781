import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { jsonTextDepthWithin, type DepthVerdict } from "../core/json-depth.ts";
import { ApiError } from "./errors.ts";

export const MAX_BODY_BYTES = 256 * 1024;

/** hono's body limit, answering our error shape. Content-Length is checked before any read. */
export const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ApiError(413, "payload_too_large", `the body is over the ${MAX_BODY_BYTES}-byte limit`);
  },
});

/**
 * Reads a JSON body: 415 when it is not declared JSON, 400 when it nests deeper than
 * MAX_JSON_DEPTH (checked on the text, before anything walks it) or does not parse.
 */
export async function readJson(c: Context, alreadyRead?: string): Promise<{ raw: string; value: unknown }> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  const raw = alreadyRead ?? (await c.req.text());
  const depth = jsonTextDepthWithin(raw);
  if (!depth.ok) throw tooDeep(depth);
  try {
    return { raw, value: JSON.parse(raw) };
  } catch (e) {
    throw new ApiError(400, "invalid_json", "the body is not valid JSON", [{ message: (e as Error).message }]);
  }
}

/** 400 for JSON nested past the limit, naming where. */
export function tooDeep(verdict: Extract<DepthVerdict, { ok: false }>): ApiError {
  return new ApiError(400, "validation_failed", "the request is invalid", [
    { path: verdict.path, code: "too_deep", message: `nested deeper than ${verdict.max} levels of objects and arrays` },
  ]);
}
