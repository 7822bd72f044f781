// Peers misbehaving, end to end: an SMSC that drops the bind every 100 submits, APNs sending
// GOAWAY every 500 streams, an email provider's send API answering 503 for a window, and the
// customer's event-stream endpoint hanging. For each: nothing is lost, throughput comes back
// after the fault (completions per second before, during and after are printed; only "after > 0
// and everything completes" is asserted: performance is measured in bench/, not here), and
// nothing loops hot: no message (or event) was tried more often than its retry schedule allows
// in the time it took.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_SENDING_DOMAIN } from "../../../sandbox/dev-keys.ts";
import { emailRetryDelaySeconds, retryDelaySeconds } from "../../../src/core/retry.ts";
import { ATTEMPT_TIMEOUT_MS, MAX_ATTEMPTS, RETRY_SCHEDULE_MS } from "../../../src/core/webhook-delivery.ts";
import { LONG_RUN_MS, waitFor, waitForProgress } from "../../wait.ts";
import { startTestStack, type TestStack } from "../stack-helpers.ts";
import { attemptsAllowed, type MessageView, outcomeEvents, patient, sendBatches, secondsToOutcome, settle, tally } from "./load.ts";

/** Each fault's knobs (the figures) and how many messages run before, during and after it. */
const SMSC_DROP_EVERY = 100;
const APNS_GOAWAY_EVERY = 500;
const ESP_OUTAGE_SECONDS = Number(process.env.FAULT_ESP_OUTAGE_SECONDS ?? 30);
const HOOK_HANGS = 5;
// Half the batch sizes by default (bounded for CI); FAULT_PEER_SCALE=1 is the full run.
const scale = Number(process.env.FAULT_PEER_SCALE ?? 0.5);
const COUNTS = {
  sms: { before: 50 * scale, during: 300 * scale, after: 50 * scale },
  apns: { before: 100 * scale, during: 1100 * scale, after: 100 * scale },
  email: { before: 20 * scale, during: 60 * scale, after: 20 * scale },
  hooks: { before: 10 * scale, during: 20 * scale, after: 10 * scale },
};
// The stack's schedule knobs (stack-helpers.ts): RETRY_BASE_SECONDS and EMAIL_RETRY_BASE_SECONDS are 1.
const RETRY_BASE = 1;

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ smppRoute: { window: 20, reconnectMinMs: 50, reconnectMaxMs: 500 } });
});
afterAll(async () => stack?.stop());

type Phase = "before" | "during" | "after";
const PHASE_NO: Record<Phase, number> = { before: 1, during: 2, after: 3 };
type PhaseResult = { messages: MessageView[]; seconds: number; perSecond: number };

/**
 * Runs the three phases: `arm` the fault before "during", `disarm` it (or wait for its window to
 * end) before "after". Each phase sends its messages and reads them until all have their outcome.
 */
async function phases(
  make: (phase: Phase, count: number) => Promise<unknown[]>,
  counts: Record<Phase, number>,
  fault: { arm(): Promise<void>; disarm(): Promise<void> },
): Promise<Record<Phase, PhaseResult>> {
  const out = {} as Record<Phase, PhaseResult>;
  for (const phase of ["before", "during", "after"] as const) {
    if (phase === "during") await fault.arm();
    if (phase === "after") await fault.disarm();
    const messages = await make(phase, counts[phase]);
    const started = Date.now();
    const ids = await sendBatches(stack, messages);
    const final = await settle(stack, ids);
    const seconds = (Date.now() - started) / 1000;
    out[phase] = { messages: final, seconds, perSecond: Math.round((final.length / seconds) * 10) / 10 };
  }
  return out;
}

function report(name: string, result: Record<Phase, PhaseResult>, extra: Record<string, unknown> = {}) {
  const rates = Object.fromEntries(
    Object.entries(result).map(([phase, r]) => [
      phase,
      { messages: r.messages.length, seconds: Math.round(r.seconds), perSecond: r.perSecond },
    ]),
  );
  console.log(`peers/${name}: ${JSON.stringify({ ...rates, ...extra })}`);
}

/** Every message ended as `status` (or one of them) with one outcome, and none was tried more often than `minDelay`'s schedule allows. */
function expectCompleteAndCalm(result: Record<Phase, PhaseResult>, status: string | string[], minDelay: (retry: number) => number) {
  const all = Object.values(result).flatMap((r) => r.messages);
  const ok = new Set([status].flat());
  expect(all.filter((m) => !ok.has(m.status) || outcomeEvents(m).length !== 1).map((m) => [m.id, m.status])).toEqual([]);
  const hot = all
    .map((m) => ({ id: m.id, attempts: Number(m.attempts), allowed: attemptsAllowed(secondsToOutcome(m), minDelay) }))
    .filter((m) => m.attempts > m.allowed);
  expect(hot).toEqual([]);
  expect(result.after.perSecond).toBeGreaterThan(0);
  return Math.max(...all.map((m) => Number(m.attempts)));
}

const pushOrSmsDelay = (retry: number) => retryDelaySeconds(retry, RETRY_BASE, undefined, () => 0);

