// Loopback ports for the stack, the tests and the benchmarks.
import { readFileSync } from "node:fs";
import { connect, createServer } from "node:net";

/**
 * A port nobody holds right now, for a service started next (or, left unused, a port where
 * nothing listens). It is taken from below the kernel's ephemeral range: a port from inside it
 * (what bind(0) gives) can be taken, between this check and the service's own bind, by any
 * outgoing loopback connection as its source port, and a busy test run opens thousands. Below
 * the range only another explicit bind can take it.
 */
export async function freePort(): Promise<number> {
  const [low, high] = BELOW_EPHEMERAL;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (await canBind(port)) return port;
  }
  throw new Error(`no free loopback port found in ${low}-${high}`);
}

/** Binds `port` on loopback and lets it go: true when nobody held it. */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** [20000, start of the ephemeral range): clear of the well-known ports and of the dev stack's 8787/8790/2526. */
const BELOW_EPHEMERAL = ((): [number, number] => {
  let start = 32768;
  try {
    start = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || start;
  } catch {
    // not Linux: the IANA range starts at 49152, Linux's default at 32768; 32768 suits both
  }
  return [20_000, Math.max(start, 21_000)];
})();

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
