/**
 * Whether a channel has a provider configured for an account: the API answers 422 before
 * accepting what no sender could act on, and the senders skip what is not set up. Push
 * credentials are the account's own (its `webpush`, `fcm`, `apns` sections), else the deployment's
 * defaults; per-account sender checks live with each channel (emailSenderAllowed, smsSenderAllowed).
 */
import { bridgeReachable, bridgeServes } from "./bridge.ts";
import type { AccountRuntime } from "./config/runtime.ts";
import { routesOf } from "./email-routes.ts";
import { parseServiceAccount } from "./google-oauth.ts";
import type { Channel } from "./model.ts";
import { vapidFrom } from "./webpush.ts";

export type ChannelSettings = Parameters<typeof vapidFrom>[0] &
  Parameters<typeof bridgeServes>[0] & { FCM_SERVICE_ACCOUNT?: string; UNSUBSCRIBE_SECRET?: string };

export function channelConfigured(channel: Channel, settings: ChannelSettings, config: AccountRuntime): boolean {
  switch (channel) {
    case "webpush":
      return config.sections.webpush !== undefined || vapidFrom(settings) !== null;
    case "fcm":
      return config.sections.fcm !== undefined || parseServiceAccount(settings.FCM_SERVICE_ACCOUNT) !== null;
    case "apns":
      // The account's own key travels as an edge-minted token through any bridge; without it,
      // the bridge must hold the deployment's key (BRIDGE_CHANNELS names apns).
      return (config.sections.apns !== undefined && bridgeReachable(settings)) || bridgeServes(settings, "apns");
    case "email":
      // Unsubscribe links are signed: without the secret no compliant message can be built. The
      // relay needs the bridge; an account with a hosted provider's route can send without one.
      return (
        Boolean(settings.UNSUBSCRIBE_SECRET) &&
        (bridgeServes(settings, "email") || routesOf(config.sections.email ?? {}).some((r) => r.type !== "relay"))
      );
    case "sms":
      // Routes are the account's own: smsSenderAllowed answers no_config without them.
      return true;
    default:
      return false;
  }
}
