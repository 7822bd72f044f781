import type { Channel } from "../core/model.ts";
import { parseServiceAccount } from "../core/google-oauth.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { SendRequest } from "../core/schema.ts";
import { sendApnsBatch } from "./apns.ts";
import { bridgeServes } from "./bridge.ts";
import { sendFcm } from "./fcm.ts";
import { sendWebPush, vapidFrom } from "./webpush.ts";

/** Whether a channel's provider is configured in this deployment. */
export function channelConfigured(channel: Channel, env: Env): boolean {
  switch (channel) {
    case "webpush":
      return vapidFrom(env) !== null;
    case "fcm":
      return parseServiceAccount(env.FCM_SERVICE_ACCOUNT) !== null;
    case "apns":
      return bridgeServes(env, "apns");
    default:
      return false;
  }
}

export type SendJob = { id: string; request: SendRequest };

/**
 * Sends a batch of jobs, one outcome per job in order. APNs jobs travel together in one
 * bridge request (the bridge fans them out over HTTP/2); the others go one fetch each.
 */
export async function sendAll(jobs: SendJob[], env: Env): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = new Array(jobs.length);
  const apns: Array<{ index: number; id: string; request: Extract<SendRequest, { channel: "apns" }> }> = [];
  const single: Promise<void>[] = [];
  jobs.forEach((job, index) => {
    const { request } = job;
    if (request.channel === "apns" && bridgeServes(env, "apns")) apns.push({ index, id: job.id, request });
    else single.push(sendOne(job, env).then((outcome) => void (outcomes[index] = outcome)));
  });
  if (apns.length > 0) {
    const results = await sendApnsBatch(apns, env);
    apns.forEach(({ index }, i) => (outcomes[index] = results[i]));
  }
  await Promise.all(single);
  return outcomes;
}

async function sendOne({ id, request }: SendJob, env: Env): Promise<SendOutcome> {
  if (request.channel === "webpush") {
    const vapid = vapidFrom(env);
    if (vapid) return sendWebPush(request, vapid);
  }
  if (request.channel === "fcm" && channelConfigured("fcm", env)) return sendFcm(request, id, env);
  return { kind: "failed", detail: { reason: "channel_not_configured", channel: request.channel } };
}
