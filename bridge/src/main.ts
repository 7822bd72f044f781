/**
 * The bridge process: `node bridge/src/main.ts`. Reads the configuration (one line and exit 1
 * when it is wrong), starts the server, and on SIGTERM/SIGINT stops gracefully: no new
 * connections, in-flight batches answered (up to SHUTDOWN_TIMEOUT_MS), APNs sessions closed,
 * exit 0. A second signal exits at once.
 */
import { startBridge, type Bridge } from "./app.ts";
import { ConfigError, loadConfig, type Config } from "./config.ts";
import { createLogger } from "./log.ts";

let config: Config;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`bridge: invalid configuration: ${error.message}\n`);
  process.exit(1);
}

const log = createLogger(config.logLevel);
let bridge: Bridge | undefined;
let stopping = false;

function shutdown(signal: NodeJS.Signals): void {
  if (stopping) {
    log.warn({ signal }, "second signal: exiting now");
    process.exit(1);
  }
  stopping = true;
  if (!bridge) {
    log.info({ signal }, "stopped before it started");
    process.exit(0);
  }
  log.info({ signal, inFlight: bridge.inFlight() }, "shutting down");
  bridge.close().then(
    () => {
      log.info("stopped");
      process.exit(0);
    },
    (error: unknown) => {
      log.error({ err: error }, "shutdown failed");
      process.exit(1);
    },
  );
}
// Installed before "listening" is logged: whoever waits for that line may signal at once, and
// until a handler exists the default action of SIGTERM/SIGINT kills the process outright.
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

bridge = await startBridge(config, { log }).catch((error: unknown) => {
  // Typically EADDRINUSE / EACCES on the port.
  log.fatal({ err: error, host: config.host, port: config.port }, "cannot start the bridge");
  process.exit(1);
});
log.info(
  {
    url: bridge.url,
    apns: config.apns !== null,
    smpp: config.smpp
      ? config.smpp.routes.map((r) => ({
          name: r.name,
          binds: r.binds.map((b) => `${b.systemId}@${b.host}:${b.port}${b.tls ? " tls" : ""} ${b.mode}`),
          window: r.window,
          tps: r.tps,
        }))
      : false,
  },
  "listening",
);
