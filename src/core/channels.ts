/**
 * Whether a channel has a provider configured in this deployment: the API answers 422
 * before accepting what no sender could act on, and the senders skip what is not set up.
 * Reads settings only (the Worker passes its Env); per-account checks live with each
 * channel's account config (emailSenderAllowed, smsSenderAllowed).
 */
import { bridgeServes } from "./bridge.ts";
import { parseServiceAccount } from "./google-oauth.ts";
import type { Channel } from "./model.ts";
import { vapidFrom } from "./webpush.ts";

export type ChannelSettings = Parameters<typeof vapidFrom>[0] &
  Parameters<typeof bridgeServes>[0] & { FCM_SERVICE_ACCOUNT?: string; UNSUBSCRIBE_SECRET?: string; SMS_CONFIG?: string };

export function channelConfigured(channel: Channel, settings: ChannelSettings): boolean {
  switch (channel) {
    case "webpush":
      return vapidFrom(settings) !== null;
    case "fcm":
      return parseServiceAccount(settings.FCM_SERVICE_ACCOUNT) !== null;
    case "apns":
      return bridgeServes(settings, "apns");
    case "email":
      // Unsubscribe links are signed: without the secret no compliant message can be built.
      return bridgeServes(settings, "email") && Boolean(settings.UNSUBSCRIBE_SECRET);
    case "sms":
      // Routes are per account (SMS_CONFIG); smsSenderAllowed checks the account's own.
      return Boolean(settings.SMS_CONFIG);
    default:
      return false;
  }
}
