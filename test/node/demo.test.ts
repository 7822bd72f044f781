// `npm run demo` against a stack of its own: the mix on every channel, every outcome row with
// its count, and lasthop's table equal to what the simulators and the event-stream receiver saw.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoError, runDemo } from "../../sandbox/demo.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  // As `npm start` sets the dev account up: one email route of each type, the receiver connected.
  stack = await startTestStack({ emailRoutes: true });
});
afterAll(async () => stack?.stop());

/** channel / case -> [messages, the outcome every view must give each of them]. */
const EXPECTED: Record<string, [number, string]> = {
  "email relay / delivered": [10, "accepted"],
  "email relay / hard bounce": [3, "bounced"],
  "email relay / soft bounce, then accepted": [3, "accepted"],
  "email sendgrid / delivered": [6, "delivered"],
  "email sendgrid / hard bounce": [2, "bounced"],
  "email sendgrid / complaint": [2, "complained"],
  "email sendgrid / throttled, then delivered": [2, "delivered"],
  "email postmark / delivered": [6, "delivered"],
  "email postmark / hard bounce": [2, "bounced"],
  "email postmark / complaint": [2, "complained"],
  "email postmark / throttled, then delivered": [2, "delivered"],
  "webpush / delivered": [10, "accepted"],
  "webpush / dead token": [2, "bounced"],
  "webpush / throttled, then accepted": [2, "accepted"],
  "fcm / delivered": [10, "accepted"],
  "fcm / dead token": [2, "bounced"],
  "fcm / throttled, then accepted": [2, "accepted"],
  "apns / delivered": [10, "accepted"],
  "apns / dead token": [2, "bounced"],
  "apns / throttled, then accepted": [2, "accepted"],
  "sms / delivered": [12, "delivered"],
  "sms / hard bounce": [2, "bounced"],
  "sms / late receipt, then delivered": [2, "delivered"],
  "sms / throttled, then delivered": [2, "delivered"],
  "sms / STOP reply, then suppressed": [2, "suppressed"],
};

describe("npm run demo", () => {
  it("sends the mix on every channel; every row has its count, and lasthop's view equals the simulators' and the receiver's", async () => {
    const printed: string[] = [];
    const summary = await runDemo({
      workerUrl: stack.workerUrl,
      sandboxUrl: stack.sandbox.httpUrl,
      apiKey: stack.apiKey,
      account: stack.account,
      out: { write: (text: string) => printed.push(text) },
    });
    // The demo's own output in the test log: the table, and why any message is not as expected.
    console.log(printed.join(""));
    const table = Object.fromEntries(
      summary.rows.map((r) => [`${r.channel} / ${r.case}`, { lasthop: r.lasthop, simulators: r.simulators, receiver: r.receiver }]),
    );
    const expected = Object.fromEntries(
      Object.entries(EXPECTED).map(([row, [n, outcome]]) => [
        row,
        { lasthop: { [outcome]: n }, simulators: { [outcome]: n }, receiver: { [outcome]: n } },
      ]),
    );
    expect(table).toEqual(expected);
    expect(summary.pending).toEqual([]);
    expect(summary.ok).toBe(true);
    expect(summary.total).toBe(Object.values(EXPECTED).reduce((sum, [n]) => sum + n, 0));

    // Every message is its own: one id per Idempotency-Key, and each reached its last hop once
    // (a throttled or greylisted one twice, its refusal and its retry).
    expect(new Set(summary.messages.map((m) => m.id)).size).toBe(summary.total);
    const arrivals = (await stack.sandboxGet("/_sandbox/received?channel=fcm")) as Array<{ to: string; outcome: string }>;
    const accepted = arrivals.filter((a) => a.to.startsWith(`demo-${summary.runId}-`) && a.outcome === "accepted");
    expect(accepted).toHaveLength(12);
    expect(new Set(accepted.map((a) => a.to)).size).toBe(12);

    const output = printed.join("");
    expect(output).toContain("lasthop (GET /v1/messages/:id)");
    expect(output).toMatch(/^sms\s+STOP reply, then suppressed\s+2\s+2 suppressed\s+2 suppressed\s+2 suppressed\s+ok$/m);
    expect(output).toContain(`ok: ${summary.total} messages`);
    expect(output).not.toContain("MISMATCH");
  });

  it("says so when the stack is not running, or the key is not the account's", async () => {
    const closed = `http://127.0.0.1:1`;
    await expect(
      runDemo({ workerUrl: closed, sandboxUrl: stack.sandbox.httpUrl, apiKey: stack.apiKey, account: stack.account }),
    ).rejects.toThrow(/lasthop is not running at http:\/\/127\.0\.0\.1:1\/healthz.*npm start/);
    const refused = runDemo({ workerUrl: stack.workerUrl, sandboxUrl: stack.sandbox.httpUrl, apiKey: "not-a-key", account: stack.account });
    await expect(refused).rejects.toBeInstanceOf(DemoError);
    await expect(refused).rejects.toThrow(/API key was refused \(401/);
  });
});
