import { batchResults } from "../core/bridge.ts";
import type { SendOutcome } from "../core/outcome.ts";
import { doorSecret, signedHeaders } from "../core/standard-webhooks.ts";

/**
 * The one way the edge calls the bridge: a JSON POST Standard-Webhooks-signed with the key of
 * its path (`doorSecret`), so it is good at that door only. In dev,
 * tests and on any container host the bridge is a process at BRIDGE_URL; on Cloudflare
 * Containers a `BRIDGE` binding (a Container Durable Object) can stand in for the URL,
 * and nothing else in the edge changes.
 */
export async function callBridge(env: Env, path: string, body: unknown): Promise<Response> {
  const raw = JSON.stringify(body);
  const headers = { ...(await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, path), raw)), "content-type": "application/json" };
  const binding = (env as { BRIDGE?: DurableObjectNamespace }).BRIDGE;
  if (binding) {
    return binding.get(binding.idFromName("bridge")).fetch(`http://bridge${path}`, { method: "POST", headers, body: raw });
  }
  return fetch(new URL(path, env.BRIDGE_URL), { method: "POST", headers, body: raw });
}

/** Which channels this deployment's bridge serves (BRIDGE_CHANNELS, comma-separated). */
export function bridgeServes(env: Pick<Env, "BRIDGE_URL" | "BRIDGE_CHANNELS">, channel: string): boolean {
  const reachable = Boolean(env.BRIDGE_URL) || "BRIDGE" in env;
  return reachable && (env.BRIDGE_CHANNELS ?? "").split(",").map((c) => c.trim()).includes(channel);
}

/**
 * Posts a batch and reads one outcome per item id back. If the bridge cannot be reached or
 * answers outside the contract, every item is left to the queue's retry: nothing the
 * bridge did not confirm is reported as sent.
 */
export async function sendBatchToBridge(env: Env, path: string, body: unknown, ids: readonly string[]): Promise<SendOutcome[]> {
  const all = (detail: Record<string, unknown>): SendOutcome[] => ids.map(() => ({ kind: "retry", detail }));
  // `submitted: "maybe"`: without the bridge's answer nobody knows whether it reached the next
  // hop (a connection lost mid-request looks like one never made), so a route may not pass it on.
  let response: Response;
  try {
    response = await callBridge(env, path, body);
  } catch (err) {
    return all({ reason: "bridge_unreachable", error: String(err), submitted: "maybe" });
  }
  const answer = await response.json().catch(() => null);
  if (!response.ok) return all({ reason: "bridge_error", status: response.status, response: answer, submitted: "maybe" });
  const parsed = batchResults.safeParse(answer);
  if (!parsed.success) return all({ reason: "bridge_error", error: "the bridge's answer does not match the contract", submitted: "maybe" });
  const byId = new Map(parsed.data.results.map((r) => [r.id, r]));
  return ids.map((id) => {
    const result = byId.get(id);
    if (!result) return { kind: "retry", detail: { reason: "bridge_error", error: "no result for this item", submitted: "maybe" } };
    const { kind, detail, retryAfter } = result;
    return kind === "retry" ? { kind, detail, retryAfter } : { kind, detail };
  });
}
