// Graceful shutdown of the real process: SIGTERM while a batch is in flight still answers that
// batch, refuses new connections at once, then exits 0; SHUTDOWN_TIMEOUT_MS bounds the wait.
import { spawn, type ChildProcess } from "node:child_process";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BRIDGE_APNS_PATH, batchResults } from "../../src/core/bridge.ts";
import { deviceToken, item, KEY_ID, makeApnsKey, SECRET, signedPost, startApnsFixture, TEAM_ID, tempFile, type ApnsFixture } from "./apns-fixture.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const key = makeApnsKey();
let fixture: ApnsFixture;
let keyFile: ReturnType<typeof tempFile>;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  fixture = await startApnsFixture({ publicKey: key.publicKey });
  keyFile = tempFile("AuthKey.p8", key.pem);
});

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
  fixture.reset();
});

afterAll(async () => {
  await fixture?.close();
  keyFile?.remove();
});

type Running = { child: ChildProcess; url: string; port: number; lines: Array<Record<string, unknown>>; exited: Promise<number | null> };

/** Starts `node bridge/src/main.ts` against the fixture on an ephemeral port; resolves once it logs "listening". */
function startProcess(env: Record<string, string> = {}): Promise<Running> {
  const child = spawn(process.execPath, ["bridge/src/main.ts"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      BRIDGE_SECRET: SECRET,
      BRIDGE_PORT: "0",
      APNS_KEY_FILE: keyFile.path,
      APNS_KEY_ID: KEY_ID,
      APNS_TEAM_ID: TEAM_ID,
      APNS_PRODUCTION_ORIGIN: fixture.origin,
      APNS_SANDBOX_ORIGIN: fixture.origin,
      APNS_CA_FILE: fixture.caFile,
      ...env,
    },
  });
  children.add(child);
  const lines: Array<Record<string, unknown>> = [];
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bridge did not start: ${stderr}`)), 15_000);
    let buffered = "";
    child.stdout!.on("data", (d) => {
      buffered += d;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        lines.push(line);
        if (line.msg === "listening") {
          clearTimeout(timer);
          const url = String(line.url);
          resolve({ child, url, port: Number(new URL(url).port), lines, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`bridge exited (${code}) before listening: ${stderr}`));
    });
  });
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code === "ECONNREFUSED"));
  });
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

describe("graceful shutdown", () => {
  it("SIGTERM mid-batch: the batch still gets its 200, new connections are refused, exit 0", async () => {
    const bridge = await startProcess();
    expect(bridge.lines.find((l) => l.msg === "listening")).toMatchObject({ level: 30, apns: true });
    fixture.behaviors.set(deviceToken("hold"), { holdMs: 1_500 });
    const items = [item("hold"), ...Array.from({ length: 5 }, (_, i) => item(`quick-${i}`))];
    const response = signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, { items });
    await waitFor(() => fixture.received.some((r) => r.apnsId === items[0]!.id), 5_000); // in flight at APNs

    bridge.child.kill("SIGTERM");
    await waitFor(() => refused(bridge.port), 2_000);
    expect(bridge.child.exitCode).toBeNull(); // still finishing the batch

    const res = await within(response, 5_000, "the in-flight batch");
    expect(res.status).toBe(200);
    const { results } = batchResults.parse(await res.json());
    expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id));
    expect(results.every((r) => r.kind === "accepted")).toBe(true);

    expect(await within(bridge.exited, 5_000, "exit")).toBe(0);
    const msgs = bridge.lines.map((l) => l.msg);
    expect(msgs.slice(msgs.indexOf("shutting down"))).toEqual(["shutting down", "apns batch", "stopped"]); // in order, none lost at exit
    expect(await refused(bridge.port)).toBe(true);
  });

  it("SHUTDOWN_TIMEOUT_MS bounds the wait for a batch that does not finish", async () => {
    const bridge = await startProcess({ SHUTDOWN_TIMEOUT_MS: "300" });
    fixture.behaviors.set(deviceToken("stuck"), { holdMs: 8_000 });
    const items = [item("stuck")];
    const response = signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, { items }).then(
      (res) => res.status,
      () => "cut" as const,
    );
    await waitFor(() => fixture.received.some((r) => r.apnsId === items[0]!.id), 5_000);
    const signalled = Date.now();
    bridge.child.kill("SIGTERM");
    expect(await within(bridge.exited, 5_000, "exit")).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(3_000);
    expect(await response).toBe("cut"); // the edge sees a failed request and its queue retries
    expect(bridge.lines.map((l) => l.msg)).toContain("shutdown timeout: abandoning in-flight batches (the edge's queue retries them)");
  });

  it("SIGINT with nothing in flight stops at once", async () => {
    const bridge = await startProcess();
    const signalled = Date.now();
    bridge.child.kill("SIGINT");
    expect(await within(bridge.exited, 5_000, "exit")).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(1_500);
  });
});
