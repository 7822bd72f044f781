/**
 * What the bridge container is started with on Cloudflare Containers: the Worker's own
 * secrets and vars under the names the bridge reads (bridge/src/config.ts). The platform
 * secret is the same on both sides (WEBHOOK_SECRET = BRIDGE_SECRET), and the bridge posts
 * inbound traffic back to this Worker's public origin. Unset values stay unset, so the
 * bridge's own defaults and its configuration errors apply.
 */

/** Worker env names → bridge env names, for what only the bridge uses (secrets put with `wrangler secret put`). */
const PASSED_THROUGH = [
  "APNS_KEY",
  "APNS_KEY_ID",
  "APNS_TEAM_ID",
  "APNS_SESSIONS_PER_ORIGIN",
  "SMPP_ROUTES",
  "SMTP_HELO_NAME",
  "SMTP_MAX_PER_DOMAIN",
  "SMTP_MAX_PER_ACCOUNT",
  "SMTP_DKIM_THREADS",
  "SMTP_MTA_STS",
  "LOG_LEVEL",
] as const;

export type BridgeWorkerEnv = { WEBHOOK_SECRET: string; PUBLIC_URL: string } & Partial<Record<(typeof PASSED_THROUGH)[number], string>>;

export function bridgeContainerEnv(env: BridgeWorkerEnv): Record<string, string> {
  const out: Record<string, string> = {
    BRIDGE_SECRET: env.WEBHOOK_SECRET,
    // Inside the container the bridge listens on every interface (the platform routes to it).
    BRIDGE_HOST: "0.0.0.0",
    EDGE_URL: new URL(env.PUBLIC_URL).origin,
  };
  for (const name of PASSED_THROUGH) {
    const value = env[name];
    if (typeof value === "string" && value !== "") out[name] = value;
  }
  return out;
}
