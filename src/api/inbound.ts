import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { fromBase64 } from "../core/bytes.ts";
import { ingestFeedbackEmail } from "../webhooks/inbound-email.ts";
import { readJson } from "./body.ts";
import { assertSigned } from "./signed.ts";
import { ApiError, validationError } from "./errors.ts";
import type { AppEnv } from "./types.ts";

/** The bridge caps inbound mail at 10 MiB; base64 and JSON add a third. */
const MAX_INBOUND_BYTES = 16 * 1024 * 1024;

const inboundEmail = z.strictObject({
  to: z.string().min(3),
  from: z.string(),
  raw: z.base64(),
});

/**
 * `POST /v1/inbound/email`: the bridge's inbound SMTP server hands over one message per
 * recipient, signed like every bridge call. 202 means enqueued (the bridge then answers
 * 250 to the sending MTA); 422 `not_ours` makes it answer 550; anything else makes it 451,
 * so the sender retries and nothing is lost.
 */
export const inbound = new Hono<AppEnv>().post(
  "/email",
  bodyLimit({
    maxSize: MAX_INBOUND_BYTES,
    onError: () => {
      throw new ApiError(413, "payload_too_large", `the body is over the ${MAX_INBOUND_BYTES}-byte limit`);
    },
  }),
  async (c) => {
    const raw = await c.req.text();
    await assertSigned(c, raw);
    const { value } = await readJson(c, raw);
    const parsed = inboundEmail.safeParse(value);
    if (!parsed.success) throw validationError(parsed.error);
    const result = await ingestFeedbackEmail(c.env, fromBase64(parsed.data.raw), parsed.data.to);
    if (result.outcome === "not_ours") throw new ApiError(422, "not_ours", `${parsed.data.to} is not at a bounce domain of this deployment`);
    return c.json(result, 202);
  },
);
