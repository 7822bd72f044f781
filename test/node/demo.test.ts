// `npm run demo` against a stack of its own: the mix on every channel, every outcome row with
// its count, and lasthop's table equal to what the simulators and the event-stream receiver saw.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DemoError, runDemo } from "../../sandbox/demo.ts";
import type { Plan } from "../../sandbox/demo-mix.ts";
import { Progress } from "../../sandbox/demo-report.ts";
import { eventsByMessage, lasthopOutcome, receiverOutcome, settled, simulatorOutcome } from "../../sandbox/demo-views.ts";
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

describe("the demo's views and progress", () => {
  const plan = (channel: string, body: Record<string, unknown>, extra: Partial<Plan> = {}): Plan => ({
    key: "demo-000001-0",
    channel,
    case: "delivered",
    expected: "delivered",
    recipient: "reader-000001-0@example.com",
    body,
    ...extra,
  });

  it("reads each view to the same outcome words", () => {
    const esp = plan("email sendgrid", { channel: "email" }, { provider: "sendgrid", expected: "complained" });
    const accepted = { channel: "email", to: "reader-000001-0@example.com", status: 202, outcome: "accepted", provider: "sendgrid" };
    const hook = (event: string, status: number | null) => ({
      provider: "sendgrid",
      event,
      recipient: "Reader-000001-0@example.com",
      status,
    });
    expect(simulatorOutcome(esp, [], [])).toBe("suppressed");
    expect(simulatorOutcome(esp, [accepted], [])).toBe("accepted");
    expect(simulatorOutcome(esp, [accepted], [hook("delivered", 200)])).toBe("delivered");
    expect(simulatorOutcome(esp, [accepted], [hook("delivered", 200), hook("complaint", null)])).toBe("pending");
    expect(simulatorOutcome(esp, [accepted], [hook("delivered", 200), hook("complaint", 200)])).toBe("complained");
    // A webhook lasthop refused is no news lasthop has.
    expect(simulatorOutcome(esp, [accepted], [hook("delivered", 500)])).toBe("accepted");

    const push = plan("fcm", { channel: "fcm" }, { recipient: "demo-000001-0-slow", expected: "accepted" });
    const answer = (status: number, outcome: string) => ({ channel: "fcm", to: "demo-000001-0-slow", status, outcome });
    expect(simulatorOutcome(push, [answer(429, "throttled")], [])).toBe("pending");
    expect(simulatorOutcome(push, [answer(429, "throttled"), answer(200, "accepted")], [])).toBe("accepted");
    expect(simulatorOutcome(push, [answer(404, "gone")], [])).toBe("bounced");

    const sms = plan("sms", { channel: "sms" }, { recipient: "+10000010000000", marker: "(ref 000001-0)" });
    const smsc = (outcome: string, text: string) => ({ channel: "sms", to: "10000010000000", status: 0, outcome, payload: { text } });
    expect(simulatorOutcome(sms, [smsc("delivered", "You are unsubscribed")], [])).toBe("suppressed");
    expect(simulatorOutcome(sms, [smsc("bounce", "shipped (ref 000001-0)")], [])).toBe("bounced");

    expect(lasthopOutcome(undefined)).toBe("pending");
    expect(lasthopOutcome({ status: "deferred" })).toBe("pending");
    expect(lasthopOutcome({ status: "delivered", events: [{ type: "delivered" }, { type: "complained" }] })).toBe("complained");
    expect(receiverOutcome(["message.accepted", "message.delivered", "message.complained"])).toBe("complained");
    expect(receiverOutcome(["message.deferred", "message.accepted"])).toBe("accepted");
    expect(receiverOutcome(["message.deferred"])).toBe("pending");

    // A complaint case is not settled at delivered; a bounce where delivery was expected is (and is wrong).
    expect(settled(esp, "delivered")).toBe(false);
    expect(settled(esp, "complained")).toBe(true);
    expect(settled(plan("sms", { channel: "sms" }), "bounced")).toBe(true);
    expect(settled(plan("sms", { channel: "sms" }), "accepted")).toBe(false);

    // Deliveries are at least once: the same event twice counts once.
    const delivery = (id: string, type: string) => ({ body: JSON.stringify({ type, data: { id, message: { id: "m1" } } }) });
    expect(eventsByMessage([delivery("e1", "message.accepted"), delivery("e1", "message.accepted"), { body: "not json" }])).toEqual(
      new Map([["m1", ["message.accepted"]]]),
    );
  });

  it("redraws one line on a terminal, and writes plain lines otherwise", () => {
    const tty: string[] = [];
    const bar = new Progress({ write: (text: string) => tty.push(text), isTTY: true, columns: 60 });
    bar.update(3, 4, { accepted: 2, bounced: 1, pending: 1 });
    bar.update(4, 4, { accepted: 3, bounced: 1 });
    bar.done();
    expect(tty).toHaveLength(3);
    // Cut to the terminal's width less one, so the line never wraps.
    expect(tty[0]).toMatch(/^\r\x1b\[K\[█{18}░{6}\] \d+\.\ds {2}3\/4 final {2}accepted 2 · b*…$/);
    expect(tty[0]!.length).toBe("\r\x1b[K".length + 59);
    expect(tty[1]).toMatch(/^\r\x1b\[K\[█{24}\] \d+\.\ds {2}4\/4 final/);
    expect(tty[2]).toBe("\n");

    const plain: string[] = [];
    const lines = new Progress({ write: (text: string) => plain.push(text) });
    lines.update(1, 4, { pending: 3, accepted: 1 });
    lines.update(2, 4, { pending: 2, accepted: 2 });
    lines.done();
    // At most one line every two seconds: the second update, a moment later, is not written.
    expect(plain).toEqual([expect.stringMatching(/^ {2}\d+\.\ds {2}1\/4 final {2}accepted 1 · pending 3\n$/)]);
  });
});
