// Loopback ports for the stack, the tests and the benchmarks.
import { connect, createServer } from "node:net";

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

/** Tries a TCP connection to 127.0.0.1:`port`: "open" when it connects, else the error code ("ECONNREFUSED"). */
export function probePort(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1", () => {
      socket.destroy();
      resolve("open");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}
