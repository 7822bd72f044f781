// Baseline (a) Worker. Each route does the least its lasthop counterpart must do, with the
// same zod schema and the same verify, so the ratio is the cost of everything else we do.
import { DurableObject } from "cloudflare:workers";
import { sendRequest } from "../../src/core/schema.ts";
import { EDGE_EVENTS_PATH } from "../../src/core/bridge.ts";
import { doorSecret, verify, webhookHeaders } from "../../src/core/standard-webhooks.ts";
import { verify as verifySendgrid } from "../../src/webhooks/sendgrid.ts";
import { sendWebPush } from "../../src/channels/webpush.ts";
import type { WebPushSend } from "../../src/core/schema.ts";

/** A pack of provider events on the baseline's own consumer: event id and the message it names. */
type Pack = Array<{ id: string; message: string }>;

type BaselineEnv = {
  STORE: DurableObjectNamespace<BaselineStore>;
  LOG: DurableObjectNamespace<BaselineEventLog>;
  EVENTS: Queue<string>;
  PACKS: Queue<Pack>;
  WEBHOOK_SECRET: string;
  SENDGRID_PUBLIC_KEY: string;
  STANDARD_SECRET: string;
  /** The web push hop (the end-to-end figure's bound): its own queue, and lasthop's VAPID keys. */
  PUSHES: Queue<WebPushSend>;
  VAPID_PUBLIC_KEY: string;
  VAPID_PRIVATE_KEY: string;
  VAPID_SUBJECT: string;
};

/** A body as queue messages of at most 64 KB each (one Queues op each), in sendBatch calls of at most 256 KB. */
async function enqueueRaw(queue: Queue<string>, raw: string): Promise<void> {
  const chunks: string[] = [];
  for (let i = 0; i < raw.length; i += 60_000) chunks.push(raw.slice(i, i + 60_000));
  for (let i = 0; i < chunks.length; i += 4) await queue.sendBatch(chunks.slice(i, i + 4).map((body) => ({ body })));
}

/** One SQLite row per message, in a DO of its own (as lasthop keeps one MessageDO per message). */
export class BaselineStore extends DurableObject<BaselineEnv> {
  insert(id: string, request: string): void {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS message (id TEXT PRIMARY KEY, request TEXT NOT NULL)`);
    sql.exec(`INSERT INTO message (id, request) VALUES (?, ?)`, id, request);
  }
}

/** One message's events: one row per event, a replay ignored (the least an event consumer must keep). */
export class BaselineEventLog extends DurableObject<BaselineEnv> {
  add(id: string): void {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS event (id TEXT PRIMARY KEY)`);
    sql.exec(`INSERT OR IGNORE INTO event (id) VALUES (?)`, id);
  }
  rows(): number {
    const sql = this.ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS event (id TEXT PRIMARY KEY)`);
    return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM event`).one().n;
  }
}