describe("SMSC dropping the bind every 100 submits", () => {
  it(
    "every SMS delivered once-outcomed, throughput back after, attempts within the schedule",
    async () => {
      let run = 0;
      const before = (await stack.sandboxGet("/_sandbox/sms/smsc")) as { binds?: unknown; submits: number };
      const result = await phases(
        async (phase, count) => {
          run += 1;
          // Ending in 7: the sandbox's outcome digits (0000, 1111, 2222) never come up.
          return Array.from({ length: count }, (_, i) => ({
            channel: "sms",
            to: `+1652${run}${10_000 + i}7`,
            from: "+15005550006",
            body: `${phase} ${i}`,
          }));
        },
        COUNTS.sms,
        {
          arm: async () => void (await stack.sandboxPost("/_sandbox/sms/faults", { dropEvery: SMSC_DROP_EVERY })),
          disarm: async () => void (await stack.sandboxPost("/_sandbox/sms/faults", {})),
        },
      );
      const maxAttempts = expectCompleteAndCalm(result, "delivered", pushOrSmsDelay);
      const smsc = (await stack.sandboxGet("/_sandbox/sms/smsc")) as { submits: number };
      report("smsc-drop", result, { submits: smsc.submits - before.submits, maxAttemptsPerMessage: maxAttempts });
    },
    LONG_RUN_MS,
  );
});

describe("APNs sending GOAWAY every 500 streams", () => {
  it(
    "every push accepted once, each reaching APNs once, throughput back after, attempts within the schedule",
    async () => {
      const statsBefore = (await stack.sandboxGet("/_sandbox/apns/stats")) as { sessionsOpened: number };
      const result = await phases(
        async (phase, count) => {
          const tokens = await Promise.all(
            Array.from(
              { length: count },
              async (_, i) => (await stack.sandboxPost("/_sandbox/apns/tokens", { name: `g${phase}${i}` })).token,
            ),
          );
          return tokens.map((to, i) => ({
            channel: "apns",
            to,
            topic: "com.example.app",
            pushType: "alert",
            payload: { aps: { alert: `${phase} ${i}` } },
          }));
        },
        COUNTS.apns,
        {
          arm: async () => void (await stack.sandboxPost("/_sandbox/apns/faults", { goawayEvery: APNS_GOAWAY_EVERY })),
          disarm: async () => void (await stack.sandboxPost("/_sandbox/apns/faults", {})),
        },
      );
      const maxAttempts = expectCompleteAndCalm(result, "accepted", pushOrSmsDelay);
      // The sandbox records answered pushes only: streams a GOAWAY refused were re-sent by the bridge, not lost or doubled.
      const ids = new Set(Object.values(result).flatMap((r) => r.messages.map((m) => m.id)));
      const arrived = tally(
        ((await stack.sandboxGet("/_sandbox/received?channel=apns")) as Array<{ status: number; headers: Record<string, string> }>).filter(
          (a) => a.status === 200 && ids.has(a.headers["apns-id"]!),
        ),
        (a) => a.headers["apns-id"],
      );
      // Every push reached APNs; one that reached it twice must be in the README's window: APNs took
      // it and the edge did not hear (a bridge call that failed or timed out: `submitted: "maybe"`).
      const messages = new Map(Object.values(result).flatMap((r) => r.messages.map((m) => [m.id, m] as const)));
      const inWindow = (id: string) => messages.get(id)!.events.some((e) => e.type === "deferred" && e.detail?.submitted === "maybe");
      expect([...ids].filter((id) => !arrived.get(id)?.length)).toEqual([]);
      expect([...ids].filter((id) => arrived.get(id)!.length > 1 && !inWindow(id))).toEqual([]);
      const stats = (await stack.sandboxGet("/_sandbox/apns/stats")) as { sessionsOpened: number };
      report("apns-goaway", result, {
        sessionsOpened: stats.sessionsOpened - statsBefore.sessionsOpened,
        maxAttemptsPerMessage: maxAttempts,
      });
    },
    LONG_RUN_MS,
  );
});

