import type { Channel } from "../core/model.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { SendRequest } from "../core/schema.ts";
import { sendWebPush, vapidFrom } from "./webpush.ts";

/** Whether a channel's provider is configured in this deployment. */
export function channelConfigured(channel: Channel, env: Env): boolean {
  return channel === "webpush" && vapidFrom(env) !== null;
}

/** Dispatches one send to its channel's sender. */
export async function send(request: SendRequest, env: Env): Promise<SendOutcome> {
  if (request.channel === "webpush") {
    const vapid = vapidFrom(env);
    if (vapid) return sendWebPush(request, vapid);
  }
  return { kind: "failed", detail: { reason: "channel_not_configured", channel: request.channel } };
}
