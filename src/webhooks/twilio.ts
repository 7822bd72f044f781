import { z } from "zod";
import { derivedEventId } from "../core/ids.ts";
import type { CanonicalEvent } from "../core/schema.ts";
import { routeByName, type SmsAccountConfig, type SmsRoute } from "../core/sms/account.ts";
import { twilioStatusVerdict, verifyTwilioSignature, type FormParams } from "../core/sms/twilio.ts";

/** What the callback URL names (`statusCallbackUrl`); the signature covers it whole. */
export const twilioQuery = z.object({
  account: z.string().min(1).max(128),
  route: z.string().min(1).max(32),
  message: z.uuid().optional(),
});
export type TwilioQuery = z.infer<typeof twilioQuery>;

/**
 * The URLs Twilio may have signed: the one we saw, and the same path under PUBLIC_URL (a proxy
 * or a tunnel in front of the Worker changes what we see, not what Twilio signed).
 */
export function signedUrlCandidates(requestUrl: string, publicUrl: string | undefined): string[] {
  const seen = new URL(requestUrl);
  const urls = [seen.href];
  if (publicUrl) urls.push(new URL(seen.pathname + seen.search, publicUrl).href);
  return [...new Set(urls)];
}

/** The route's auth token, when the URL names a REST route of a configured account. */
export function restRouteFor(config: SmsAccountConfig | undefined, query: TwilioQuery): Extract<SmsRoute, { type: "rest" }> | null {
  const route = config ? routeByName(config, query.route) : null;
  return route?.type === "rest" ? route : null;
}

export async function verifyTwilio(authToken: string, urls: string[], params: FormParams, signature: string | undefined): Promise<boolean> {
  return signature ? verifyTwilioSignature(authToken, urls, params, signature) : false;
}

/**
 * A status callback as a canonical event. Twilio has no event id, so the id is derived from
 * the message sid and the status (a retried callback is the same event); `sent` and the other
 * in-flight statuses map to `accepted`, which never moves a message back.
 */
export async function statusEvent(
  query: TwilioQuery & { message: string },
  params: Record<string, string>,
  now: string,
): Promise<CanonicalEvent | null> {
  const status = params.MessageStatus ?? params.SmsStatus ?? "";
  const verdict = twilioStatusVerdict(status, params.ErrorCode);
  if (!verdict.type) return null;
  const sid = params.MessageSid ?? params.SmsSid ?? "";
  return {
    id: await derivedEventId("twilio", sid, status, params.ErrorCode),
    account: query.account,
    messageId: query.message,
    type: verdict.type,
    occurredAt: now,
    receivedAt: now,
    provider: "twilio",
    detail: {
      status,
      reason: verdict.reason,
      ...(verdict.class ? { class: verdict.class } : {}),
      ...(verdict.errorCode !== undefined ? { errorCode: verdict.errorCode } : {}),
      ...(sid ? { sid, providerMessageId: sid } : {}),
      route: query.route,
    },
  };
}
