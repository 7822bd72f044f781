// The webhook storm (issue 17): STORM_EVENTS SendGrid events about our own messages, each
// delivered 1–10 times, shuffled, posted signed to the provider's door in batches as SendGrid
// does; the events of a few messages (about 5 % of them) arrive while the send itself is still
// waiting for SendGrid's answer. Whatever the order and the replays, the final states, the
// timelines, the suppressions and the counters (/v1/stats) equal the ones the pure core
// computes from the unique events.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { feedbackOutcome, nextState } from "../../../src/core/state.ts";
import type { DeliveryState } from "../../../src/core/model.ts";
import type { ProviderEvent } from "../../../src/core/provider-event.ts";
import { recipientEffect, unclassified } from "../../../src/core/suppression.ts";
import { messageStub } from "../../../src/state/stubs.ts";
import type { MessageView } from "../../../src/state/types.ts";
import { normalize } from "../../../src/webhooks/sendgrid.ts";
import { LONG_RUN_MS, waitFor, waitForProgress } from "../../wait.ts";
import { installBridge } from "../bridge-fake.ts";
import { espFake, FAKE_SENDGRID } from "../esp-fake.ts";
import { adminAccount, api, BASE, effectsDone, json, send, unique, waitForStatus, type AdminAccount } from "../helpers.ts";
import { sendgridSigner } from "../provider-signers.ts";
import { SELF } from "cloudflare:test";

/** Unique provider events in the storm (STORM_EVENTS in the run's environment: 1,000 by default in vitest.config.ts). */
const STORM_EVENTS = Number((env as unknown as { STORM_EVENTS?: string }).STORM_EVENTS ?? 1_000);
/** Our messages they are about (about ten events each: a send, its delivery or bounce, opens and clicks). */
const STORM_MESSAGES = Math.ceil(STORM_EVENTS / 10);
/** Share of the unique events whose message's send result comes after them. */
const EARLY_SHARE = 0.05;
/** Events per signed POST (SendGrid batches its webhook; a POST stays well under the 1 MiB door). */
const POST_EVENTS = 500;
/** POSTs in flight at once. */
const POSTS_IN_FLIGHT = 4;

/** A failed storm's seed, to replay it (the seed is printed at the start of each run). */
const REPLAY_SEED: number | undefined = undefined;

/** A seeded PRNG (mulberry32): the same seed, the same storm. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

type Kind = "delivered" | "hard_bounce" | "soft_bounce" | "complaint";
/** One event of a message before the message has an id: SendGrid's event name, its sequence number, its own fields. */
type Spec = { event: string; n: number; extra?: Record<string, unknown> };
type Planned = { to: string; kind: Kind; early: boolean; specs: Spec[]; id: string; events: Array<Record<string, unknown>> };

const sgId = (messageId: string) => `sg${messageId.replace(/[^a-zA-Z0-9]/g, "")}`;
/** Event times: a day ago, a second apart per sequence number (SendGrid's timestamps are seconds). */
const EPOCH = Math.floor(Date.now() / 1000) - 86_400;

/** One SendGrid event about message `m`, as SendGrid posts it (our id echoed from custom_args). */
function sendgridEvent(m: { id: string; to: string }, { event, n, extra }: Spec) {
  return {
    email: m.to,
    event,
    timestamp: EPOCH + n,
    sg_event_id: `${m.id}-${event}-${n}`,
    sg_message_id: `${sgId(m.id)}.filter0001.16648.5515E0B88.${n}`,
    "smtp-id": `<${sgId(m.id)}@ismtpd.example>`,
    lasthop_id: m.id,
    ...extra,
  };
}

const OK = { response: "250 2.0.0 OK" };
/** The events of one message by its kind, before engagement: SendGrid's `processed`, a few `deferred`, then the outcome. */
function baseSpecs(kind: Kind, random: () => number): Spec[] {
  const start: Spec[] = [
    { event: "processed", n: 0 },
    ...Array.from({ length: Math.floor(random() * 3) }, (_, i) => ({ event: "deferred", n: 1 + i })),
  ];
  switch (kind) {
    case "delivered":
      return [
        ...start,
        { event: "delivered", n: 10, extra: OK },
        { event: "open", n: 20, extra: { useragent: "Mozilla/5.0", ip: "192.0.2.1" } },
      ];
    case "complaint":
      return [...start, { event: "delivered", n: 10, extra: OK }, { event: "spamreport", n: 30 }];
    case "hard_bounce":
      return [
        ...start,
        {
          event: "bounce",
          n: 10,
          extra: { type: "bounce", status: "5.1.1", reason: "550 5.1.1 The email account that you tried to reach does not exist" },
        },
      ];
    case "soft_bounce":
      return [...start, { event: "bounce", n: 10, extra: { type: "blocked", status: "4.2.2", reason: "452 4.2.2 Mailbox full" } }];
  }
}

