import { Hono } from "hono";
import { auditQuery } from "../core/api-requests.ts";
import { validationError } from "../core/http.ts";
import type { AuditPage } from "../state/config.ts";
import { configStub } from "../state/stubs.ts";
import type { AppEnv } from "./types.ts";

/** `GET /v1/audit`: every configuration change of the account, newest first, secrets masked. */
export const audit = new Hono<AppEnv>().get("/", async (c) => {
  const parsed = auditQuery.safeParse(c.req.query());
  if (!parsed.success) throw validationError(parsed.error);
  const account = c.get("account");
  const { cursor, limit } = parsed.data;
  const page = (await configStub(c.env, account).auditLog(
    account,
    cursor === undefined ? null : Number(cursor),
    limit,
  )) as unknown as AuditPage;
  return c.json({ data: page.items, nextCursor: page.nextCursor });
});
