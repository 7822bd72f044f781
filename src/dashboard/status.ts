import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ApiAnswer } from "./types.ts";

/** The page's status: the API's when it failed (a 404 message is a 404 page), else 200. */
export function status(answer: ApiAnswer): ContentfulStatusCode {
  return answer.ok ? 200 : (answer.status as ContentfulStatusCode);
}
