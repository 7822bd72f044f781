import { signedHeaders } from "../core/standard-webhooks.ts";

/**
 * The one way the edge calls the bridge: a Standard-Webhooks-signed JSON POST. In dev,
 * tests and on any container host the bridge is a process at BRIDGE_URL; on Cloudflare
 * Containers a `BRIDGE` binding (a Container Durable Object) can stand in for the URL,
 * and nothing else in the edge changes.
 */
export async function callBridge(env: Env, path: string, body: unknown): Promise<Response> {
  const raw = JSON.stringify(body);
  const headers = { ...(await signedHeaders(env.WEBHOOK_SECRET, raw)), "content-type": "application/json" };
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
