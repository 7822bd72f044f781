/**
 * `DELETE /v1/recipients/{channel}/{recipient}`: erases a recipient's personal data (see
 * erasure.ts). The recipient is addressed as in `/v1/suppressions`: an address, an E.164
 * number, or a push token's SHA-256 hex. 200 `{done, messages, inbound, suppressions}`;
 * `done: false` when more messages remain than one request erases: call again.
 */
import { Hono } from "hono";
import { eraseRecipient } from "./erasure.ts";
import { recipientTarget } from "./suppressions.ts";
import type { AppEnv } from "./types.ts";

export const recipients = new Hono<AppEnv>().delete("/:channel/:recipient", async (c) => {
  const t = recipientTarget(c.get("account"), c.req.param("channel"), c.req.param("recipient"));
  const result = await eraseRecipient(c.env, t.account, c.get("key").keyId, t.channel, t.recipientKey, c.req.param("recipient"));
  return c.json(result);
});