/** Provider events in flight at once in the baseline's consumer: lasthop's EVENTS_IN_FLIGHT. */
const IN_FLIGHT = 128;

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "POST" && pathname === "/v1/messages") {
      // zod validation of the same body + one DO call.
      const parsed = sendRequest.safeParse(await request.json().catch(() => undefined));
      if (!parsed.success) return Response.json({ error: "validation_failed" }, { status: 400 });
      const id = crypto.randomUUID();
      await env.STORE.get(env.STORE.idFromName(id)).insert(id, JSON.stringify(parsed.data));
      return Response.json({ id, status: "queued" }, { status: 202 });
    }
    if (request.method === "POST" && pathname === "/webpush") {
      // The end-to-end web push figure's bound: the same body validated, one Queue send, 202;
      // the consumer below makes the same push with lasthop's own sender. No state, no checks.
      const parsed = sendRequest.safeParse(await request.json().catch(() => undefined));
      if (!parsed.success || parsed.data.channel !== "webpush") return Response.json({ error: "validation_failed" }, { status: 400 });
      await env.PUSHES.send(parsed.data);
      return Response.json({ id: crypto.randomUUID(), status: "queued" }, { status: 202 });
    }
    if (request.method === "POST" && pathname === EDGE_EVENTS_PATH) {
      // Verify the HMAC with the door's key (derived per request, as lasthop does) and enqueue: nothing else.
      const raw = await request.text();
      const verdict = await verify(await doorSecret(env.WEBHOOK_SECRET, EDGE_EVENTS_PATH), webhookHeaders(request.headers), raw);
      if (!verdict.ok) return Response.json({ error: verdict.reason }, { status: 401 });
      await env.EVENTS.send(raw);
      return Response.json({ accepted: 1 }, { status: 202 });
    }
    if (request.method === "POST" && pathname === "/sendgrid") {
      // The provider figures' baseline: lasthop's own SendGrid verify, then the body enqueued as it came.
      const raw = await request.text();
      const verdict = await verifySendgrid({ headers: request.headers, rawBody: raw, publicKey: env.SENDGRID_PUBLIC_KEY });
      if (!verdict.ok) return Response.json({ error: verdict.reason }, { status: 401 });
      await enqueueRaw(env.EVENTS, raw);
      return Response.json({ accepted: true }, { status: 200 });
    }
    if (request.method === "POST" && pathname === "/sendgrid-apply") {
      // The applied figures' baseline: the same verify, then each event's id and message in packs of 100.
      const raw = await request.text();
      const verdict = await verifySendgrid({ headers: request.headers, rawBody: raw, publicKey: env.SENDGRID_PUBLIC_KEY });
      if (!verdict.ok) return Response.json({ error: verdict.reason }, { status: 401 });
      const events = (JSON.parse(raw) as Array<{ sg_event_id: string; lasthop_id: string }>).map((e) => ({
        id: e.sg_event_id,
        message: e.lasthop_id,
      }));
      const packs: Pack[] = [];
      for (let i = 0; i < events.length; i += 100) packs.push(events.slice(i, i + 100));
      for (let i = 0; i < packs.length; i += 25) await env.PACKS.sendBatch(packs.slice(i, i + 25).map((body) => ({ body })));
      return Response.json({ accepted: events.length }, { status: 200 });
    }
    if (request.method === "POST" && pathname === "/applied") {
      const ids = (await request.json()) as string[];
      try {
        const rows = await Promise.all(ids.map((id) => env.LOG.get(env.LOG.idFromName(id)).rows()));
        return Response.json({ rows: rows.reduce((a, b) => a + b, 0) });
      } catch (err) {
        return Response.json({ error: String(err) }, { status: 503 });
      }
    }
    if (request.method === "POST" && pathname === "/standard") {
      const raw = await request.text();
      const verdict = await verify(env.STANDARD_SECRET, webhookHeaders(request.headers), raw);
      if (!verdict.ok) return Response.json({ error: verdict.reason }, { status: 401 });
      await env.EVENTS.send(raw);
      return Response.json({ accepted: 1 }, { status: 200 });
    }
    return Response.json({ error: "not_found" }, { status: 404 });
  },

  async queue(batch, env) {
    if (batch.queue === "bench-baseline-pushes") {
      const vapid = { subject: env.VAPID_SUBJECT, publicKey: env.VAPID_PUBLIC_KEY, privateKey: env.VAPID_PRIVATE_KEY };
      // As lasthop's send consumer: the batch's pushes at once; a push to retry goes back to the queue.
      await Promise.all(
        (batch.messages as readonly Message<WebPushSend>[]).map(async (m) => {
          const outcome = await sendWebPush(m.body, vapid);
          if (outcome.kind === "retry") m.retry();
          else m.ack();
        }),
      );
      return;
    }
    if (batch.queue !== "bench-baseline-packs") return batch.ackAll();
    // Every event of the batch to its message's object, IN_FLIGHT at a time, as lasthop's consumer does.
    const work = (batch.messages as Array<Message<Pack>>).flatMap((m) => m.body);
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < work.length) {
          const event = work[next++]!;
          await env.LOG.get(env.LOG.idFromName(event.message)).add(event.id);
        }
      }),
    );
    batch.ackAll();
  },
} satisfies ExportedHandler<BaselineEnv, string | Pack | WebPushSend>;
