import { Hono } from "hono";
import { z } from "zod";
import { fromBase64 } from "../core/bytes.ts";
import { channelParam } from "../core/schema.ts";
import { recipientKeyFromPath } from "../core/recipient.ts";
import type { Channel } from "../core/model.ts";
import { accountStub, recipientStub } from "../state/stubs.ts";
import { ApiError, validationError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

const listQuery = z.strictObject({
  channel: channelParam.optional(),
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

function decodeCursor(cursor: string | undefined): [string, string] | undefined {
  if (!cursor) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(fromBase64(cursor)));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string")) return value as [string, string];
  } catch {
    // fall through to the error below
  }
  throw new ApiError(400, "validation_failed", "the cursor is invalid", [
    { path: "cursor", message: "use nextCursor from a previous page" },
  ]);
}

/** Parses `/:channel/:recipient`; push tokens and endpoints are addressed by their SHA-256. */
function target(account: string, channelText: string, recipientText: string) {
  const channel = channelParam.safeParse(channelText);
  if (!channel.success) throw new ApiError(404, "not_found", `no channel ${channelText}`);
  const key = recipientKeyFromPath(channel.data, recipientText);
  if (!key) {
    const hint =
      channel.data === "email" || channel.data === "sms" ? "an address or E.164 number" : "the SHA-256 hex of the token or endpoint";
    throw new ApiError(400, "validation_failed", "the recipient is invalid", [{ path: "recipient", message: `address it as ${hint}` }]);
  }
  return { account, channel: channel.data as Channel, recipientKey: key, recipient: key };
}

export const suppressions = new Hono<AppEnv>()
  .get("/", async (c) => {
    const parsed = listQuery.safeParse(c.req.query());
    if (!parsed.success) throw validationError(parsed.error);
    const { channel, cursor, limit } = parsed.data;
    const page = await accountStub(c.env, c.get("account")).listSuppressions(channel, decodeCursor(cursor), limit);
    return c.json({ data: page.items, nextCursor: page.nextCursor });
  })
  .get("/:channel/:recipient", async (c) => {
    const t = target(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
    const entry = await recipientStub(c.env, t.account, t.channel, t.recipientKey).check();
    if (!entry) throw new ApiError(404, "not_found", "this recipient is not suppressed");
    return c.json(entry);
  })
  .put("/:channel/:recipient", async (c) => {
    const t = target(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
    const entry = await recipientStub(c.env, t.account, t.channel, t.recipientKey).suppress(
      { ...t, reason: "manual", at: new Date().toISOString() },
      true,
    );
    return c.json(entry, 200);
  })
  .delete("/:channel/:recipient", async (c) => {
    const t = target(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
    const existed = await recipientStub(c.env, t.account, t.channel, t.recipientKey).unsuppress(t);
    if (!existed) throw new ApiError(404, "not_found", "this recipient is not suppressed");
    return c.body(null, 204);
  });
