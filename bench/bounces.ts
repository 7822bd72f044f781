// Issue 5's figures: bounces parsed and classified per second over the bounce corpus (test/fixtures/bounces), and
// DSNs per second through the bridge's inbound SMTP to applied state (`bounced` in the
// MessageDO), each beside a same-run baseline.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import SMTPConnection from "nodemailer/lib/smtp-connection/index.js";
import { parseFeedbackMessage } from "../src/core/bounce/parse.ts";
import PostalMime from "postal-mime";
import type { Stack } from "../sandbox/stack.ts";
import { dsn } from "../test/dsn-fixture.ts";
import { forEachConcurrent } from "./net.ts";
import type { Figure } from "./report.ts";

const CORPUS = process.env.BOUNCE_CORPUS ?? fileURLToPath(new URL("../test/fixtures/bounces/emails", import.meta.url));

/** Parse + classify every corpus message `rounds` times; baseline: postal-mime's parse alone (our floor). */
export async function bouncesParsed(rounds = 8): Promise<Figure> {
  const files = readdirSync(CORPUS)
    .filter((f) => f.endsWith(".eml"))
    .map((f) => readFileSync(join(CORPUS, f)));
  const time = async (work: (raw: Buffer) => Promise<unknown>) => {
    for (const raw of files) await work(raw); // warm-up
    const started = performance.now();
    for (let r = 0; r < rounds; r++) for (const raw of files) await work(raw);
    return (files.length * rounds) / ((performance.now() - started) / 1000);
  };
  const floor = await time((raw) => PostalMime.parse(raw));
  const ours = await time((raw) => parseFeedbackMessage(raw));
  return {
    name: "bounces parsed + classified/s (corpus)",
    unit: "msg/s",
    value: ours,
    baselines: [
      { name: "postal-mime parse alone (the MIME floor we build on)", value: floor },
      { name: "Sisimai Go port, published (~1,200/s; not this machine)", value: 1200 },
    ],
    settings: `${files.length} real messages × ${rounds} rounds, one at a time`,
  };
}

/** Sends each message over its own SMTP transaction, `concurrency` connections at a time. */
export async function deliver(
  host: string,
  port: number,
  messages: Array<{ to: string; raw: string }>,
  concurrency: number,
): Promise<number> {
  let refused = 0;
  await forEachConcurrent(messages.length, concurrency, async (i) => {
    const { to, raw } = messages[i]!;
    const conn = new SMTPConnection({ host, port, ignoreTLS: true, socketTimeout: 30_000 });
    await new Promise<void>((resolve, reject) => conn.connect((err?: Error) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve) =>
      conn.send({ from: "", to: [to] }, raw, (err: Error | null) => {
        if (err) refused++;
        resolve();
      }),
    );
    conn.quit();
  });
  return refused;
}

/**
 * N DSNs by SMTP to the bridge's inbound server until N messages read `bounced`; baseline:
 * the same N DSNs, same client and concurrency, into smtp-sink (the loopback SMTP limit).
 */
export async function inboundBounces(
  stack: Stack,
  apiKey: string,
  sink: { host: string; port: number },
  n = 100,
  concurrency = 4,
): Promise<Figure> {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.workerUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" } });
  const ids: string[] = [];
  await forEachConcurrent(n, 8, async (i) => {
    const res = await api("/v1/messages", {
      method: "POST",
      body: JSON.stringify({ channel: "email", from: "news@lasthop.test", to: `dsn-${i}@example.net`, subject: "s", text: "t" }),
    });
    ids[i] = ((await res.json()) as { id: string }).id;
  });
  const statusOf = async (id: string) => ((await (await api(`/v1/messages/${id}`)).json()) as { status: string }).status;
  const waitAll = async (status: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(ids);
    while (pending.size && Date.now() < deadline) {
      for (const id of [...pending]) if ((await statusOf(id)) === status) pending.delete(id);
      if (pending.size) await new Promise((r) => setTimeout(r, 200));
    }
    return pending.size;
  };
  await waitAll("accepted", 60_000);
  const messages = ids.map((id, i) => ({ to: `bounce+${id}@bounces.lasthop.test`, raw: dsn(id, `dsn-${i}@example.net`) }));

  let started = performance.now();
  await deliver(
    sink.host,
    sink.port,
    messages.map((m) => ({ ...m, to: "x@sink.test" })),
    concurrency,
  );
  const baseline = n / ((performance.now() - started) / 1000);

  started = performance.now();
  const refused = await deliver(stack.inboundSmtp.host, stack.inboundSmtp.port, messages, concurrency);
  const left = await waitAll("bounced", 60_000);
  const ours = (n - left) / ((performance.now() - started) / 1000);
  return {
    name: "inbound DSNs/s: SMTP → bridge → edge → applied (bounced)",
    unit: "msg/s",
    value: ours,
    baselines: [{ name: "the same DSNs, same client, into smtp-sink (loopback SMTP limit)", value: baseline }],
    settings: `${n} DSNs, ${concurrency} SMTP connections, one transaction each; ${refused} refused, ${left} not applied within 60 s`,
  };
}
