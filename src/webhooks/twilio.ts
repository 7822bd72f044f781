import { z } from "zod";
import type { CanonicalEvent } from "../core/schema.ts";
import { routeByName, type SmsAccountConfig, type SmsRoute } from "../core/sms/account.ts";
import { twilioStatusEvent, verifyTwilioSignature, type FormParams } from "../core/sms/twilio.ts";

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

/** A status callback as a canonical event (core/sms/twilio.ts: the same event a status poll makes). */
export async function statusEvent(
  query: TwilioQuery & { message: string },
  params: Record<string, string>,
  now: string,
): Promise<CanonicalEvent | null> {
  return twilioStatusEvent(
    {
      account: query.account,
      messageId: query.message,
      route: query.route,
      sid: params.MessageSid ?? params.SmsSid ?? "",
      status: params.MessageStatus ?? params.SmsStatus ?? "",
      errorCode: params.ErrorCode,
      now,
    },
    "callback",
  );
}
