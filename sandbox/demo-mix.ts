// What `npm run demo` sends: one plan per message, each naming the row it counts in (channel ×
// case), the outcome it must reach and the recipient the simulators will see. Recipients carry
// the sandbox's outcome words (read from each simulator's header comment) and the run's number,
// so every run's recipients are new: nothing a previous run suppressed or throttled leaks in.

/** The outcome of one message as a view sees it; `pending` until it is one of the others. */
export const OUTCOMES = ["accepted", "delivered", "bounced", "complained", "suppressed", "failed", "expired", "pending"] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type DemoChannel = "email" | "webpush" | "fcm" | "apns" | "sms";

export type Plan = {
  /** The send's Idempotency-Key: the run and the plan's index, so a retried POST never doubles. */
  key: string;
  /** The table row's channel: the channel, with the route for email ("email relay", "email sendgrid"). */
  channel: string;
  case: string;
  /** What it must end as: `accepted` where the last hop sends no receipt (push, relayed mail). */
  expected: Outcome;
  /** The recipient as the simulator records it (`to`: address, endpoint, token, number). */
  recipient: string;
  /** SMS: text in the body that names this message (the STOP confirmation goes to the same handset). */
  marker?: string;
  /** The ESP that takes it, for its webhooks. */
  provider?: string;
  body: Record<string, unknown>;
};

/** The sandbox's mint of recipients: a web push subscription and an APNs device token, by name. */
export type Mint = {
  subscription(name: string): Promise<{ endpoint: string; keys: Record<string, string> }>;
  apnsToken(name: string): Promise<string>;
};

export type MixOptions = {
  runId: string;
  /** The account's SMS sender that MO replies and opt-outs are scoped to. */
  smsSender: string;
  /** A From address on the account's sending domain. */
  emailFrom: string;
  /** Hosted email routes to pin sends to (the account's route names; each must have its webhook). */
  espRoutes: readonly string[];
};

type Case = { case: string; expected: Outcome; count: number; word: string };

/** Relayed mail: the sandbox MTA answers at RCPT time (smtp.ts); 250 is custody, never delivery. */
const RELAY: Case[] = [
  { case: "delivered", expected: "accepted", count: 10, word: "reader" },
  { case: "hard bounce", expected: "bounced", count: 3, word: "bounce" },
  { case: "soft bounce, then accepted", expected: "accepted", count: 3, word: "soft" },
];

/** A hosted provider: the send API answers, then its signed webhook reports (esp.ts). */
const ESP: Case[] = [
  { case: "delivered", expected: "delivered", count: 6, word: "reader" },
  { case: "hard bounce", expected: "bounced", count: 2, word: "bounce" },
  { case: "complaint", expected: "complained", count: 2, word: "complain" },
  { case: "throttled, then delivered", expected: "delivered", count: 2, word: "throttle" },
];

/** Web push, FCM and APNs share the words: bounce is a dead token, slow one 429 with Retry-After. */
const PUSH: Case[] = [
  { case: "delivered", expected: "accepted", count: 10, word: "device" },
  { case: "dead token", expected: "bounced", count: 2, word: "bounce" },
  { case: "throttled, then accepted", expected: "accepted", count: 2, word: "slow" },
];

/** SMS: the number's last four digits steer the SMSC (smsc.ts); "stop" sends an MO STOP first. */
const SMS: Case[] = [
  { case: "delivered", expected: "delivered", count: 12, word: "4321" },
  { case: "hard bounce", expected: "bounced", count: 2, word: "0000" },
  { case: "late receipt, then delivered", expected: "delivered", count: 2, word: "1111" },
  { case: "throttled, then delivered", expected: "delivered", count: 2, word: "2222" },
  { case: "STOP reply, then suppressed", expected: "suppressed", count: 2, word: "stop" },
];

/** The SMS case whose handsets opt out (an MO STOP) before the send. */
export const STOP_CASE = "STOP reply, then suppressed";

export type Row = { channel: string; case: string; expected: Outcome };

