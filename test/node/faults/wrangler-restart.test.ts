// wrangler dev stopped mid-run and started again on the same persistence (the stack's
// `persistTo`, a temp dir that outlives the restart): every message it accepted before the stop
// still completes, with one outcome. Stopped gracefully (what wrangler dev does on SIGTERM:
// dispose) and crashed (its workerd SIGKILLed).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SENDING_DOMAIN } from "../../../sandbox/dev-keys.ts";
import { LONG_RUN_MS, waitFor } from "../../wait.ts";
import { startTestStack, type TestStack } from "../stack-helpers.ts";
import { outcomeEvents, sendBatches, settle } from "./load.ts";

/** Messages per channel and run (FAULT_RESTART_MESSAGES overrides). */
const PER_CHANNEL = Number(process.env.FAULT_RESTART_MESSAGES ?? 30);

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ smppRoute: { window: 20, reconnectMinMs: 50, reconnectMaxMs: 500 } });
});
afterAll(async () => stack?.stop());

async function load(tag: string) {
  const tokens = await Promise.all(
    Array.from(
      { length: PER_CHANNEL },
      async (_, i) => (await stack.sandboxPost("/_sandbox/apns/tokens", { name: `${tag}${i}` })).token as string,
    ),
  );
  const prefix = tag === "stop" ? "1649" : "1650";
  return Array.from({ length: PER_CHANNEL }, (_, i) => [
    { channel: "email", from: `news@${DEV_SENDING_DOMAIN}`, to: `${tag}-${i}@example.com`, subject: tag, text: `${tag} ${i}` },
    { channel: "apns", to: tokens[i], topic: "com.example.app", pushType: "alert", payload: { aps: { alert: `${tag} ${i}` } } },
    // Ending in 7: the sandbox's outcome digits (0000, 1111, 2222) never come up.
    { channel: "sms", to: `+${prefix}${100_000 + i}7`, from: "+15005550006", body: `${tag} ${i}` },
  ]).flat();
}

const submits = async () => ((await stack.sandboxGet("/_sandbox/sms/smsc")) as { submits: number }).submits;

describe("wrangler dev restarted mid-run", () => {
  it.each([["stop"], ["kill"]] as const)(
    "%s: every message accepted before the restart completes once, on the same persisted state",
    async (how) => {
      const messages = await load(how);
      const ids = await sendBatches(stack, messages);
      const before = await submits();
      // Mid-run: the pipeline has begun (the SMSC has submits of this run) and not finished.
      await waitFor(async () => (await submits()) > before, "the first submits of this run at the SMSC");
      const started = Date.now();
      await stack.restartWorker(how);
      console.log(`wrangler-restart (${how}): restarted in ${Date.now() - started} ms, ${ids.length} messages accepted before`);

      // The restarted Worker takes new work too.
      const after = await sendBatches(stack, [{ channel: "sms", to: "+16510000007", from: "+15005550006", body: `${how} after` }]);
      // Jobs the restart emptied from the local queue come back by the MessageDO's watchdog, a minute after they were due.
      const final = await settle(stack, [...ids, ...after], { stallMs: 180_000 });
      expect(final.filter((m) => outcomeEvents(m).length !== 1).map((m) => [m.id, m.status, m.events.map((e) => e.type)])).toEqual([]);
      const expected: Record<string, string> = { email: "accepted", apns: "accepted", sms: "delivered" };
      expect(final.filter((m) => m.status !== expected[m.channel]).map((m) => [m.channel, m.id, m.status])).toEqual([]);
      const byStatus: Record<string, number> = {};
      for (const m of final) byStatus[`${m.channel}:${m.status}`] = (byStatus[`${m.channel}:${m.status}`] ?? 0) + 1;
      console.log(`wrangler-restart (${how}): ${JSON.stringify(byStatus)}`);
    },
    LONG_RUN_MS,
  );
});
