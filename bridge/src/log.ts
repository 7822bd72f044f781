/**
 * Structured JSON logs (pino) on stdout, one object per line, for the container host to
 * collect. Provider tokens and the APNs key never belong in a log line: the redact paths
 * are a safety net for a header object logged by mistake.
 *
 * Writes are synchronous: the bridge logs per batch, not per item (at info), and main.ts
 * calls process.exit right after its last lines, which with pino's default asynchronous
 * destination can reorder or drop them.
 */
import { pino, type Logger } from "pino";
import type { LogLevel } from "./config.ts";

export type { Logger };

export function createLogger(level: LogLevel = "info"): Logger {
  return pino(
    {
      level,
      base: { service: "lasthop-bridge" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ["authorization", "headers.authorization", "*.authorization", "key", "secret"], censor: "[redacted]" },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}
