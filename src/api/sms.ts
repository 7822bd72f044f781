import { Hono } from "hono";
import { z } from "zod";
import { accountStub } from "../state/stubs.ts";
import { validationError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

const listQuery = z.strictObject({
  cursor: z.string().regex(/^\d+$/, "use nextCursor from a previous page").optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** `GET /v1/sms/inbound`: the account's MO messages, newest first, with the keyword each one was. */
export const sms = new Hono<AppEnv>().get("/inbound", async (c) => {
  const parsed = listQuery.safeParse(c.req.query());
  if (!parsed.success) throw validationError(parsed.error);
  const { cursor, limit } = parsed.data;
  const page = await accountStub(c.env, c.get("account")).listInbound(cursor === undefined ? undefined : Number(cursor), limit);
  return c.json({ data: page.items, nextCursor: page.nextCursor });
});