/** Every message of the run, in the order they are sent (channels interleaved, as real traffic is), and the table's rows. */
export async function planMix(mint: Mint, opts: MixOptions): Promise<{ plans: Plan[]; rows: Row[] }> {
  const { runId } = opts;
  let n = 0;
  const next = () => n++;
  const byChannel: Plan[][] = [];

  const mail = (route: string, cases: Case[], provider?: string) =>
    cases.flatMap((c) =>
      times(c.count, () => {
        const i = next();
        const to = `${c.word}-${runId}-${i}@example.com`;
        return plan(
          runId,
          i,
          `email ${route}`,
          c,
          to,
          {
            channel: "email",
            from: opts.emailFrom,
            fromName: "lasthop demo",
            to,
            subject: `Your receipt ${runId}-${i}`,
            text: "Thanks for your order. This is the lasthop demo.",
            html: "<p>Thanks for your order. This is the lasthop demo.</p>",
            tags: ["demo", `demo-${runId}`],
            route,
          },
          provider,
        );
      }),
    );
  byChannel.push(mail("relay", RELAY));
  for (const route of opts.espRoutes) byChannel.push(mail(route, ESP, route));

  const push: Plan[] = [];
  for (const c of PUSH) {
    for (let k = 0; k < c.count; k++) {
      const i = next();
      const sub = await mint.subscription(`demo-${runId}-${i}-${c.word}`);
      push.push(
        plan(runId, i, "webpush", c, sub.endpoint, {
          channel: "webpush",
          to: sub,
          payload: { title: "Order shipped", body: `#${runId}-${i}` },
          urgency: "normal",
        }),
      );
    }
  }
  byChannel.push(push);
  byChannel.push(
    PUSH.flatMap((c) =>
      times(c.count, () => {
        const i = next();
        const token = `demo-${runId}-${i}-${c.word}`;
        return plan(runId, i, "fcm", c, token, {
          channel: "fcm",
          to: token,
          message: { notification: { title: "Order shipped", body: `#${runId}-${i}` }, data: { order: `${runId}-${i}` } },
        });
      }),
    ),
  );
  const apns: Plan[] = [];
  for (const c of PUSH) {
    for (let k = 0; k < c.count; k++) {
      const i = next();
      const token = await mint.apnsToken(`demo-${runId}-${i}-${c.word}`);
      apns.push(
        plan(runId, i, "apns", c, token.toLowerCase(), {
          channel: "apns",
          to: token,
          topic: "com.example.app",
          pushType: "alert",
          payload: { aps: { alert: { title: "Order shipped", body: `#${runId}-${i}` } } },
        }),
      );
    }
  }
  byChannel.push(apns);
  byChannel.push(
    SMS.flatMap((c) =>
      times(c.count, () => {
        const i = next();
        const to = `+1${runId}${String(i).padStart(3, "0")}${c.word === "stop" ? "4321" : c.word}`;
        const marker = `(ref ${runId}-${i})`;
        return {
          ...plan(runId, i, "sms", c, to, { channel: "sms", to, from: opts.smsSender, body: `Your order has shipped ${marker}` }),
          marker,
        };
      }),
    ),
  );
  return { plans: interleave(byChannel), rows: rowsOf(byChannel.flat()) };
}

/** The rows in the mix's order: channel, then case. */
function rowsOf(plans: readonly Plan[]): Row[] {
  const seen = new Map<string, Row>();
  for (const p of plans) seen.set(`${p.channel}\u0000${p.case}`, { channel: p.channel, case: p.case, expected: p.expected });
  return [...seen.values()];
}

function plan(
  runId: string,
  i: number,
  channel: string,
  c: Case,
  recipient: string,
  body: Record<string, unknown>,
  provider?: string,
): Plan {
  return {
    key: `demo-${runId}-${i}`,
    channel,
    case: c.case,
    expected: c.expected,
    recipient,
    ...(provider ? { provider } : {}),
    body: { ...body, metadata: { demo: runId, case: c.case } },
  };
}

function times<T>(count: number, make: () => T): T[] {
  return Array.from({ length: count }, make);
}

/** Round robin over the channels' lists, so the sends arrive mixed. */
function interleave<T>(lists: T[][]): T[] {
  const out: T[] = [];
  for (let i = 0; lists.some((list) => i < list.length); i++) for (const list of lists) if (i < list.length) out.push(list[i]!);
  return out;
}
