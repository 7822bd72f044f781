// SMPP figures: submit_sm per second through the bridge (signed batches to `POST /v1/smpp/send`,
// the stack's bridge, its "sandbox" route with window W and no TPS cap) beside a bare `smpp`
// client submitting the same parts with the same window to the same sandbox SMSC; and the
// accuracy of a route's TPS cap (an in-process bridge with capped routes, the rate measured at
// the SMSC from its own submit times).
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { startBridge, type Bridge } from "../bridge/src/app.ts";
import type { Config, SmppRouteConfig } from "../bridge/src/config.ts";
import { destinationAddress, sourceAddress } from "../bridge/src/smpp/pdu.ts";
import type { Sandbox } from "../sandbox/main.ts";
import { DEV_SMPP_BIND, type Stack } from "../sandbox/stack.ts";
import type { Received } from "../sandbox/store.ts";
import { BRIDGE_SMPP_PATH, type SmppBatch } from "../src/core/bridge.ts";
import { planSms, segmentSms } from "../src/core/sms/segment.ts";
import { doorSecret, signedHeaders } from "../src/core/standard-webhooks.ts";
import { postBridgeBatches, type BridgeLog } from "./apns.ts";
import type { Settings } from "./figures.ts";
import { sleep } from "./net.ts";
import type { Figure } from "./report.ts";
import type { Secrets } from "./secrets.ts";
import { sendWithSmppClient, type SmppClientPhase, type SmppClientResult, type SmppPart } from "./smpp-client-sender.ts";

/** The stack's SMPP route to the sandbox SMSC (sandbox/stack.ts). */
export const STACK_SMPP_ROUTE = "sandbox";
/** source_addr of every bench SMS: E.164, so TON 1 NPI 1 on both sides. */
export const SMS_FROM = "+14155550100";
const BODY_CHARS = 100;

export type SmsMessage = { to: string; body: string; reference: number };

/**
 * Message `i`: its own number (the last digit is always 5, so no number ends in the sandbox's
 * 0000/1111/2222 outcomes: every one is accepted and, with registered_delivery 0, gets no
 * receipt) and a GSM 03.38 text of exactly BODY_CHARS characters (one part, no UDH).
 */
export function smsMessage(i: number): SmsMessage {
  const head = `Lasthop bench ${String(i).padStart(7, "0")}: your parcel left the depot and arrives tomorrow between 9 and 12`;
  const body = head.length >= BODY_CHARS ? head.slice(0, BODY_CHARS) : head.padEnd(BODY_CHARS, ".");
  return { to: `+44770${String(i).padStart(7, "0")}5`, body, reference: i % 256 };
}

export const smsMessages = (from: number, count: number): SmsMessage[] => Array.from({ length: count }, (_, k) => smsMessage(from + k));

/** The submit_sm parts the bridge writes for these messages: src/core's segments, the bridge's address rules. */
export function smppParts(messages: SmsMessage[]): SmppPart[] {
  const source = sourceAddress(SMS_FROM);
  return messages.flatMap((m) => {
    const dest = destinationAddress(m.to);
    return segmentSms(m.body, m.reference).map((p) => ({
      source,
      dest,
      esmClass: p.esmClass,
      dataCoding: p.dataCoding,
      shortMessageHex: Buffer.from(p.shortMessage).toString("hex"),
    }));
  });
}

export type SmscStats = {
  submits: number;
  submitTimes: number[];
  tpsViolations: number;
  pendingDeliveries: number;
  partialMessages: number;
  binds: Array<{ systemId: string; mode: string }>;
};

export async function smscStats(sandbox: Sandbox): Promise<SmscStats> {
  return (await (await fetch(`${sandbox.httpUrl}/_sandbox/sms/smsc`)).json()) as SmscStats;
}

