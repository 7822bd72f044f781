// Graceful shutdown of the real process: SIGTERM while a batch is in flight still answers that
// batch, refuses new connections at once, then exits 0; SHUTDOWN_TIMEOUT_MS bounds the wait.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { probePort } from "../../sandbox/ports.ts";
import { BRIDGE_APNS_PATH, batchResults } from "../../src/core/bridge.ts";
import { waitFor, within } from "../wait.ts";
import {
  deviceToken,
  item,
  KEY_ID,
  makeApnsKey,
  SECRET,
  signedPost,
  startApnsFixture,
  TEAM_ID,
  tempFile,
  type ApnsFixture,
} from "./apns-fixture.ts";
import { killBridges, listening, spawnBridge, type BridgeChild } from "./fixtures/bridge-process.ts";

const key = makeApnsKey();
let fixture: ApnsFixture;
let keyFile: ReturnType<typeof tempFile>;

beforeAll(async () => {
  fixture = await startApnsFixture({ publicKey: key.publicKey });
  keyFile = tempFile("AuthKey.p8", key.pem);
});

afterEach(() => {
  killBridges();
  fixture.reset();
});

afterAll(async () => {
  await fixture?.close();
  keyFile?.remove();
});

type Running = BridgeChild & { url: string; port: number };

/** Starts the bridge against the fixture on an ephemeral port; resolves once it logs "listening". */
async function startProcess(env: Record<string, string> = {}): Promise<Running> {
  const bridge = spawnBridge({
    BRIDGE_SECRET: SECRET,
    BRIDGE_PORT: "0",
    APNS_KEY_FILE: keyFile.path,
    APNS_KEY_ID: KEY_ID,
    APNS_TEAM_ID: TEAM_ID,
    APNS_PRODUCTION_ORIGIN: fixture.origin,
    APNS_SANDBOX_ORIGIN: fixture.origin,
    APNS_CA_FILE: fixture.caFile,
    ...env,
  });
  return { ...bridge, ...(await listening(bridge)) };
}

const refused = async (port: number) => (await probePort(port)) === "ECONNREFUSED";

describe("graceful shutdown", () => {
  it("SIGTERM mid-batch: the batch still gets its 200, new connections are refused, exit 0", async () => {
    const bridge = await startProcess();
    expect(bridge.lines.find((l) => l.msg === "listening")).toMatchObject({ level: 30, apns: true });
    fixture.behaviors.set(deviceToken("hold"), { hold: true }); // answered when the test says
    const items = [item("hold"), ...Array.from({ length: 5 }, (_, i) => item(`quick-${i}`))];
    const response = signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, { items });
    await waitFor(() => fixture.received.some((r) => r.apnsId === items[0]!.id), "the held item at APNs"); // in flight at APNs

    bridge.child.kill("SIGTERM");
    await waitFor(() => refused(bridge.port), "new connections to be refused");
    expect(bridge.child.exitCode).toBeNull(); // still finishing the batch, whose first item APNs still holds
    expect(fixture.release()).toBe(1);

    const res = await within(response, "the in-flight batch");
    expect(res.status).toBe(200);
    const { results } = batchResults.parse(await res.json());
    expect(results.map((r) => r.id)).toEqual(items.map((i) => i.id));
    expect(results.every((r) => r.kind === "accepted")).toBe(true);

    expect(await within(bridge.exited, "exit")).toBe(0);
    const msgs = bridge.lines.map((l) => l.msg);
    expect(msgs.slice(msgs.indexOf("shutting down"))).toEqual(["shutting down", "apns batch", "stopped"]); // in order, none lost at exit
    expect(await refused(bridge.port)).toBe(true);
  });

  it("SHUTDOWN_TIMEOUT_MS bounds the wait for a batch that does not finish", async () => {
    const bridge = await startProcess({ SHUTDOWN_TIMEOUT_MS: "300" });
    fixture.behaviors.set(deviceToken("stuck"), { hold: true }); // never released: only the timeout can end the wait
    const items = [item("stuck")];
    const response = signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, { items }).then(
      (res) => res.status,
      () => "cut" as const,
    );
    await waitFor(() => fixture.received.some((r) => r.apnsId === items[0]!.id), "the stuck item at APNs");
    const signalled = Date.now();
    bridge.child.kill("SIGTERM");
    expect(await within(bridge.exited, "exit")).toBe(0);
    // Well under the 10 s default: it was this setting that ended the wait (slack for a busy machine).
    expect(Date.now() - signalled).toBeLessThan(8_000);
    expect(await response).toBe("cut"); // the edge sees a failed request and its queue retries
    expect(bridge.lines.map((l) => l.msg)).toContain("shutdown timeout: abandoning in-flight batches (the edge's queue retries them)");
  });

  it("SIGINT with nothing in flight stops at once", async () => {
    const bridge = await startProcess();
    const signalled = Date.now();
    bridge.child.kill("SIGINT");
    expect(await within(bridge.exited, "exit")).toBe(0);
    // Nothing to wait for: far under the 10 s SHUTDOWN_TIMEOUT_MS default (slack for a busy machine).
    expect(Date.now() - signalled).toBeLessThan(5_000);
  });
});
