// End-to-end emails through a hosted provider's route (issue 15): lasthop's SendGrid route to the
// sandbox's SendGrid simulator, beside a plain Node client that posts the same v3 mail/send
// requests to the same simulator. The simulator's own counter of accepted requests ends both
// intervals, so each side is timed from its first send to the simulator holding all of them.
import { randomUUID } from "node:crypto";
import type { Stack } from "../sandbox/stack.ts";
import { DEV_ADMIN_KEY } from "../sandbox/stack.ts";
import { sendThroughLasthop } from "./e2e.ts";
import { api, forEachConcurrent, median, sleep } from "./net.ts";
import type { Figure } from "./report.ts";
import { BENCH_FROM, benchRecipient, emailSubject } from "./smtp.ts";

export type EspSettings = { messages: number; concurrency: number; rounds: number; textBytes: number };

export async function espRouteEmails(stack: Stack, s: EspSettings, text: string, notes: string[]): Promise<Figure> {
  const sendgrid = stack.sandbox.esp.config().sendgrid;
  const key = await routedAccount(stack, sendgrid);
  const accepted = () => stack.sandbox.esp.stats().sendgrid.accepted;
  // The simulator posts a signed webhook per accepted message to its target: point it at an
  // account with no SendGrid webhook (each answers 404 at once), so neither side's run also
  // carries webhook processing; restored after.
  const target = stack.sandbox.webhooks.target;
  stack.sandbox.webhooks.setTarget({ workerUrl: stack.workerUrl, account: "bench-no-webhooks" });
  try {
    const runOnce = async (name: string, send: (n: number) => Promise<{ ok: number; statuses: Record<string, number> }>) => {
      const before = accepted();
      const started = performance.now();
      const log = await send(s.messages);
      const reached = await until(() => accepted() >= before + log.ok, 120_000);
      const seconds = (performance.now() - started) / 1000;
      notes.push(
        `${name}: answers ${JSON.stringify(log.statuses)}; the simulator ${reached ? `held all ${log.ok} after ${seconds.toFixed(2)} s` : `had ${accepted() - before} of ${log.ok} when the 120 s bound ran out`}`,
      );
      return log.ok / seconds;
    };
    const lasthop = () =>
      runOnce("esp route, lasthop", async (n) => {
        const log = await sendThroughLasthop(stack.workerUrl, key, (i) => emailBody(i, text), n, s.concurrency);
        return { ok: log.accepted.size, statuses: log.statuses };
      });
    const plain = () => runOnce("esp route, plain Node client", (n) => postDirect(sendgrid, text, n, s.concurrency));
    // Untimed warm-up of each, then rounds with the order swapped each round; each figure the median.
    await runOnce("esp route warm-up, lasthop", async (n) => {
      const log = await sendThroughLasthop(stack.workerUrl, key, (i) => emailBody(i, text), Math.min(n, 50), s.concurrency);
      return { ok: log.accepted.size, statuses: log.statuses };
    });
    await runOnce("esp route warm-up, plain Node client", (n) => postDirect(sendgrid, text, Math.min(n, 50), s.concurrency));
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let round = 0; round < s.rounds; round++) {
      if (round % 2 === 0) {
        ours.push(await lasthop());
        theirs.push(await plain());
      } else {
        theirs.push(await plain());
        ours.push(await lasthop());
      }
    }
    return {
      name: "end-to-end emails/s through the SendGrid route (POST /v1/messages → SendGrid simulator)",
      unit: "msg/s",
      value: median(ours),
      baselines: [
        { name: "plain Node client: fetch() POST /v3/mail/send with the same body shape to the same simulator", value: median(theirs) },
      ],
      settings:
        `${s.messages} emails per run, ${s.concurrency} in flight, ${s.rounds} rounds (order swapped each round, median), ` +
        `the same ${text.length} B text body; lasthop's account has one route (sendgrid), so no circuit is read; ` +
        `rounds lasthop ${ours.map((r) => r.toFixed(1)).join(", ")} / plain ${theirs.map((r) => r.toFixed(1)).join(", ")} msg/s`,
    };
  } finally {
    if (target) stack.sandbox.webhooks.setTarget(target);
  }
}

const emailBody = (i: number, text: string) =>
  JSON.stringify({ channel: "email", from: BENCH_FROM, to: benchRecipient(i), subject: emailSubject, text, route: "sendgrid" });

/** The baseline: what a Node service would post itself, one v3 mail/send per message, our id in custom_args. */
async function postDirect(sendgrid: { baseUrl: string; apiKey: string }, text: string, n: number, concurrency: number) {
  const statuses: Record<string, number> = {};
  let ok = 0;
  await forEachConcurrent(n, concurrency, async (i) => {
    const response = await fetch(`${sendgrid.baseUrl}/v3/mail/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${sendgrid.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({
        personalizations: [{ to: [{ email: benchRecipient(i) }] }],
        from: { email: BENCH_FROM },
        subject: emailSubject,
        content: [{ type: "text/plain", value: text }],
        custom_args: { lasthop_id: randomUUID() },
      }),
    }).catch(() => null);
    const status = response ? String(response.status) : "error";
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (response?.status === 202) ok += 1;
    await response?.body?.cancel();
  });
  return { ok, statuses };
}

/** A fresh account whose email goes through one SendGrid route at the simulator. */
async function routedAccount(stack: Stack, sendgrid: { baseUrl: string; apiKey: string }): Promise<string> {
  const account = await api<{ apiKey: { key: string } }>(stack.workerUrl, DEV_ADMIN_KEY, "POST", "/v1/admin/accounts", {
    name: "bench esp",
  });
  const key = (
    await api<{ key: string }>(stack.workerUrl, account.apiKey.key, "POST", "/v1/api-keys", {
      name: "bench esp",
      scopes: ["send", "read", "config:write"],
      ratePerSecond: 100_000,
    })
  ).key;
  await api(stack.workerUrl, key, "PUT", "/v1/providers/sendgrid", { apiKey: sendgrid.apiKey });
  await api(stack.workerUrl, key, "PUT", "/v1/email/settings", {
    sendingDomains: [BENCH_FROM.split("@")[1]],
    bounceDomain: "bounces.lasthop.test",
    relay: { mode: "direct" },
    routes: [{ name: "sendgrid", type: "sendgrid", baseUrl: sendgrid.baseUrl }],
  });
  return key;
}

async function until(done: () => boolean, boundMs: number): Promise<boolean> {
  const deadline = performance.now() + boundMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}
