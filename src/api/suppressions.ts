import { Hono } from "hono";
import { suppressionCheckRequest, suppressionListQuery } from "../core/api-requests.ts";
import { fromBase64 } from "../core/bytes.ts";
import { channelParam } from "../core/schema.ts";
import { recipientKey, recipientKeyFromPath } from "../core/recipient.ts";
import { optOutKey } from "../core/sms/account.ts";
import type { Channel } from "../core/model.ts";
import { accountStub, recipientStub } from "../state/stubs.ts";
import { ApiError, readJson, validationError } from "../core/http.ts";
import { limitBody } from "./body.ts";
import type { AppEnv } from "./types.ts";

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
export function recipientTarget(account: string, channelText: string, recipientText: string) {
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

/**
 * Which of up to 1,000 recipients are suppressed, with why and since when: for a team that
 * sends elsewhere and filters its list first. One read of the account's suppression index.
 */
async function check(env: Env, account: string, body: unknown) {
  const parsed = suppressionCheckRequest.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error);
  const { channel, recipients, from } = parsed.data;
  const keys = await Promise.all(recipients.map((r) => recipientKey(channel, r)));
  const pairs = channel === "sms" && from ? recipients.map((r) => optOutKey(r, from)) : [];
  const found = await accountStub(env, account).suppressedAmong(channel, [...new Set([...keys, ...pairs])]);
  const byKey = new Map(found.map((entry) => [entry.recipientKey, entry]));
  const data = recipients.map((recipient, i) => {
    // The recipient's own entry first: a dead number is dead for every sender.
    const entry = byKey.get(keys[i]!) ?? (pairs[i] ? byKey.get(pairs[i]) : undefined);
    return entry
      ? { recipient, suppressed: true, reason: entry.reason, at: entry.at, ...(entry.recipientKey === pairs[i] ? { from } : {}) }
      : { recipient, suppressed: false };
  });
  return { data, suppressed: data.filter((d) => d.suppressed).length };
}

export const suppressions = new Hono<AppEnv>()
  .post("/check", limitBody, async (c) => c.json(await check(c.env, c.get("account"), readJson(c.req.raw.headers, await c.req.text()))))
  .get("/", async (c) => {
    const parsed = suppressionListQuery.safeParse(c.req.query());
    if (!parsed.success) throw validationError(parsed.error);
    const { channel, cursor, limit } = parsed.data;
    const page = await accountStub(c.env, c.get("account")).listSuppressions(channel, decodeCursor(cursor), limit);
    return c.json({ data: page.items, nextCursor: page.nextCursor });
  })
  .get("/:channel/:recipient", async (c) => {
    const t = recipientTarget(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
    const entry = await recipientStub(c.env, t.account, t.channel, t.recipientKey).check();
    if (!entry) throw new ApiError(404, "not_found", "this recipient is not suppressed");
    return c.json(entry);
  })
  .put("/:channel/:recipient", async (c) => {
    const t = recipientTarget(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
    const entry = await recipientStub(c.env, t.account, t.channel, t.recipientKey).suppress(
      { ...t, reason: "manual", at: new Date().toISOString() },
      true,
    );
    return c.json(entry, 200);
  })
  .delete("/:channel/:recipient", async (c) => {
    const t = recipientTarget(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
    const existed = await recipientStub(c.env, t.account, t.channel, t.recipientKey).unsuppress(t);
    if (!existed) throw new ApiError(404, "not_found", "this recipient is not suppressed");
    return c.body(null, 204);
  });