/** Forgets the SMS arrivals and zeroes the SMSC's counters and submit times (pending deliveries stay). */
export async function clearSms(sandbox: Sandbox): Promise<void> {
  const response = await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=sms`, { method: "DELETE" });
  if (!response.ok) throw new Error(`clearing the sandbox's SMS: ${response.status}`);
}

async function smscFaults(sandbox: Sandbox, faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${sandbox.httpUrl}/_sandbox/sms/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(faults),
  });
  if (!response.ok) throw new Error(`sandbox SMS faults: ${response.status} ${await response.text()}`);
}

async function smsArrivals(sandbox: Sandbox): Promise<Array<Received<"sms">>> {
  return (await (await fetch(`${sandbox.httpUrl}/_sandbox/received?channel=sms`)).json()) as Array<Received<"sms">>;
}

/**
 * Every message the SMSC recorded since the last clear against what was sent: each expected
 * number exactly once, with its exact text, data_coding 0, the expected registered_delivery,
 * from SMS_FROM; anything else is listed.
 */
async function checkArrivals(sandbox: Sandbox, expected: SmsMessage[], registeredDelivery: number): Promise<string[]> {
  const arrivals = await smsArrivals(sandbox);
  const want = new Map(expected.map((m) => [m.to, m.body]));
  const seen = new Map<string, number>();
  const problems: string[] = [];
  let wrong = 0;
  for (const a of arrivals) {
    seen.set(a.to, (seen.get(a.to) ?? 0) + 1);
    const p = (a.payload ?? {}) as Record<string, unknown>;
    const body = want.get(a.to);
    const bad =
      body === undefined
        ? "not sent"
        : p.text !== body
          ? "text differs"
          : p.dataCoding !== 0
            ? `data_coding ${String(p.dataCoding)}`
            : p.registeredDelivery !== registeredDelivery
              ? `registered_delivery ${String(p.registeredDelivery)}`
              : p.from !== SMS_FROM
                ? `from ${String(p.from)}`
                : p.segments !== 1
                  ? `${String(p.segments)} segments`
                  : null;
    if (bad !== null && wrong++ < 3) problems.push(`${a.to}: ${bad}`);
  }
  const missing = expected.filter((m) => !seen.has(m.to)).length;
  const repeated = [...seen.values()].filter((n) => n > 1).length;
  if (arrivals.length !== expected.length) problems.push(`${arrivals.length} messages recorded for ${expected.length} sent`);
  if (missing) problems.push(`${missing} never recorded`);
  if (repeated) problems.push(`${repeated} recorded more than once`);
  if (wrong) problems.push(`${wrong} recorded with other content`);
  return problems;
}

/** Messages through a bridge in signed batches of `batch` items, `inFlight` at a time; bodies and signatures made before the clock. */
export async function sendSmsThroughBridge(
  bridgeUrl: string,
  secret: string,
  route: string,
  messages: SmsMessage[],
  batch: number,
  inFlight: number,
): Promise<BridgeLog> {
  const items = new Map<string, string>();
  const requests: Array<{ body: string; headers: Record<string, string> }> = [];
  const key = await doorSecret(secret, BRIDGE_SMPP_PATH);
  for (let start = 0; start < messages.length; start += batch) {
    const batchItems: SmppBatch["items"] = messages.slice(start, start + batch).map((m) => {
      const id = randomUUID();
      items.set(id, m.to);
      return { id, route, from: SMS_FROM, to: m.to, body: m.body, reference: m.reference };
    });
    const body = JSON.stringify({ items: batchItems });
    requests.push({ body, headers: { "content-type": "application/json", ...(await signedHeaders(key, body)) } });
  }
  return postBridgeBatches(`${bridgeUrl}${BRIDGE_SMPP_PATH}`, requests, items, inFlight);
}

/** Submits per second as the SMSC saw them: (n − 1) / (last − first) over the last `n` submit times. */
function smscRate(times: number[], n: number): number {
  const last = times.slice(-n);
  if (last.length < 2) return NaN;
  return (last.length - 1) / ((last[last.length - 1]! - last[0]!) / 1000);
}

