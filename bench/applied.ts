// Provider events applied per second by the events consumer, against a minimal consumer that
// writes one row per event into one Durable Object per message (baseline (a)'s /sendgrid-apply),
// at 1, 10 and 100 distinct messages: what a MessageDO does per event beyond storing it, and
// whether the rate grows with the messages the events are spread over.
import { randomUUID } from "node:crypto";
import { sendgridPool, type ProviderSecrets } from "./providers.ts";
import { sleep } from "./net.ts";
import type { Figure } from "./report.ts";

export type AppliedBench = {
  workerUrl: string;
  baselineUrl: string;
  apiKey: string;
  account: string;
  secrets: ProviderSecrets;
  /** Messages lasthop sent (at least the largest spread): the events name them by our id. */
  messageIds: readonly string[];
};

/** Events per figure, in SendGrid batches of BATCH posted at once. */
export const APPLIED_EVENTS = 4_000;
const BATCH = 1_000;
/** How long one figure may take before it is reported as far as it got. */
const BOUND_MS = 300_000;

/** SendGrid batches of `open` events (each its own sg_event_id) naming `ids` in turn, signed (bench/providers.ts). */
const batches = (secrets: ProviderSecrets, ids: readonly string[], run: string) =>
  sendgridPool(secrets, APPLIED_EVENTS / BATCH, BATCH, run, ids);

/** Events on lasthop's timelines of `ids` (GET /v1/messages/:id). */
async function lasthopCount(b: AppliedBench, ids: readonly string[]): Promise<number> {
  let n = 0;
  for (const id of ids) {
    const response = await fetch(`${b.workerUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${b.apiKey}` } });
    if (response.ok) n += ((await response.json()) as { events: unknown[] }).events.length;
  }
  return n;
}

/** Rows in the baseline's per-message objects of `ids`; null when the answer was an error (asked again next round). */
async function baselineCount(b: AppliedBench, ids: readonly string[]): Promise<number | null> {
  const response = await fetch(`${b.baselineUrl}/applied`, { method: "POST", body: JSON.stringify(ids) });
  if (!response.ok) return null;
  return ((await response.json()) as { rows: number }).rows;
}

/** Posts the batches at once and times until `count` has grown by every event (or the bound ran out). */
async function timed(url: string, posts: ReturnType<typeof batches>, read: () => Promise<number | null>) {
  // A read that failed (the local runtime answered an error under load) keeps the last count.
  let first = await read();
  while (first === null) first = await sleep(250).then(read);
  const before: number = first;
  let last = before;
  const count = async () => (last = (await read()) ?? last);
  const started = Date.now();
  const answers = await Promise.all(posts.map((p) => fetch(url, { method: "POST", ...p }).then((r) => r.status)));
  let now = before;
  while (now - before < APPLIED_EVENTS && Date.now() - started < BOUND_MS) {
    await sleep(250);
    now = await count();
  }
  const seconds = (Date.now() - started) / 1000;
  return { applied: now - before, seconds, rate: (now - before) / seconds, answers };
}

export async function appliedScaling(b: AppliedBench, notes: string[]): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const spread of [1, 10, 100]) {
    const ids = b.messageIds.slice(0, spread);
    if (ids.length < spread) throw new Error(`applied figures: ${spread} messages wanted, ${ids.length} sent`);
    const tag = `ap${spread}-${randomUUID().slice(0, 8)}`;
    // Baseline first, then lasthop; the same events (ids differ per side, so neither sees replays).
    const baseline = await timed(`${b.baselineUrl}/sendgrid-apply`, batches(b.secrets, ids, `${tag}b`), () => baselineCount(b, ids));
    const lasthop = await timed(`${b.workerUrl}/v1/webhooks/sendgrid/${b.account}`, batches(b.secrets, ids, `${tag}l`), () =>
      lasthopCount(b, ids),
    );
    notes.push(
      `provider events applied onto ${spread} message(s): lasthop ${lasthop.applied}/${APPLIED_EVENTS} in ${lasthop.seconds.toFixed(1)} s (answers ${lasthop.answers.join(",")}); baseline ${baseline.applied}/${APPLIED_EVENTS} in ${baseline.seconds.toFixed(1)} s (answers ${baseline.answers.join(",")})`,
    );
    figures.push({
      name: `provider events applied/s onto ${spread} distinct message${spread === 1 ? "" : "s"}`,
      unit: "events/s",
      value: lasthop.rate,
      baselines: [{ name: "(a) minimal consumer: same verify, one DO per message, one row per event", value: baseline.rate }],
      settings: `${APPLIED_EVENTS} open events in SendGrid batches of ${BATCH} posted at once, timed until applied (bound ${BOUND_MS / 1000} s)`,
    });
  }
  return figures;
}
