// The stack's Worker start: a port taken before workerd binds it ends the start with a reason
// (PortInUseError, which the stack answers with a new port) instead of wrangler's `ready`
// waiting forever, and the failed start leaves no workerd behind.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PortInUseError, startDevWorker, waitForPortFree, workerdPids } from "../../sandbox/dev-worker.ts";
import { canBind, freePort } from "../../sandbox/ports.ts";

let holder: Server;
let port: number;
beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
  port = (holder.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((resolve) => holder.close(() => resolve())));

it("a taken port is a PortInUseError, with no workerd left running", async () => {
  const before = new Set(workerdPids());
  const start = startDevWorker({
    config: "wrangler.toml",
    dev: { server: { hostname: "127.0.0.1", port }, inspector: false, watch: false },
  });
  await expect(start).rejects.toBeInstanceOf(PortInUseError);
  await expect(start).rejects.toThrow(/address already in use/i);
  expect(workerdPids().filter((pid) => !before.has(pid))).toEqual([]);
});

it("waitForPortFree waits for the holder to let go, and gives up with PortInUseError when it does not", async () => {
  await expect(waitForPortFree(port, 500)).rejects.toBeInstanceOf(PortInUseError);
  const other = createServer();
  await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
  const otherPort = (other.address() as { port: number }).port;
  const freed = waitForPortFree(otherPort, 30_000);
  other.close();
  await expect(freed).resolves.toBeUndefined();
});

it("freePort picks bindable ports below the kernel's ephemeral range, which outgoing connections never take", async () => {
  const [ephemeralStart] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
  const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
  for (const picked of ports) {
    expect(picked).toBeGreaterThanOrEqual(20_000);
    expect(picked).toBeLessThan(ephemeralStart!);
    expect(await canBind(picked)).toBe(true);
  }
  // The one held by this file is never offered.
  expect(await canBind(port)).toBe(false);
});