/** The most submits within any 1-second window, counted as the SMSC counts (times in (t − 1000, t]). */
export function maxInOneSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[lo]! <= sorted[hi]! - 1000) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return most;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const rates = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(", ");
const addUp = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
};

type Side = { name: string; rates: number[]; smscRates: number[]; problems: string[]; sent: number; accepted: number; counted: number };

/**
 * 8. submit_sm per second: the stack's bridge (route "sandbox", window W, no TPS cap,
 * registered_delivery 0) against a bare `smpp` client in a child process with the same window,
 * the same parts, the same SMSC. They take turns for `rounds` rounds (order swapped each round);
 * each figure is the median round. Every run is checked at the SMSC: its submit counter, and
 * every message it recorded.
 */
export async function smppSubmits(sys: { stack: Stack; secrets: Secrets }, s: Settings, notes: string[]): Promise<Figure> {
  const { messages: n, warmup: w, rounds, window, batch, inFlight } = s.smpp;
  const { stack } = sys;
  const { sandbox } = stack;
  const measured = smsMessages(0, n);
  const warmupMessages = smsMessages(5_000_000, w);
  const parts = smppParts(measured);
  const warmupParts = smppParts(warmupMessages);
  const bridge: Side & {
    statuses: Record<string, number>;
    kinds: Record<string, number>;
    failures: Record<string, string>;
    firstNotAccepted: unknown;
  } = {
    name: "bridge",
    rates: [],
    smscRates: [],
    problems: [],
    sent: 0,
    accepted: 0,
    counted: 0,
    statuses: {},
    kinds: {},
    failures: {},
    firstNotAccepted: null,
  };
  const client: Side & { statuses: Record<string, number>; maxOutstanding: number; deliverSm: number; errors: string[] } = {
    name: "smpp client",
    rates: [],
    smscRates: [],
    problems: [],
    sent: 0,
    accepted: 0,
    counted: 0,
    statuses: {},
    maxOutstanding: 0,
    deliverSm: 0,
    errors: [],
  };

  await smscFaults(sandbox, {});
  const bridgeRun = async (messages: SmsMessage[], timed: boolean) => {
    await clearSms(sandbox);
    const log = await sendSmsThroughBridge(stack.bridgeUrl, sys.secrets.webhookSecret, STACK_SMPP_ROUTE, messages, batch, inFlight);
    const stats = await smscStats(sandbox);
    const accepted = log.accepted.size;
    const label = timed ? `round ${bridge.rates.length + 1}` : "warm-up";
    const problems = await checkArrivals(sandbox, messages, 0);
    if (stats.submits !== messages.length) problems.push(`the SMSC counted ${stats.submits} submit_sm for ${messages.length} parts`);
    if (accepted !== messages.length) problems.push(`${accepted} of ${messages.length} answered accepted`);
    for (const p of problems) bridge.problems.push(`${label}: ${p}`);
    addUp(bridge.statuses, log.statuses);
    addUp(bridge.kinds, log.kinds);
    bridge.failures = { ...log.failures, ...bridge.failures };
    bridge.firstNotAccepted ??= log.firstNotAccepted;
    if (!timed) return;
    bridge.sent += messages.length;
    bridge.accepted += accepted;
    bridge.counted += stats.submits;
    bridge.rates.push(accepted / log.seconds);
    bridge.smscRates.push(smscRate(stats.submitTimes, stats.submits));
  };
  const clientRun = async () => {
    await clearSms(sandbox);
    const label = `round ${client.rates.length + 1}`;
    let result: SmppClientResult;
    try {
      result = await sendWithSmppClient(
        {
          host: sandbox.smsc.host,
          port: sandbox.smsc.port,
          systemId: DEV_SMPP_BIND.systemId,
          password: DEV_SMPP_BIND.password,
          window,
          registeredDelivery: 0,
          warmup: warmupParts,
          parts,
        },
        120_000,
      );
    } catch (error) {
      client.problems.push(`${label}: ${String(error)}`);
      client.rates.push(NaN);
      return;
    }
    const stats = await smscStats(sandbox);
    const { main, warmup } = result;
    const problems = await checkArrivals(sandbox, [...warmupMessages, ...measured], 0);
    const total = warmupParts.length + parts.length;
    if (stats.submits !== total) problems.push(`the SMSC counted ${stats.submits} submit_sm for ${total} parts (warm-up included)`);
    for (const [name, phase, size] of [
      ["warm-up", warmup, warmupParts.length],
      ["measured", main, parts.length],
    ] as Array<[string, SmppClientPhase, number]>) {
      if (phase.accepted !== size)
        problems.push(
          `${name}: ${phase.accepted} of ${size} answered ESME_ROK (${JSON.stringify(phase.statuses)}, first failure ${JSON.stringify(phase.firstFailure)})`,
        );
      if (phase.withMessageId !== phase.accepted)
        problems.push(`${name}: ${phase.accepted - phase.withMessageId} ESME_ROK without a message_id`);
      if (phase.unanswered) problems.push(`${name}: ${phase.unanswered} unanswered`);
    }
    for (const p of problems) client.problems.push(`${label}: ${p}`);
    addUp(client.statuses, main.statuses);
    client.maxOutstanding = Math.max(client.maxOutstanding, main.maxOutstanding, warmup.maxOutstanding);
    client.deliverSm += result.deliverSm;
    client.errors.push(...result.errors);
    client.sent += parts.length;
    client.accepted += main.accepted;
    client.counted += stats.submits - warmupParts.length;
    client.rates.push(main.accepted / main.seconds);
    client.smscRates.push(smscRate(stats.submitTimes, parts.length));
  };

  // The bridge is long-lived: one untimed warm-up (JIT, the bind already up); node-smpp warms up in each child.
  await bridgeRun(warmupMessages, false);
  for (let r = 0; r < rounds; r++) {
    const steps = [() => bridgeRun(measured, true), clientRun];
    for (const step of r % 2 === 0 ? steps : steps.reverse()) await step();
  }
  const after = await smscStats(sandbox);

  notes.push(
    `SMPP, bridge (route "${STACK_SMPP_ROUTE}", window ${window}, no TPS cap): ${w} warm-up + ${rounds} × ${n} measured messages of 1 part; accepted submit_sm/s per round ${rates(bridge.rates)} (median ${median(bridge.rates).toFixed(0)}), ` +
      `as the SMSC saw them (first to last submit) ${rates(bridge.smscRates)}; HTTP answers ${JSON.stringify(bridge.statuses)}${Object.keys(bridge.failures).length ? ` (first non-200 bodies: ${JSON.stringify(bridge.failures)})` : ""}; ` +
      `item results ${JSON.stringify(bridge.kinds)}${bridge.firstNotAccepted ? ` (first not accepted: ${JSON.stringify(bridge.firstNotAccepted).slice(0, 300)})` : ""}; ` +
      `the SMSC counted ${bridge.counted} submit_sm for ${bridge.accepted} accepted of ${bridge.sent} sent; ${bridge.problems.length ? `mismatches: ${bridge.problems.join("; ")}` : "every message recorded once by the SMSC with its text, data_coding 0, registered_delivery 0"}`,
  );
  notes.push(
    `SMPP, bare smpp client (child process, window ${window}): ${w} warm-up + ${n} measured parts per process, ${rounds} processes; submit_sm/s per round ${rates(client.rates)} (median ${median(client.rates).toFixed(0)}), ` +
      `as the SMSC saw them ${rates(client.smscRates)}; submit_sm_resp statuses ${JSON.stringify(client.statuses)}; most unanswered at once ${client.maxOutstanding}; deliver_sm received ${client.deliverSm}; ` +
      `the SMSC counted ${client.counted} submit_sm for ${client.accepted} accepted of ${client.sent} measured${client.errors.length ? `; session errors: ${client.errors.slice(0, 3).join("; ")}` : ""}; ` +
      `${client.problems.length ? `mismatches: ${client.problems.join("; ")}` : "every message recorded once by the SMSC with its text, data_coding 0, registered_delivery 0"}`,
  );
  notes.push(
    `SMPP, the SMSC afterwards: binds ${JSON.stringify(after.binds)}, pending deliveries ${after.pendingDeliveries}, partial messages ${after.partialMessages}, TPS violations ${after.tpsViolations}`,
  );

  const plan = planSms(measured[0]!.body);
  return {
    name: `SMPP submit_sm/s (bridge → sandbox SMSC, window ${window}, ${s.smpp.binds} bind${s.smpp.binds === 1 ? "" : "s"}, no TPS cap), median of ${rounds} rounds`,
    unit: "sub/s",
    value: median(bridge.rates),
    baselines: [{ name: `bare smpp 0.5 client in a child process, the same parts, ≤ ${window} unanswered`, value: median(client.rates) }],
    settings:
      `${rounds} × ${n} messages per sender, ${BODY_CHARS} chars ${plan.encoding} (${plan.segments} part, ${segmentSms(measured[0]!.body, 0)[0]!.shortMessage.length} B short_message), a distinct number each, registered_delivery 0; ` +
      `bridge: ${s.smpp.binds} bind_transceiver (each its own window of ${window}; BENCH_SMPP_BINDS), client: one; bridge: ${batch} items per signed request, ${inFlight} in flight, ${w}-message untimed warm-up; client: ${w}-part untimed warm-up per process`,
  };
}

