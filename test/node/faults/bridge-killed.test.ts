// The bridge SIGKILLed at seeded random points while emails, APNs pushes and SMS are in flight,
// and started again on its port each time. Every message ends with exactly one outcome; what
// the simulators saw beyond one arrival per message is a duplicate, and each one must fall in a
// window the README names: the peer took the message (250, 200, submit_sm) and the bridge died
// before the edge heard, so the edge recorded `submitted: "maybe"` and sent it again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SENDING_DOMAIN } from "../../../sandbox/dev-keys.ts";
import { LONG_RUN_MS } from "../../wait.ts";
import { startTestStack, type TestStack } from "../stack-helpers.ts";
import { type MessageView, outcomeEvents, prng, runSeed, sendBatches, settle, tally } from "./load.ts";

/**
 * Messages per channel: 150 in `npm test` and CI, so the suite stays bounded on a shared 2-core
 * machine; `FAULT_MESSAGES=1000 npm run test:faults` is the issue's full run.
 */
const PER_CHANNEL = Number(process.env.FAULT_MESSAGES ?? 150);
/** Crashes per run. */
const KILLS = 6;

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ smppRoute: { window: 20, reconnectMinMs: 50, reconnectMaxMs: 500 } });
});
afterAll(async () => stack?.stop());

type Arrival = { to: string; at: string; status: number; outcome: string; headers: Record<string, any>; payload: any };
const arrivals = async (channel: string): Promise<Arrival[]> => stack.sandboxGet(`/_sandbox/received?channel=${channel}`);

/** The deferral that says the edge does not know whether the peer has the message: the duplicate's window. */
const maybeSubmitted = (m: MessageView) => m.events.filter((e) => e.type === "deferred" && e.detail?.submitted === "maybe");

describe("the bridge killed mid-flight", () => {
  it(
    `${PER_CHANNEL} emails, ${PER_CHANNEL} APNs pushes and ${PER_CHANNEL} SMS: none lost, one outcome each, every duplicate in a named window`,
    async () => {
      const seed = runSeed();
      const random = prng(seed);
      console.log(`bridge-killed: seed ${seed} (FAULT_SEED=${seed} repeats the kill schedule), ${PER_CHANNEL} messages per channel`);
      const started = Date.now();

      const tokens = await Promise.all(
        Array.from(
          { length: PER_CHANNEL },
          async (_, i) => (await stack.sandboxPost("/_sandbox/apns/tokens", { name: `kill${i}` })).token as string,
        ),
      );
      // Ending in 7: the sandbox's outcome digits (0000, 1111, 2222) never come up.
      const numbers = Array.from({ length: PER_CHANNEL }, (_, i) => `+1648${100_000 + i}7`);
      const messages = Array.from({ length: PER_CHANNEL }, (_, i) => [
        { channel: "email", from: `news@${DEV_SENDING_DOMAIN}`, to: `kill-${i}@example.com`, subject: `kill ${i}`, text: `kill ${i}` },
        { channel: "apns", to: tokens[i], topic: "com.example.app", pushType: "alert", payload: { aps: { alert: `kill ${i}` } } },
        { channel: "sms", to: numbers[i], from: "+15005550006", body: `kill ${i}` },
      ]).flat();

      // The killer: crashes at seeded random moments (the work's pace on this machine decides
      // what each one hits), each followed at once by a fresh bridge on the same port.
      let done = false;
      const kills: number[] = [];
      const killer = (async () => {
        for (let k = 0; k < KILLS && !done; k++) {
          const waitMs = 500 + Math.floor(random() * 4000);
          await new Promise((resolve) => setTimeout(resolve, waitMs));
          if (done) break;
          kills.push(Date.now());
          await stack.restartBridge();
        }
      })();

      const ids = await sendBatches(stack, messages);
      expect(new Set(ids).size).toBe(messages.length);
      const final = await settle(stack, ids, { stallMs: 120_000 });
      done = true;
      await killer;
      const seconds = Math.round((Date.now() - started) / 1000);

      // One outcome each: never none, never two.
      const outcomeCounts = final.map((m) => outcomeEvents(m).length);
      expect(final.filter((_, i) => outcomeCounts[i] !== 1).map((m) => [m.id, m.status, outcomeEvents(m).map((e) => e.type)])).toEqual([]);
      // Nothing lost: every message got through (these recipients have no reason to fail).
      const expected: Record<string, string> = { email: "accepted", apns: "accepted", sms: "delivered" };
      expect(final.filter((m) => m.status !== expected[m.channel]).map((m) => [m.channel, m.id, m.status, m.events.at(-1)])).toEqual([]);

      // What the simulators saw, per message.
      const byId = new Map(final.map((m) => [m.id, m]));
      const idOfNumber = new Map(numbers.map((n, i) => [n, ids[i * 3 + 2]!]));
      const seen = {
        email: tally(
          (await arrivals("email")).filter((a) => a.outcome === "accepted"),
          (a) => /^bounce\+([^@]+)@/.exec(a.headers.mailFrom)?.[1],
        ),
        apns: tally(
          (await arrivals("apns")).filter((a) => a.status === 200),
          (a) => a.headers["apns-id"],
        ),
        sms: tally(await arrivals("sms"), (a) => idOfNumber.get(`+${a.to.replace(/^\+/, "")}`)),
      };
      const report: Record<string, { messages: number; arrived: number; duplicates: number; windows: Record<string, number> }> = {};
      const outsideWindows: unknown[] = [];
      for (const channel of ["email", "apns", "sms"] as const) {
        const mine = final.filter((m) => m.channel === channel);
        // Lost at the peer: an outcome recorded, nothing received.
        expect(mine.filter((m) => !seen[channel].has(m.id)).map((m) => m.id)).toEqual([]);
        const windows: Record<string, number> = {};
        let duplicates = 0;
        for (const [id, list] of seen[channel]) {
          const message = byId.get(id);
          expect(message, `an arrival for a message this run did not send: ${id}`).toBeDefined();
          if (list.length < 2) continue;
          duplicates += list.length - 1;
          // Each repeat needs an attempt whose fate the edge could not know.
          const unknown = maybeSubmitted(message!);
          if (unknown.length < list.length - 1)
            outsideWindows.push({ channel, id, arrivals: list.map((a) => a.at), events: message!.events });
          for (const e of unknown.slice(0, list.length - 1)) {
            const name = `${e.detail!.reason}${e.detail!.status ? ` ${e.detail!.status}` : ""}`;
            windows[name] = (windows[name] ?? 0) + 1;
          }
        }
        report[channel] = { messages: mine.length, arrived: seen[channel].size, duplicates, windows };
      }
      console.log(
        `bridge-killed: ${messages.length} messages, ${kills.length} kills, ${seconds} s; per channel: ${JSON.stringify(report, null, 1)}`,
      );
      expect(kills.length).toBeGreaterThan(0);
      expect(outsideWindows).toEqual([]);
    },
    LONG_RUN_MS,
  );
});
