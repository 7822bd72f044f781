// SMS under faults, end to end: an SMSC that drops the bind every 100 submits, a bridge
// killed mid-flight, and an SMPP route that is down (failover to the REST route). Nothing
// accepted is lost, and each message ends with one outcome.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../sandbox/ports.ts";
import { LONG_RUN_MS, waitFor, waitForProgress } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

const sendBatch = async (stack: TestStack, messages: unknown[]) => {
  const ids: string[] = [];
  const run = Math.random().toString(36).slice(2);
  for (let i = 0; i < messages.length; i += 100) {
    // What a client does with a 5xx (wrangler dev's proxy drops a request now and then under
    // this load): the same request again with the same Idempotency-Key, which sends nothing twice.
    const post = () =>
      stack
        .api("/v1/messages/batch", {
          method: "POST",
          headers: { "idempotency-key": `${run}-${i}` },
          body: JSON.stringify({ messages: messages.slice(i, i + 100) }),
        })
        .catch(() => ({ status: 0, body: null }));
    let res = await post();
    for (let attempt = 1; attempt < 4 && res.status !== 202; attempt++) res = await post();
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    ids.push(...res.body.results.map((r: { id: string }) => r.id));
  }
  return ids;
};

const FINAL = new Set(["delivered", "bounced", "failed", "expired"]);

/**
 * Reads every message until each has a final status. Fails only when none has reached one for a
 * minute (a busy machine is slow, a stuck pipeline is still), saying how many had.
 */
async function settle(stack: TestStack, ids: string[]) {
  const states = new Map<string, any>();
  const settled = async () => {
    const open = ids.filter((id) => !FINAL.has(states.get(id)?.status));
    for (let i = 0; i < open.length; i += 50) {
      await Promise.all(open.slice(i, i + 50).map(async (id) => states.set(id, (await stack.api(`/v1/messages/${id}`)).body)));
    }
    return ids.filter((id) => FINAL.has(states.get(id)?.status)).length;
  };
  await waitForProgress(settled, ids.length, { stallMs: 60_000, what: "messages with a final status", everyMs: 500 });
  return ids.map((id) => states.get(id));
}

describe("SMPP faults", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({ smppRoute: { window: 20, reconnectMinMs: 50, reconnectMaxMs: 500 } });
  });
  afterAll(async () => stack?.stop());

  it(
    "1,000 messages through an SMSC that drops the bind every 100 submits: every one delivered, none lost",
    async () => {
      await stack.sandboxPost("/_sandbox/sms/faults", { dropEvery: 100 });
      // Ending in 7: the sandbox's outcome digits (0000, 1111, 2222) never come up.
      const numbers = Array.from({ length: 1000 }, (_, i) => `+1646${100_000 + i}7`);
      const ids = await sendBatch(
        stack,
        numbers.map((to, i) => ({ channel: "sms", to, from: "+15005550006", body: `drop test ${i}` })),
      );
      expect(new Set(ids).size).toBe(1000);
      const final = await settle(stack, ids);
      expect(final.filter((m) => m.status !== "delivered").map((m) => [m.id, m.status])).toEqual([]);
      // Each message reached the SMSC: the drops cost reconnects, not messages.
      const received = (await stack.sandboxGet("/_sandbox/received?channel=sms")) as Array<{ to: string }>;
      const reached = new Set(received.map((r) => `+${r.to.replace(/^\+/, "")}`));
      expect(numbers.filter((n) => !reached.has(n))).toEqual([]);
      await stack.sandboxPost("/_sandbox/sms/faults", {});
    },
    LONG_RUN_MS,
  );

  it(
    "a bridge killed mid-flight loses nothing: the queue retries what it never confirmed",
    async () => {
      const numbers = Array.from({ length: 150 }, (_, i) => `+1647${100_000 + i}7`);
      // The SMSC takes submits and answers none, so a batch stays in flight until the kill.
      await stack.sandboxPost("/_sandbox/sms/faults", { noResponse: true });
      const ids = await sendBatch(
        stack,
        numbers.map((to, i) => ({ channel: "sms", to, from: "+15005550006", body: `crash test ${i}` })),
      );
      await waitFor(async () => (await stack.bridgeMetric("bridge_in_flight")) > 0, "a batch in flight at the bridge");
      await stack.sandboxPost("/_sandbox/sms/faults", {});
      await stack.restartBridge();
      const final = await settle(stack, ids);
      expect(final.filter((m) => m.status !== "delivered").map((m) => [m.id, m.status])).toEqual([]);
    },
    LONG_RUN_MS,
  );
});

describe("failover", () => {
  let stack: TestStack;
  beforeAll(async () => {
    // A port nobody listens on: every bind of the SMPP route stays down.
    const dead = await freePort();
    stack = await startTestStack({
      smppRoute: {
        binds: [{ host: "127.0.0.1", port: dead, systemId: "lasthop", password: "devpass1", mode: "transceiver" }],
        reconnectMinMs: 100,
        reconnectMaxMs: 1000,
      },
    });
  });
  afterAll(async () => stack?.stop());

  it("with every bind down, messages go out on the REST route, once, and say so", async () => {
    const to = "+14155550777";
    const sent = (
      await stack.api("/v1/messages", {
        method: "POST",
        body: JSON.stringify({ channel: "sms", to, from: "+15005550006", body: "failover" }),
      })
    ).body;
    const delivered = await stack.waitForStatus(sent.id, "delivered");
    expect(delivered.route).toBe("rest");
    expect(delivered.events.find((e: { type: string }) => e.type === "accepted").detail.failedOver).toEqual([
      expect.objectContaining({ route: "smpp", reason: "route_down" }),
    ]);
    const received = ((await stack.sandboxGet("/_sandbox/received?channel=sms")) as any[]).filter((r) => r.to === to);
    expect(received.map((r) => r.payload.route)).toEqual(["rest"]);
    const health = await (await fetch(`${stack.bridgeUrl}/healthz`)).json();
    expect(JSON.stringify(health)).toMatch(/down|connecting|binding/);
  });
});
