import { Container } from "@cloudflare/containers";
import { bridgeContainerEnv, type BridgeWorkerEnv } from "../core/bridge-env.ts";

/** The bridge's HTTP port (bridge/src/config.ts BRIDGE_PORT default). */
export const BRIDGE_PORT = 8790;

/**
 * The bridge on Cloudflare Containers (the production environment of wrangler.toml): a
 * SQLite Durable Object that starts `bridge/Dockerfile` on first use, forwards the edge's
 * signed requests to it, and lets it sleep when idle. `src/channels/bridge.ts` reaches it
 * through the `BRIDGE` binding instead of BRIDGE_URL; nothing else in the edge changes.
 * The container is stateless (its disk is ephemeral): durability stays in Queues and DOs.
 */
export class BridgeContainer extends Container<Env> {
  override defaultPort = BRIDGE_PORT;
  // SMPP binds and APNs sessions are expensive to re-open: keep a warm bridge through short lulls.
  override sleepAfter = "15m";
  // Ready means the bridge answers its health check, not merely that the port is open.
  override pingEndpoint = "localhost/healthz";
  // SMTP to MX hosts, SMPP binds and APNs all leave the container.
  override enableInternet = true;

  // biome-ignore lint/complexity/noBannedTypes: the base class declares its state as DurableObjectState<{}>.
  constructor(ctx: DurableObjectState<{}>, env: Env) {
    super(ctx, env);
    this.envVars = bridgeContainerEnv(env as unknown as BridgeWorkerEnv);
  }

  override onError(error: unknown): void {
    console.error(JSON.stringify({ msg: "bridge container error", error: String(error) }));
    throw error;
  }
}
