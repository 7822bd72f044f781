// SMS under faults, end to end: an SMSC that drops the bind every 100 submits, a bridge
// killed mid-flight, and an SMPP route that is down (failover to the REST route). Nothing
// accepted is lost, and each message ends with one outcome.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep, startTestStack, waitFor, type TestStack } from "./stack-helpers.ts";

const sendBatch = async (stack: TestStack, messages: unknown[]) => {
  const ids: string[] = [];
  const run = Math.random().toString(36).slice(2);
  for (let i = 0; i < messages.length; i += 100) {
    // What a client does with a 5xx (wrangler dev's proxy drops a request now and then under
    // this load): the same request again with the same Idempotency-Key, which sends nothing twice.
    const post = () =>
      stack.api("/v1/messages/batch", { method: "POST", headers: { "idempotency-key": `${run}-${i}` }, body: JSON.stringify({ messages: messages.slice(i, i + 100) }) }).catch(() => ({ status: 0, body: null }));
    let res = await post();
    for (let attempt = 1; attempt < 4 && res.status !== 202; attempt++) res = await post();
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    ids.push(...res.body.results.map((r: { id: string }) => r.id));
  }
  return ids;
};

/** Reads every message until none is left outside `done`; bounded. */
async function settle(stack: TestStack, ids: string[], done: ReadonlySet<string>, ms: number) {
  const states = new Map<string, any>();
  await waitFor(async () => {
    const open = ids.filter((id) => !done.has(states.get(id)?.status));
    for (let i = 0; i < open.length; i += 50) {
      await Promise.all(open.slice(i, i + 50).map(async (id) => states.set(id, (await stack.api(`/v1/messages/${id}`)).body)));
    }
    return ids.every((id) => done.has(states.get(id)?.status));
  }, ms);
  return ids.map((id) => states.get(id));
}

describe("SMPP faults", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ smppRoute: { window: 20, reconnectMinMs: 50, reconnectMaxMs: 500 } });
  }, 90_000);
  afterAll(async () => stack?.stop());

  it("1,000 messages through an SMSC that drops the bind every 100 submits: every one delivered, none lost", async () => {
    await stack.sandboxPost("/_sandbox/sms/faults", { dropEvery: 100 });
    // Ending in 7: the sandbox's outcome digits (0000, 1111, 2222) never come up.
    const numbers = Array.from({ length: 1000 }, (_, i) => `+1646${100_000 + i}7`);
    const ids = await sendBatch(stack, numbers.map((to, i) => ({ channel: "sms", to, from: "+15005550006", body: `drop test ${i}` })));
    expect(new Set(ids).size).toBe(1000);
    const final = await settle(stack, ids, new Set(["delivered", "bounced", "failed", "expired"]), 240_000);
    expect(final.filter((m) => m.status !== "delivered").map((m) => [m.id, m.status])).toEqual([]);
    // Each message reached the SMSC: the drops cost reconnects, not messages.
    const received = (await stack.sandboxGet("/_sandbox/received?channel=sms")) as Array<{ to: string }>;
    const reached = new Set(received.map((r) => `+${r.to.replace(/^\+/, "")}`));
    expect(numbers.filter((n) => !reached.has(n))).toEqual([]);
    await stack.sandboxPost("/_sandbox/sms/faults", {});
  }, 300_000);

  it("a bridge killed mid-flight loses nothing: the queue retries what it never confirmed", async () => {
    const numbers = Array.from({ length: 150 }, (_, i) => `+1647${100_000 + i}7`);
    const ids = await sendBatch(stack, numbers.map((to, i) => ({ channel: "sms", to, from: "+15005550006", body: `crash test ${i}` })));
    await sleep(300);
    await stack.restartBridge();
    const final = await settle(stack, ids, new Set(["delivered", "bounced", "failed", "expired"]), 180_000);
    expect(final.filter((m) => m.status !== "delivered").map((m) => [m.id, m.status])).toEqual([]);
  }, 240_000);
});

describe("failover", () => {
  let stack: TestStack;
  beforeAll(async () => {
    // A port nobody listens on: every bind of the SMPP route stays down.
    const dead = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    stack = await startTestStack({
      smppRoute: { binds: [{ host: "127.0.0.1", port: dead, systemId: "lasthop", password: "devpass1", mode: "transceiver" }], reconnectMinMs: 100, reconnectMaxMs: 1000 },
    });
  }, 90_000);
  afterAll(async () => stack?.stop());

  it("with every bind down, messages go out on the REST route, once, and say so", async () => {
    const to = "+14155550777";
    const sent = (await stack.api("/v1/messages", { method: "POST", body: JSON.stringify({ channel: "sms", to, from: "+15005550006", body: "failover" }) })).body;
    const delivered = await stack.waitForStatus(sent.id, "delivered", 60_000);
    expect(delivered.route).toBe("rest");
    expect(delivered.events.find((e: { type: string }) => e.type === "accepted").detail.failedOver).toEqual([expect.objectContaining({ route: "smpp", reason: "route_down" })]);
    const received = ((await stack.sandboxGet("/_sandbox/received?channel=sms")) as any[]).filter((r) => r.to === to);
    expect(received.map((r) => r.payload.route)).toEqual(["rest"]);
    const health = await (await fetch(`${stack.bridgeUrl}/healthz`)).json();
    expect(JSON.stringify(health)).toMatch(/down|connecting|binding/);
  }, 90_000);
});
