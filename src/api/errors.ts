import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

export type ErrorDetail = { path?: string; code?: string; message: string };

/**
 * The one error shape of the API: `{error:{code,message,details}}`. Thrown anywhere in a
 * route and rendered by the app's onError.
 */
export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: ErrorDetail[];
  readonly headers: Record<string, string>;

  constructor(status: ContentfulStatusCode, code: string, message: string, details: ErrorDetail[] = [], headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.headers = headers;
  }
}

export function errorBody(code: string, message: string, details: ErrorDetail[] = []) {
  return { error: { code, message, details } };
}

export function renderError(c: Context, err: ApiError): Response {
  return c.json(errorBody(err.code, err.message, err.details), err.status, err.headers);
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