/**
 * Messages and their unique events: kinds mixed as a list's feedback is, opens and clicks to make
 * up STORM_EVENTS. Early messages (their events before their send result), picked at random until
 * their events make EARLY_SHARE, get no `processed` or `deferred`: those would move them out of
 * `sending` only in some orders, and their counters would depend on the order (a message that
 * reaches `delivered` first never counts `accepted`): the storm proves what is order-free.
 */
function plan(recipients: string[], random: () => number): Planned[] {
  const kinds: Kind[] = [
    "delivered",
    "delivered",
    "delivered",
    "delivered",
    "delivered",
    "delivered",
    "hard_bounce",
    "soft_bounce",
    "complaint",
  ];
  const planned: Planned[] = recipients.map((to) => {
    const kind = kinds[Math.floor(random() * kinds.length)]!;
    return { to, kind, early: false, specs: baseSpecs(kind, random), id: "", events: [] };
  });
  let total = planned.reduce((n, p) => n + p.specs.length, 0);
  const engaged = planned.filter((p) => p.kind === "delivered" || p.kind === "complaint");
  let n = 100;
  while (total < STORM_EVENTS) {
    const p = engaged[Math.floor(random() * engaged.length)]!;
    const click = random() < 0.3;
    p.specs.push({
      event: click ? "click" : "open",
      n: n++,
      extra: click ? { url: "https://example.com/a", useragent: "Mozilla/5.0" } : { ip: "192.0.2.7" },
    });
    total++;
  }
  let early = 0;
  for (const p of shuffle([...planned], random)) {
    if (early >= STORM_EVENTS * EARLY_SHARE) break;
    p.early = true;
    p.specs = p.specs.filter((e) => e.event !== "processed" && e.event !== "deferred");
    early += p.specs.length;
  }
  // What the early ones lost is made up on the others, so the storm holds STORM_EVENTS events.
  const late = engaged.filter((p) => !p.early);
  while (planned.reduce((n, p) => n + p.specs.length, 0) < STORM_EVENTS)
    late[Math.floor(random() * late.length)]!.specs.push({ event: "open", n: n++, extra: { ip: "192.0.2.8" } });
  return planned;
}

type Expected = { status: DeliveryState; timeline: string[] };

/**
 * What the pure core makes of one message: our own `queued`, `sending` and (after its events when
 * it is early) `accepted`, and its unique provider events, through the state machine and the
 * counters' rules; and what each event does to the recipient.
 */
function expectedOf(
  p: Planned,
  events: ProviderEvent[],
  counts: Record<string, number>,
): Expected & { suppression: { reason: string; sourceEventId: string } | null } {
  const add = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  let state: DeliveryState = "queued";
  add("queued");
  const move = (type: DeliveryState | ProviderEvent["type"]) => {
    const next = nextState(state, type);
    if (next !== state) add(next);
    state = next;
  };
  move("sending");
  const own = { type: "accepted" as const };
  const sequence = p.early ? [...events, own] : [own, ...events];
  let suppression: { reason: string; sourceEventId: string } | null = null;
  for (const event of sequence) {
    move(event.type);
    if (!("id" in event)) continue;
    const feedback = feedbackOutcome(event.type, event.detail);
    if (feedback) add(feedback);
    if (event.type === "bounced" && unclassified(event.detail)) add("bounce_unclassified");
    const effect = recipientEffect("email", event);
    if (effect?.kind === "suppress" && !suppression) suppression = { reason: effect.reason, sourceEventId: event.id };
  }
  const timeline = [`${p.id}:queued`, `${p.id}:attempt:1`, `${p.id}:accepted`, ...events.map((e) => e.id)].sort();
  return { status: state, timeline, suppression };
}

