import { Hono } from "hono";
import { inboundListQuery } from "../core/api-requests.ts";
import { accountStub } from "../state/stubs.ts";
import { validationError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

/** `GET /v1/sms/inbound`: the account's MO messages, newest first, with the keyword each one was. */
export const sms = new Hono<AppEnv>().get("/inbound", async (c) => {
  const parsed = inboundListQuery.safeParse(c.req.query());
  if (!parsed.success) throw validationError(parsed.error);
  const { cursor, limit } = parsed.data;
  const page = await accountStub(c.env, c.get("account")).listInbound(cursor === undefined ? undefined : Number(cursor), limit);
  return c.json({ data: page.items, nextCursor: page.nextCursor });
});