/** A tiny stand-in edge for the in-process bridge's DLR/MO posts (there should be none): answers 204 and counts. */
async function startNullEdge(): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  const server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on("end", () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * 9. TPS cap accuracy: a bridge started in this process (bridge/src/app.ts startBridge) with one
 * route per cap, each bound to the sandbox SMSC, is offered `cap × seconds` messages at once
 * (every batch in flight from the start, so the offered rate is far above the cap for the whole
 * run); the SMSC, armed with the same cap (its tps fault), records when each submit_sm arrived.
 * Achieved = (n − 1) / (last − first) over those times; also the most in any 1-second window.
 */
export async function smppTpsAccuracy(sys: { stack: Stack; secrets: Secrets }, s: Settings, notes: string[]): Promise<Figure[]> {
  const { caps, seconds, window, batch } = s.smppTps;
  const { sandbox } = sys.stack;
  const edge = await startNullEdge();
  const route = (tps: number): SmppRouteConfig => ({
    name: `tps-${tps}`,
    binds: [
      {
        host: sandbox.smsc.host,
        port: sandbox.smsc.port,
        systemId: DEV_SMPP_BIND.systemId,
        password: DEV_SMPP_BIND.password,
        mode: "transceiver",
        tls: false,
      },
    ],
    window,
    tps,
    useMessagePayload: false,
    submitIdBase: 16,
    receiptIdBase: 10,
    registeredDelivery: false,
    enquireLinkMs: 30_000,
    responseTimeoutMs: 10_000,
    reconnectMinMs: 500,
    reconnectMaxMs: 30_000,
    bindWaitMs: 2_000,
  });
  const config: Config = {
    host: "127.0.0.1",
    port: 0,
    secret: sys.secrets.webhookSecret,
    apns: null,
    logLevel: "warn",
    shutdownTimeoutMs: 5_000,
    // The batch deadline well past the run, so every item waits for the rate rather than coming back batch_deadline.
    smpp: {
      routes: caps.map(route),
      edgeUrl: edge.url,
      edgeTimeoutMs: 5_000,
      batchTimeoutMs: seconds * 1000 + 30_000,
      moReassemblyMs: 60_000,
    },
  };
  let bridge: Bridge | null = null;
  const figures: Figure[] = [];
  try {
    bridge = await startBridge(config);
    const deadline = Date.now() + 10_000;
    while (Object.values(bridge.smpp!.health().routes).some((r) => r.up === 0)) {
      if (Date.now() > deadline) throw new Error(`TPS bridge: routes not bound after 10 s: ${JSON.stringify(bridge.smpp!.health())}`);
      await sleep(50);
    }
    let offset = 6_000_000;
    for (const tps of caps) {
      const n = Math.round(tps * seconds);
      const messages = smsMessages(offset, n);
      offset += n;
      await clearSms(sandbox);
      await smscFaults(sandbox, { tps });
      let log: BridgeLog;
      try {
        log = await sendSmsThroughBridge(bridge.url, sys.secrets.webhookSecret, `tps-${tps}`, messages, batch, Math.ceil(n / batch));
      } finally {
        await smscFaults(sandbox, {});
      }
      const stats = await smscStats(sandbox);
      const problems = await checkArrivals(sandbox, messages, 0);
      if (stats.submits !== n) problems.push(`the SMSC counted ${stats.submits} submit_sm for ${n} parts`);
      if (log.accepted.size !== n)
        problems.push(
          `${log.accepted.size} of ${n} answered accepted (${JSON.stringify(log.kinds)}; first not accepted ${JSON.stringify(log.firstNotAccepted).slice(0, 200)})`,
        );
      const times = stats.submitTimes;
      const achieved = smscRate(times, times.length);
      const most = maxInOneSecond(times);
      const span = times.length > 1 ? (times[times.length - 1]! - times[0]!) / 1000 : 0;
      const gaps = times
        .slice(1)
        .map((t, i) => t - times[i]!)
        .sort((a, b) => a - b);
      const gap = (q: number) => (gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]! : NaN);
      notes.push(
        `SMPP TPS ${tps}: ${n} messages offered at once (${Math.ceil(n / batch)} signed requests of ≤ ${batch}, all in flight), answered after ${log.seconds.toFixed(2)} s (HTTP ${JSON.stringify(log.statuses)}, items ${JSON.stringify(log.kinds)}); ` +
          `the SMSC saw ${times.length} submit_sm over ${span.toFixed(2)} s: ${achieved.toFixed(1)}/s, at most ${most} in any 1 s window, gaps between submits p50 ${gap(0.5)} ms / p90 ${gap(0.9)} ms (the cap's spacing is ${(1000 / tps).toFixed(1)} ms), its own tps=${tps} check counted ${stats.tpsViolations} violations; ` +
          `${problems.length ? `mismatches: ${problems.join("; ")}` : "every message accepted and recorded once"}`,
      );
      const settings = `route tps ${tps}, window ${window}, one bind; ${n} single-part messages offered at once (${seconds} s at the cap); in-process bridge, rate measured at the SMSC (Date.now() ms) as (n − 1) / (last − first)`;
      figures.push({
        name: `SMPP TPS cap ${tps}: achieved submit_sm/s at the SMSC (achieved / configured)`,
        unit: "sub/s",
        value: achieved,
        baselines: [{ name: `configured tps ${tps}`, value: tps }],
        settings,
      });
      figures.push({
        name: `SMPP TPS cap ${tps}: most submit_sm in any 1 s window (must be ≤ cap)`,
        unit: "sub",
        value: most,
        baselines: [{ name: `configured tps ${tps}`, value: tps }],
        settings: `the same run; the SMSC's own sliding-second check counted ${stats.tpsViolations} over the cap`,
      });
    }
    notes.push(`SMPP TPS bridge: its stand-in edge got ${edge.requests()} DLR/MO posts (expected 0: registered_delivery 0)`);
  } finally {
    await bridge?.close();
    await edge.close();
  }
  return figures;
}
