/**
 * Mailgun webhook signatures, as documented in "Securing Webhooks"
 * (documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks): the JSON body
 * carries `signature: {timestamp, token, signature}`, and `signature` is the hex
 * HMAC-SHA256(webhook signing key, timestamp + token).
 *
 * Replays need state, so they are the caller's job: after `verify` says ok, look up
 * `replayKey(signature)` and refuse if it was seen, else remember it for REPLAY_TTL_SECONDS
 * (past that, the timestamp check refuses the same body anyway).
 */
import { z } from "zod";
import { toHex, utf8 } from "../core/bytes.ts";
import { timingSafeEqual } from "../core/constant-time.ts";
import { mailgunEvents, mailgunEventData } from "../core/esp/mailgun-events.ts";
import type { NormalizeContext, NormalizeResult } from "../core/provider-event.ts";
import type { VerifyResult } from "../core/standard-webhooks.ts";
import { invalid } from "../core/esp/events.ts";

export const TOLERANCE_SECONDS = 5 * 60;
/** A timestamp is accepted from TOLERANCE before to TOLERANCE after now: remember keys that long. */
export const REPLAY_TTL_SECONDS = 2 * TOLERANCE_SECONDS;

export const mailgunSignature = z.object({
  // The docs' example sends a string; their table says int. Either, as decimal seconds.
  timestamp: z.union([z.string().regex(/^\d{1,12}$/), z.number().int().min(0).max(999_999_999_999)]).transform(String),
  token: z.string().min(1).max(256),
  signature: z.string().regex(/^[0-9a-fA-F]{64}$/),
});
export type MailgunSignature = z.infer<typeof mailgunSignature>;

const mailgunBody = z.object({ signature: mailgunSignature });

/** `body` is the parsed JSON of the request. */
export async function verify(body: unknown, signingKey: string, now = Date.now()): Promise<VerifyResult> {
  const parsed = mailgunBody.safeParse(body);
  if (!parsed.success) return { ok: false, reason: "malformed_signature" };
  const { timestamp, token, signature } = parsed.data.signature;
  if (Math.abs(now / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return { ok: false, reason: "stale_timestamp" };
  const key = await crypto.subtle.importKey("raw", utf8(signingKey), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const expected = toHex(await crypto.subtle.sign("HMAC", key, utf8(timestamp + token)));
  return timingSafeEqual(utf8(expected), utf8(signature.toLowerCase())) ? { ok: true } : { ok: false, reason: "bad_signature" };
}

/** What identifies one signed delivery: Mailgun's token is random per signature. */
export function replayKey(signature: MailgunSignature): string {
  return `mailgun:${signature.token}`;
}

export { SUPPRESSION_REASONS } from "../core/esp/mailgun-events.ts";

/*
 * normalize: webhooks v3 post one event per request, `{signature, "event-data"}`, the
 * event-data as the Events API returns it (documentation.mailgun.com/docs/mailgun/user-manual/
 * webhooks/webhook-payloads). The mapping of one event is core/esp/mailgun-events.ts, shared with
 * the status poll, so a polled event and its webhook have one id.
 */
const mailgunWebhook = z.looseObject({ "event-data": mailgunEventData });

export async function normalize(body: unknown, ctx: NormalizeContext): Promise<NormalizeResult> {
  const parsed = mailgunWebhook.safeParse(body);
  if (!parsed.success) return invalid(parsed.error);
  return mailgunEvents(ctx, [parsed.data["event-data"]]);
}