async function configure(account: AdminAccount, publicKey: string) {
  for (const [path, body] of [
    ["/v1/providers/sendgrid", { apiKey: FAKE_SENDGRID.apiKey, webhookPublicKey: publicKey }],
    [
      "/v1/email/settings",
      {
        bounceDomain: `bounces.${unique()}.example`,
        sendingDomains: ["storm.example"],
        relay: { mode: "direct" },
        routes: [{ name: "sg", type: "sendgrid", baseUrl: `https://${FAKE_SENDGRID.host}` }],
      },
    ],
  ] as const) {
    const res = await json(await api(path, { method: "PUT", json: body, key: account.key }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }
}

/** Runs `work` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

/** Provider events applied so far: timeline entries beyond our own, over every message. */
async function appliedEvents(account: string, ids: string[]): Promise<number> {
  let n = 0;
  await pool(ids, 16, async (id) => {
    const view = (await messageStub(env, account, id).get()) as MessageView | null;
    n += view ? view.events.filter((e) => e.id.startsWith("sendgrid:")).length : 0;
  });
  return n;
}

describe("the webhook storm", () => {
  it(`${STORM_EVENTS.toLocaleString("en")} SendGrid events, each 1–10 times, shuffled, 5 % before their send result, end as the unique events make them`, {
    timeout: LONG_RUN_MS,
  }, async () => {
    const seed = REPLAY_SEED ?? Math.floor(Math.random() * 2 ** 31);
    console.log(`storm seed ${seed} (set REPLAY_SEED to it to replay this storm)`);
    const random = prng(seed);
    const started = Date.now();

    const account = await adminAccount("Storm Co");
    const signer = await sendgridSigner();
    await configure(account, signer.publicKey);
    // SendGrid answers for an early message only once its events are in: its send result comes after them.
    // A set polled by the fake rather than a promise resolved here: workerd runs a continuation in the
    // resolver's context, and the send consumer's answer would then be made in the test's.
    let holding = false;
    const released = new Set<string>();
    const esp = espFake({
      sendgridId: sgId,
      hold: async (id) => {
        if (holding) await waitFor(() => !holding || released.has(id), `the test to release ${id}'s send`, LONG_RUN_MS);
      },
    });
    const bridge = installBridge({ other: esp.handle });
    try {
      // Our messages, through the API; the early ones last, once the rest are accepted, and SendGrid holds their answers.
      const planned = plan(
        Array.from({ length: STORM_MESSAGES }, (_, i) => `storm-${i}-${unique()}@example.net`),
        random,
      );
      const mail = (to: string) => ({ channel: "email", from: "news@storm.example", to, subject: "Storm", text: "Hello", tags: ["storm"] });
      const sendAll = (list: Planned[]) =>
        pool(list, 8, async (p) => {
          const res = await send(mail(p.to), { key: account.key });
          expect(res.status, JSON.stringify(res.body)).toBe(202);
          p.id = res.body.id as string;
          p.events = p.specs.map((spec) => sendgridEvent(p, spec));
        });
      const rest = planned.filter((p) => !p.early);
      const early = planned.filter((p) => p.early);
      await sendAll(rest);
      await pool(rest, 8, async (p) => void (await waitForStatus(p.id, "accepted", account.key)));
      holding = true;
      await sendAll(early);
      console.log(`storm: ${STORM_MESSAGES} messages sent in ${((Date.now() - started) / 1000).toFixed(1)} s`);

      // The unique events, normalized as the door will; what the core expects of them.
      const normalized = await normalize(
        planned.flatMap((p) => p.events),
        { account: account.id, receivedAt: new Date().toISOString() },
      );
      if (!normalized.ok) throw new Error(JSON.stringify(normalized.issues));
      expect(normalized.events).toHaveLength(STORM_EVENTS);
      const byMessage = new Map<string, ProviderEvent[]>();
      for (const e of normalized.events) byMessage.set(e.messageId!, [...(byMessage.get(e.messageId!) ?? []), e]);
      const counts: Record<string, number> = {};
      const expected = new Map(planned.map((p) => [p.id, expectedOf(p, byMessage.get(p.id) ?? [], counts)]));
      const earlyCount = planned.filter((p) => p.early).reduce((n, p) => n + p.events.length, 0);

      // Each event 1–10 times, shuffled; the early messages' deliveries come first, before their send results.
      const deliveries = planned.map((p) => p.events.flatMap((e) => Array.from({ length: 1 + Math.floor(random() * 10) }, () => e)));
      const restStream = shuffle(
        planned.flatMap((p, i) => (p.early ? [] : deliveries[i]!)),
        random,
      );
      const posts = (stream: Array<Record<string, unknown>>) =>
        Array.from({ length: Math.ceil(stream.length / POST_EVENTS) }, (_, i) => stream.slice(i * POST_EVENTS, (i + 1) * POST_EVENTS));
      const post = async (events: Array<Record<string, unknown>>) => {
        const body = JSON.stringify(events);
        const res = await SELF.fetch(`${BASE}/v1/webhooks/sendgrid/${account.id}`, {
          method: "POST",
          body,
          headers: await signer.headers(body),
        });
        expect(res.status, await res.clone().text()).toBe(200);
      };
      const ids = planned.map((p) => p.id);
      // An early message's send waits on SendGrid (a send batch holds it, and the batches after it
      // wait): once it is `sending`, its deliveries come, shuffled, and are applied; then SendGrid answers.
      let earlyDeliveries = 0;
      await pool(
        planned.flatMap((p, i) => (p.early ? [{ p, stream: shuffle(deliveries[i]!, random) }] : [])),
        4,
        async ({ p, stream }) => {
          await waitForStatus(p.id, "sending", account.key);
          await pool(posts(stream), 1, post);
          earlyDeliveries += stream.length;
          await waitForProgress(() => appliedEvents(account.id, [p.id]), p.events.length, {
            stallMs: 60_000,
            what: `early events of ${p.id}`,
          });
          const view = ((await messageStub(env, account.id, p.id).get()) as MessageView | null)!;
          expect(view.events.map((e) => e.id)).not.toContain(`${p.id}:accepted`);
          released.add(p.id);
        },
      );
      await pool(posts(restStream), POSTS_IN_FLIGHT, post);
      const posted = Date.now();
      console.log(
        `storm: ${earlyDeliveries + restStream.length} deliveries of ${STORM_EVENTS} events (${earlyCount} early) posted in ${((posted - started) / 1000).toFixed(1)} s`,
      );
      try {
        await waitForProgress(() => appliedEvents(account.id, ids), STORM_EVENTS, {
          stallMs: 60_000,
          what: "storm events applied",
          everyMs: 2_000,
        });
      } catch (err) {
        // Which events never arrived, to tell a lost event from a slow machine.
        const have = new Set<string>();
        await pool(ids, 16, async (id) => {
          for (const e of ((await messageStub(env, account.id, id).get()) as MessageView | null)!.events) have.add(e.id);
        });
        console.log(`storm: missing ${JSON.stringify(normalized.events.filter((e) => !have.has(e.id)).slice(0, 20))}`);
        throw err;
      }
      await pool(ids, 16, (id) => effectsDone(id, account.id));
      console.log(
        `storm: applied ${((Date.now() - posted) / 1000).toFixed(1)} s after the last post; ${((Date.now() - started) / 1000).toFixed(1)} s in all`,
      );

      // States and timelines.
      const seen = new Map<string, Expected>();
      await pool(ids, 16, async (id) => {
        const view = ((await messageStub(env, account.id, id).get()) as MessageView | null)!;
        seen.set(id, { status: view.status, timeline: view.events.map((e) => e.id).sort() });
      });
      for (const id of ids) {
        const { status, timeline } = expected.get(id)!;
        expect(seen.get(id), id).toEqual({ status, timeline });
      }
      // Suppressions: the account's list, every page.
      const suppressions = new Map<string, { reason: string; sourceEventId: string }>();
      for (let cursor: string | null = ""; cursor !== null; ) {
        const page = await json(
          await api(`/v1/suppressions?channel=email&limit=1000${cursor ? `&cursor=${cursor}` : ""}`, { key: account.key }),
        );
        expect(page.status).toBe(200);
        for (const entry of page.body.data) suppressions.set(entry.messageId, { reason: entry.reason, sourceEventId: entry.sourceEventId });
        cursor = page.body.nextCursor;
      }
      const wanted = new Map(ids.flatMap((id) => (expected.get(id)!.suppression ? [[id, expected.get(id)!.suppression!]] : [])));
      expect(Object.fromEntries(suppressions)).toEqual(Object.fromEntries(wanted));
      // Counters, through /v1/stats.
      const stats = await json(await api("/v1/stats?channel=email", { key: account.key }));
      expect(stats.status).toBe(200);
      const total: Record<string, number> = {};
      for (const bucket of stats.body.buckets)
        for (const [k, n] of Object.entries(bucket.counts as Record<string, number>)) total[k] = (total[k] ?? 0) + n;
      expect(total).toEqual(counts);
      const kinds: Record<string, number> = {};
      for (const p of planned) kinds[`${p.kind}${p.early ? " (early)" : ""}`] = (kinds[`${p.kind}${p.early ? " (early)" : ""}`] ?? 0) + 1;
      console.log(`storm: messages ${JSON.stringify(kinds)}; counters ${JSON.stringify(counts)}`);
    } finally {
      holding = false;
      bridge.restore();
    }
  });
});
