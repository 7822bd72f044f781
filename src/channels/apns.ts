import { BRIDGE_APNS_PATH, type ApnsBatch } from "../core/bridge.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { z } from "zod";
import type { apnsSend } from "../core/schema.ts";
import { sendBatchToBridge } from "./bridge.ts";

type ApnsSend = z.infer<typeof apnsSend>;

/**
 * Sends a group of APNs notifications through the bridge in one signed request; the
 * bridge multiplexes them over its pooled HTTP/2 sessions and answers each item.
 */
export async function sendApnsBatch(jobs: Array<{ id: string; request: ApnsSend }>, env: Env): Promise<SendOutcome[]> {
  const batch: ApnsBatch = {
    items: jobs.map(({ id, request }) => ({
      id,
      token: request.to,
      topic: request.topic,
      pushType: request.pushType,
      ...(request.priority !== undefined ? { priority: request.priority } : {}),
      ...(request.expiration !== undefined ? { expiration: request.expiration } : {}),
      ...(request.collapseId !== undefined ? { collapseId: request.collapseId } : {}),
      payload: request.payload,
      ...(request.sandbox !== undefined ? { sandbox: request.sandbox } : {}),
    })),
  };
  return sendBatchToBridge(
    env,
    BRIDGE_APNS_PATH,
    batch,
    jobs.map(({ id }) => id),
  );
}
