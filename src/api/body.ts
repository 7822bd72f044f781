import { bodyLimit } from "hono/body-limit";
import { payloadTooLarge } from "../core/http.ts";

export const MAX_BODY_BYTES = 256 * 1024;

/** hono's body limit, answering our error shape. Content-Length is checked before any read. */
export function limitBodyTo(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw payloadTooLarge(maxSize);
    },
  });
}

export const limitBody = limitBodyTo(MAX_BODY_BYTES);
