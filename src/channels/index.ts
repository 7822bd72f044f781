import { channelConfigured } from "../core/channels.ts";
import { parseServiceAccount } from "../core/google-oauth.ts";
import type { SendOutcome } from "../core/outcome.ts";
import { vapidFrom } from "../core/webpush.ts";
import { sendApnsBatch, type ApnsJob } from "./apns.ts";
import { sendEmailBatch, type EmailJob } from "./email.ts";
import type { Circuits } from "./failover.ts";
import type { RelayPacing } from "../core/ip-pools.ts";
import { sendFcm } from "./fcm.ts";
import type { SendJob, SmsJob } from "./job.ts";
import { sendSmsBatch } from "./sms.ts";
import { sendWebPush } from "./webpush.ts";

/**
 * Sends a batch of jobs, one outcome per job in order. APNs jobs travel together in one bridge
 * request (the bridge fans them out over HTTP/2); email and SMS go over each account's routes
 * (`circuits`: the batch's view of their circuits; `pacing`: relay mail's IP pools and
 * destination throttles); the others go one fetch each.
 */
export async function sendAll(
  jobs: SendJob[],
  env: Env,
  circuits: { email?: Circuits; sms?: Circuits; pacing?: RelayPacing } = {},
): Promise<SendOutcome[]> {
  const outcomes: SendOutcome[] = new Array(jobs.length);
  const apns: Array<ApnsJob & { index: number }> = [];
  const email: Array<EmailJob & { index: number }> = [];
  const sms: Array<SmsJob & { index: number }> = [];
  const pending: Promise<void>[] = [];
  jobs.forEach((job, index) => {
    const { request } = job;
    if (request.channel === "apns" && channelConfigured("apns", env, job.config)) apns.push({ ...job, index, request });
    else if (request.channel === "email") email.push({ ...job, index, request });
    else if (request.channel === "sms") sms.push({ ...job, index, request });
    else
      pending.push(
        sendOne(job, env).then((outcome) => {
          outcomes[index] = outcome;
        }),
      );
  });
  const grouped = async <T extends { index: number }>(group: T[], send: (group: T[]) => Promise<SendOutcome[]>) => {
    if (group.length === 0) return;
    const results = await send(group);
    group.forEach(({ index }, i) => {
      outcomes[index] = results[i];
    });
  };
  pending.push(
    grouped(apns, (g) => sendApnsBatch(g, env)),
    grouped(email, (g) => sendEmailBatch(g, env, circuits.email, circuits.pacing)),
    grouped(sms, (g) => sendSmsBatch(g, env, circuits.sms)),
  );
  await Promise.all(pending);
  return outcomes;
}

/** Web push and FCM, one fetch each, with the account's own credentials (else the deployment's). */
async function sendOne({ id, account, request, config }: SendJob, env: Env): Promise<SendOutcome> {
  if (request.channel === "webpush") {
    const vapid = config.sections.webpush ?? vapidFrom(env);
    if (vapid) return sendWebPush(request, vapid);
  }
  if (request.channel === "fcm") {
    const sa = config.sections.fcm?.serviceAccount ?? parseServiceAccount(env.FCM_SERVICE_ACCOUNT);
    if (sa) return sendFcm(request, id, account, sa, env);
  }
  return { kind: "failed", detail: { reason: "channel_not_configured", channel: request.channel } };
}
