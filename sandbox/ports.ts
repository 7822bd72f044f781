// Loopback ports for the stack, the tests and the benchmarks.
import { createServer } from "node:net";

/**
 * A port nobody holds right now (bind 0, read it, release it): for a service started next, or,
 * left unused, a port where nothing listens.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
