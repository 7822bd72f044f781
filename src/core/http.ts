/**
 * What the edge's API (src/api) and the bridge's (bridge/src/server.ts) answer alike: one error
 * shape, one JSON reader, one signature check per door. Web-standard only (Headers, strings,
 * Web Crypto), so the Worker and Node run the same code; each app renders `ApiError` in its
 * Hono `onError` and limits bodies with Hono's `bodyLimit` throwing `payloadTooLarge`.
 */
import type { z } from "zod";
import { jsonTextDepthWithin, type DepthVerdict } from "./json-depth.ts";
import { doorSecret, verify, webhookHeaders, type HeaderSource } from "./standard-webhooks.ts";

/** The statuses an error answers with (a subset of Hono's ContentfulStatusCode, so `c.json` takes it). */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503;

export type ErrorDetail = { path?: string; code?: string; message: string };

export function errorBody(code: string, message: string, details: ErrorDetail[] = []) {
  return { error: { code, message, details } };
}

/**
 * The one error shape of both APIs: `{error:{code,message,details}}`. Thrown anywhere in a
 * route and rendered by the app's onError (`c.json(err.body(), err.status, err.headers)`).
 */
export class ApiError extends Error {
  readonly status: ErrorStatus;
  readonly code: string;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(status: ErrorStatus, code: string, message: string, details: ErrorDetail[] = [], headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }

  body() {
    return errorBody(this.code, this.message, this.details);
  }
}

/** One detail per invalid field, with its dotted path (zod's issue paths). */
export function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    code: issue.code,
    message: issue.message,
  }));
}

export function validationError(error: z.ZodError, message = "the request is invalid"): ApiError {
  return new ApiError(400, "validation_failed", message, zodDetails(error));
}

/** What Hono's `bodyLimit` throws on both sides (`onError`), declared or streamed. */
export function payloadTooLarge(maxBytes: number): ApiError {
  return new ApiError(413, "payload_too_large", `the body is over the ${maxBytes}-byte limit`);
}

/** A body read as `raw`, as JSON: 415 when it is not declared JSON, 400 when it does not parse. */
export function readJson(headers: Headers, raw: string): unknown {
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(headers.get("content-type") ?? "")) {
    throw new ApiError(415, "unsupported_media_type", "send the body as application/json");
  }
  return parseJsonText(raw);
}

/** JSON whatever the content type says (SNS posts JSON as text/plain): the nesting cap, then 400 if it does not parse. */
export function parseJsonText(raw: string): unknown {
  // Nesting is judged on the text, before JSON.parse, zod or any recursive walker sees it.
  const depth = jsonTextDepthWithin(raw);
  if (!depth.ok) throw tooDeep(depth);
  try {
    return JSON.parse(raw);
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

/**
 * Checks the Standard Webhooks signature of a request to `door` (its path) whose body was read
 * as `raw`, before anything parses it: 401 and nothing done otherwise. The key is the door's
 * (`doorSecret` of the platform secret), so a body signed for another door does not verify here.
 */
export async function assertSigned(secret: string, door: string, headers: HeaderSource, raw: string, now = Date.now()): Promise<void> {
  const verdict = await verify(await doorSecret(secret, door), webhookHeaders(headers), raw, now);
  if (!verdict.ok) throw new ApiError(401, "invalid_signature", verdict.reason);
}