describe(`an email provider answering 503 for ${ESP_OUTAGE_SECONDS} s`, () => {
  it(
    "every email accepted once after the window, throughput back after, attempts within the email schedule",
    async () => {
      // The account's one route: SendGrid's send API (a single route has no circuit and nowhere to fail over to).
      const settings = (await patient(() => stack.api("/v1/email/settings"))).body;
      const baseUrl = (await stack.sandboxGet("/_sandbox/esp/config")).sendgrid.baseUrl;
      const put = await patient(() =>
        stack.api("/v1/email/settings", {
          method: "PUT",
          body: JSON.stringify({ ...settings, routes: [{ name: "sendgrid", type: "sendgrid", baseUrl }] }),
        }),
      );
      expect(put.status, JSON.stringify(put.body)).toBe(200);
      const requestsBefore = (await stack.sandboxGet("/_sandbox/esp/stats")).sendgrid.requests as number;
      const result = await phases(
        async (phase, count) =>
          Array.from({ length: count }, (_, i) => ({
            channel: "email",
            from: `news@${DEV_SENDING_DOMAIN}`,
            to: `esp-${phase}-${i}@example.com`,
            subject: phase,
            text: `${phase} ${i}`,
          })),
        COUNTS.email,
        {
          arm: async () => void (await stack.sandboxPost("/_sandbox/esp/sendgrid/behaviour", { mode: "503", seconds: ESP_OUTAGE_SECONDS })),
          // The window ends by itself.
          disarm: () =>
            waitFor(
              async () => (await stack.sandboxGet("/_sandbox/esp/sendgrid/behaviour")).mode === "ok",
              "the outage window to end",
              ESP_OUTAGE_SECONDS * 1000 + 30_000,
            ).then(() => undefined),
        },
      );
      // The sandbox's SendGrid reports delivery by its event webhook a moment after the 202: either state is the end.
      const maxAttempts = expectCompleteAndCalm(result, ["accepted", "delivered"], (retry) =>
        emailRetryDelaySeconds(retry, RETRY_BASE, () => 0),
      );
      const all = Object.values(result).flatMap((r) => r.messages);
      // What the provider saw: one request per attempt, no more.
      const stats = (await stack.sandboxGet("/_sandbox/esp/stats")).sendgrid as { requests: number; unavailable: number; accepted: number };
      const attempts = all.reduce((sum, m) => sum + Number(m.attempts), 0);
      expect(stats.requests - requestsBefore).toBeLessThanOrEqual(attempts);
      expect(result.during.messages.some((m) => Number(m.attempts) > 1)).toBe(true);
      report("esp-503", result, {
        requests: stats.requests - requestsBefore,
        unavailable: stats.unavailable,
        maxAttemptsPerMessage: maxAttempts,
      });
    },
    LONG_RUN_MS,
  );
});

describe("the customer's event-stream endpoint hanging", () => {
  it(
    "every event arrives, each tried no more often than the delivery schedule allows",
    async () => {
      const hook = stack.webhookReceiver!.name;
      const sinceIndex = stack.sandbox.hooks.received(hook)!.length;
      const result = await phases(
        async (phase, count) =>
          Array.from({ length: count }, (_, i) => ({
            channel: "sms",
            to: `+1653${PHASE_NO[phase]}${10_000 + i}7`,
            from: "+15005550006",
            body: phase,
          })),
        COUNTS.hooks,
        {
          // Held past the attempt timeout: the delivery ends as "no answer", as a hung endpoint's does.
          arm: async () => void stack.sandbox.hooks.behave(hook, { status: 200, times: HOOK_HANGS, delayMs: ATTEMPT_TIMEOUT_MS + 5_000 }),
          disarm: async () => void stack.sandbox.hooks.clearBehaviours(hook),
        },
      );
      expectCompleteAndCalm(result, "delivered", pushOrSmsDelay);
      const ids = new Set(Object.values(result).flatMap((r) => r.messages.map((m) => m.id)));
      const mine = () =>
        stack.sandbox.hooks
          .received(hook)!
          .slice(sinceIndex)
          .map((a) => ({ ...a, event: JSON.parse(a.body) as { type: string; data: { message?: { id: string } } } }))
          .filter((a) => ids.has(a.event.data.message?.id ?? ""));
      // Every message's `delivered` event reaches the endpoint with a 200, however long its hung attempts took.
      const deliveredAt = () =>
        new Set(
          mine()
            .filter((a) => a.status === 200 && a.event.type === "message.delivered")
            .map((a) => a.event.data.message?.id),
        );
      // An event whose retry met a hang too waits for the schedule's third attempt (5 min): the stall limit is above it.
      await waitForProgress(() => deliveredAt().size, ids.size, {
        stallMs: RETRY_SCHEDULE_MS[2]! + 60_000,
        what: "message.delivered events at the endpoint",
      });
      const arrivals = mine();
      const byEvent = tally(arrivals, (a) => a.headers["webhook-id"]);
      const hung = arrivals.filter((a) => a.aborted || a.status === null).length;
      expect(hung).toBeGreaterThan(0);
      // Attempts per event within the schedule: the first at once, then RETRY_SCHEDULE_MS (jitter at its low end).
      const minDelay = (retry: number) => ((RETRY_SCHEDULE_MS[retry] ?? Infinity) * 0.9) / 1000;
      const hot = [...byEvent].filter(([, list]) => {
        const elapsed = (Date.parse(list.at(-1)!.at) - Date.parse(list[0]!.at)) / 1000;
        return list.length > Math.min(MAX_ATTEMPTS, attemptsAllowed(elapsed, minDelay));
      });
      expect(hot.map(([id, list]) => [id, list.length])).toEqual([]);
      const lost = [...byEvent].filter(([, list]) => !list.some((a) => a.status !== null && a.status < 300 && !a.aborted));
      // An event whose only attempts hung is still owed a retry; none may be given up on.
      expect(lost.filter(([, list]) => list.length >= MAX_ATTEMPTS).map(([id]) => id)).toEqual([]);
      report("hook-hang", result, {
        events: byEvent.size,
        deliveries: arrivals.length,
        hung,
        maxAttemptsPerEvent: Math.max(...[...byEvent.values()].map((l) => l.length)),
      });
    },
    LONG_RUN_MS,
  );
});
