import { batchResults } from "../core/bridge.ts";
import type { OutcomeDetail, SendOutcome } from "../core/outcome.ts";
import { doorSecret, signedHeaders } from "../core/standard-webhooks.ts";

/**
 * The one way the edge calls the bridge: a JSON POST Standard-Webhooks-signed with the key of
 * its path (`doorSecret`), so it is good at that door only. In dev,
 * tests and on any container host the bridge is a process at BRIDGE_URL; on Cloudflare
 * Containers a `BRIDGE` binding (a Container Durable Object) can stand in for the URL,
 * and nothing else in the edge changes.
 */
export async function callBridge(env: Env, path: string, body: unknown, signal?: AbortSignal): Promise<Response> {
  const raw = JSON.stringify(body);
  const headers = { ...(await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, path), raw)), "content-type": "application/json" };
  const { BRIDGE: binding, BRIDGE_INSTANCES } = env as ContainerEnv;
  if (binding) {
    const stub = binding.get(binding.idFromName(bridgeInstance(BRIDGE_INSTANCES)));
    return stub.fetch(`http://bridge${path}`, { method: "POST", headers, body: raw, signal });
  }
  return fetch(new URL(path, env.BRIDGE_URL), { method: "POST", headers, body: raw, signal });
}

/**
 * A GET of the bridge's unsigned, read-only paths (`/healthz`, `/metrics`) by the same URL or
 * binding as `callBridge`; null when this deployment has no bridge. With several container
 * instances it asks one of them.
 */
export async function bridgeGet(env: Env, path: "/healthz" | "/metrics", signal?: AbortSignal): Promise<Response | null> {
  const { BRIDGE: binding, BRIDGE_INSTANCES } = env as ContainerEnv;
  if (binding) return binding.get(binding.idFromName(bridgeInstance(BRIDGE_INSTANCES))).fetch(`http://bridge${path}`, { signal });
  if (!env.BRIDGE_URL) return null;
  return fetch(new URL(path, env.BRIDGE_URL), { signal });
}

/** The production environment's extra bindings (wrangler.toml `[env.production]`). */
type ContainerEnv = { BRIDGE?: DurableObjectNamespace; BRIDGE_INSTANCES?: string };

/**
 * Which container instance takes a batch: one of BRIDGE_INSTANCES (default 1), at random.
 * Any instance can take any batch (the bridge is stateless); each holds its own SMPP binds
 * and APNs sessions, so the count stays small and fixed rather than one per request.
 */
export function bridgeInstance(instances: string | undefined, random = Math.random()): string {
  const n = Math.max(1, Math.floor(Number(instances)) || 1);
  return `bridge-${Math.min(n - 1, Math.floor(random * n))}`;
}

/**
 * Posts a batch and reads one outcome per item id back. If the bridge cannot be reached or
 * answers outside the contract, every item is left to the queue's retry: nothing the
 * bridge did not confirm is reported as sent.
 */
export async function sendBatchToBridge(
  env: Env,
  path: string,
  body: unknown,
  ids: readonly string[],
  signal?: AbortSignal,
): Promise<SendOutcome[]> {
  const all = (detail: OutcomeDetail): SendOutcome[] => ids.map(() => ({ kind: "retry", detail }));
  // `submitted: "maybe"`: without the bridge's answer nobody knows whether it reached the next
  // hop (a connection lost mid-request looks like one never made), so a route may not pass it on.
  let response: Response;
  try {
    response = await callBridge(env, path, body, signal);
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
    return result.kind === "retry"
      ? { kind: "retry", detail: result.detail, retryAfter: result.retryAfter }
      : { kind: result.kind, detail: result.detail };
  });
}
