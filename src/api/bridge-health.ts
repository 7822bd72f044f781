/**
 * `GET /v1/bridge/health` (scope read): the bridge's state in totals, for the dashboard's
 * overview. Totals only: the bridge is shared by every account, and its per-host counts (the
 * MX hosts it holds connections to) would tell one account where others send.
 */
import { Hono } from "hono";
import { z } from "zod";
import { bridgeGet } from "../channels/bridge.ts";
import type { BridgeHealth } from "../core/api-responses.ts";
import type { AppEnv } from "./types.ts";

const TIMEOUT_MS = 3000;

const healthz = z.object({
  apns: z.object({ enabled: z.boolean(), sessions: z.record(z.string(), z.number()) }).optional(),
  smtp: z.object({ connections: z.record(z.string(), z.number()) }).optional(),
  smpp: z.object({ routes: z.record(z.string(), z.object({ binds: z.array(z.unknown()), up: z.number() })) }).optional(),
});

const sum = (counts: Record<string, number> | undefined) => Object.values(counts ?? {}).reduce((a, b) => a + b, 0);

/** A Prometheus sample without labels, or null. */
function sample(text: string, name: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  const value = line ? Number(line.slice(name.length + 1)) : Number.NaN;
  return Number.isFinite(value) ? value : null;
}

export async function readBridgeHealth(env: Env): Promise<BridgeHealth> {
  const signal = AbortSignal.timeout(TIMEOUT_MS);
  try {
    const [health, metrics] = await Promise.all([bridgeGet(env, "/healthz", signal), bridgeGet(env, "/metrics", signal)]);
    if (!health || !metrics) return { configured: false };
    if (!health.ok) {
      await metrics.body?.cancel();
      return { configured: true, reachable: false, error: `GET /healthz answered ${health.status}` };
    }
    const parsed = healthz.safeParse(await health.json().catch(() => null));
    if (!parsed.success) return { configured: true, reachable: false, error: "GET /healthz answered outside its contract" };
    const routes = Object.values(parsed.data.smpp?.routes ?? {});
    if (!metrics.ok) await metrics.body?.cancel();
    const text = metrics.ok ? await metrics.text() : "";
    return {
      configured: true,
      reachable: true,
      apns: { enabled: parsed.data.apns?.enabled ?? false, sessions: sum(parsed.data.apns?.sessions) },
      smtp: { connections: sum(parsed.data.smtp?.connections) },
      smpp: parsed.data.smpp
        ? { routes: routes.length, binds: routes.reduce((n, r) => n + r.binds.length, 0), up: routes.reduce((n, r) => n + r.up, 0) }
        : null,
      inFlight: sample(text, "bridge_in_flight"),
    };
  } catch (err) {
    return { configured: true, reachable: false, error: String(err) };
  }
}

export const bridgeHealth = new Hono<AppEnv>().get("/health", async (c) => c.json(await readBridgeHealth(c.env)));
