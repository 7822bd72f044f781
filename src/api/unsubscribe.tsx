import { Hono } from "hono";
import type { FC, PropsWithChildren } from "hono/jsx";
import { verifyUnsubscribeToken, type UnsubscribeClaim } from "../core/email.ts";
import { normalizeEmail } from "../core/recipient.ts";
import { messageStub, recipientStub } from "../state/stubs.ts";
import type { ApplyResult } from "../state/types.ts";
import { ApiError } from "../core/http.ts";
import type { AppEnv } from "./types.ts";

const Page: FC<PropsWithChildren<{ title: string }>> = ({ title, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{title}</title>
    </head>
    <body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem">
      <h1 style="font-size: 1.4rem">{title}</h1>
      {children}
    </body>
  </html>
);

async function claimOf(secret: string, token: string): Promise<UnsubscribeClaim> {
  const claim = await verifyUnsubscribeToken(secret, token);
  if (!claim) throw new ApiError(400, "invalid_token", "this unsubscribe link is not valid");
  return claim;
}

/** Records the unsubscribe on the message (which suppresses through its outbox); idempotent by event id. */
async function unsubscribe(env: Env, claim: UnsubscribeClaim): Promise<void> {
  const result = (await messageStub(env, claim.account, claim.messageId).apply({
    id: `${claim.messageId}:unsubscribe`,
    type: "unsubscribed",
    occurredAt: new Date().toISOString(),
    provider: "lasthop",
    detail: { method: "one-click" },
  })) as ApplyResult;
  if (result.kind !== "unknown") return;
  // The message is gone (or never was ours to keep): the recipient still gets what they asked for.
  const key = normalizeEmail(claim.recipient);
  await recipientStub(env, claim.account, "email", key).suppress({
    account: claim.account,
    channel: "email",
    recipientKey: key,
    recipient: key,
    reason: "unsubscribe",
    at: new Date().toISOString(),
    messageId: claim.messageId,
  });
}

/**
 * RFC 8058 one-click unsubscribe. Mail clients POST `List-Unsubscribe=One-Click` with no
 * cookies or auth: the signed token is the authority. GET shows a page whose button POSTs,
 * because link scanners fetch every URL in a message and must not unsubscribe anyone.
 */
export const unsubscribeRoutes = new Hono<AppEnv>()
  .get("/:token", async (c) => {
    await claimOf(c.env.UNSUBSCRIBE_SECRET, c.req.param("token"));
    return c.html(
      <Page title="Unsubscribe">
        <p>Stop receiving these emails at this address?</p>
        <form method="post">
          <input type="hidden" name="List-Unsubscribe" value="One-Click" />
          <button type="submit">Unsubscribe</button>
        </form>
      </Page>,
    );
  })
  .post("/:token", async (c) => {
    const claim = await claimOf(c.env.UNSUBSCRIBE_SECRET, c.req.param("token"));
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (body["List-Unsubscribe"] !== "One-Click") {
      throw new ApiError(400, "validation_failed", "the body must be List-Unsubscribe=One-Click (RFC 8058)", [
        { path: "List-Unsubscribe", message: "must be One-Click" },
      ]);
    }
    await unsubscribe(c.env, claim);
    return c.html(
      <Page title="You are unsubscribed">
        <p>This address will not receive these emails any more.</p>
      </Page>,
    );
  });
