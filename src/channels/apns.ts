import { BRIDGE_APNS_PATH, batchResults, type ApnsBatch } from "../core/bridge.ts";
import type { SendOutcome } from "../core/outcome.ts";
import type { z } from "zod";
import type { apnsSend } from "../core/schema.ts";
import { callBridge } from "./bridge.ts";

type ApnsSend = z.infer<typeof apnsSend>;

/**
 * Sends a group of APNs notifications through the bridge in one signed request; the
 * bridge multiplexes them over its pooled HTTP/2 sessions and answers each item. If the
 * bridge cannot be reached or answers badly, every item is retried by the queue: nothing
 * the bridge did not confirm is reported as sent.
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
  const all = (detail: Record<string, unknown>): SendOutcome[] => jobs.map(() => ({ kind: "retry", detail }));
  let response: Response;
  try {
    response = await callBridge(env, BRIDGE_APNS_PATH, batch);
  } catch (err) {
    return all({ reason: "bridge_unreachable", error: String(err) });
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) return all({ reason: "bridge_error", status: response.status, response: body });
  const parsed = batchResults.safeParse(body);
  if (!parsed.success) return all({ reason: "bridge_error", error: "the bridge's answer does not match the contract" });
  const byId = new Map(parsed.data.results.map((r) => [r.id, r]));
  return jobs.map(({ id }) => {
    const result = byId.get(id);
    if (!result) return { kind: "retry", detail: { reason: "bridge_error", error: "no result for this item" } };
    const { kind, detail, retryAfter } = result;
    return kind === "retry" ? { kind, detail, retryAfter } : { kind, detail };
  });
}
