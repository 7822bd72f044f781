import { DurableObject } from "cloudflare:workers";
import {
  ATTEMPT_TIMEOUT_MS,
  DISABLE_AFTER_MS,
  deliveryHeaders,
  judgeAttempt,
  nextAttemptAt,
  readPrefix,
  type AttemptVerdict,
} from "../core/webhook-delivery.ts";
import type { DisabledReason, EndpointTarget } from "../core/webhook-endpoint.ts";
import { eventMessageId, type WebhookEvent } from "../core/webhook-events.ts";
import { signingSecrets } from "../core/webhook-secrets.ts";
import { emitEvents } from "./emit.ts";
import { Meta } from "./meta.ts";
import { configStub } from "./stubs.ts";
import { meterAlarm, metered, meteredSql } from "./meter.ts";

export type Trigger = "scheduled" | "manual" | "test";
export type DeliveryStatus = "pending" | "succeeded" | "failed";

/** One attempt as the API shows it. */
export type AttemptView = {
  id: string;
  eventId: string;
  eventType: string;
  messageId: string | null;
  at: string;
  result: "succeeded" | "failed" | "in_flight";
  statusCode: number | null;
  durationMs: number | null;
  response: string | null;
  error: string | null;
  trigger: Trigger;
  nextAttemptAt: string | null;
};
export type AttemptPage = { data: AttemptView[]; nextCursor: string | null };
export type AttemptQuery = { status?: "succeeded" | "failed"; since?: number; until?: number; cursor?: number; limit: number };
export type DeliveryView = { eventId: string; eventType: string; status: DeliveryStatus; attempts: AttemptView[] };

type DeliveryRow = {
  event_id: string;
  type: string;
  message_id: string | null;
  payload: string;
  created_at: number;
  status: DeliveryStatus;
  attempts: number;
  next_at: number | null;
  trigger: Trigger;
};
type AttemptRow = {
  seq: number;
  event_id: string;
  at: number;
  result: "succeeded" | "failed" | null;
  status_code: number | null;
  duration_ms: number | null;
  response: string | null;
  error: string | null;
  trigger: Trigger;
  next_at: number | null;
};

/** Deliveries one endpoint has in flight at once. */
export const ENDPOINT_CONCURRENCY = 16;
/** What one alarm does before it hands over to the next (an alarm has a wall-time limit). */
const RUN_MAX_ATTEMPTS = 2_000;
const DAY_MS = 86_400_000;

/**
 * One webhook endpoint of one account (named `account:webhook:<id>`): the events waiting for
 * it, its attempts, its rate window and its failing streak. Events are stored on arrival and
 * delivered by the object's alarm, each on its own schedule, so a slow or dead endpoint delays
 * nobody else, and a restart loses nothing: a delivery in flight when the object died is due
 * again and is retried with the same webhook-id.
 *
 * `run(at)` is the alarm's body with the clock as a parameter: tests drive the retry schedule
 * by passing the time.
 */
export class EndpointDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly meta: Meta;
  /** Deliveries being attempted by this instance (a restart forgets them: they are due again). */
  private readonly inFlight = new Set<string>();
  private running = false;
  /** The running delivery pass: events enqueued during it get workers at once, not after it. */
  private pool?: { target: EndpointTarget; clock: () => number; active: number; made: number; workers: Set<Promise<void>> };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS delivery (
        event_id TEXT PRIMARY KEY, type TEXT NOT NULL, message_id TEXT, payload TEXT NOT NULL, created_at INTEGER NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER, trigger TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS delivery_due ON delivery (status, next_at);
      CREATE INDEX IF NOT EXISTS delivery_message ON delivery (message_id);
      CREATE INDEX IF NOT EXISTS delivery_created ON delivery (created_at);
      CREATE TABLE IF NOT EXISTS attempt (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, at INTEGER NOT NULL, result TEXT,
        status_code INTEGER, duration_ms INTEGER, response TEXT, error TEXT, trigger TEXT NOT NULL, next_at INTEGER);
      CREATE INDEX IF NOT EXISTS attempt_at ON attempt (at);
      CREATE INDEX IF NOT EXISTS attempt_event ON attempt (event_id);
    `);
    this.meta = new Meta(this.sql);
  }

  private identify(account: string, endpointId: string): void {
    if (!this.meta.get("account")) {
      this.meta.set("account", account);
      this.meta.set("endpoint", endpointId);
    }
  }

  /** Stores events for delivery (an event already here, by id, is not stored twice) and wakes the alarm. */
  async enqueue(account: string, endpointId: string, events: WebhookEvent[]): Promise<number> {
    this.identify(account, endpointId);
    const now = Date.now();
    let added = 0;
    this.ctx.storage.transactionSync(() => {
      for (const event of events) {
        const cursor = this.sql.exec(
          `INSERT OR IGNORE INTO delivery (event_id, type, message_id, payload, created_at, status, next_at, trigger)
           VALUES (?, ?, ?, ?, ?, 'pending', ?, 'scheduled') RETURNING event_id`,
          event.data.id,
          event.type,
          eventMessageId(event),
          JSON.stringify(event),
          now,
          now,
        );
        added += cursor.toArray().length;
      }
    });
    if (added > 0) {
      this.spawn();
      await this.wake(now);
    }
    return added;
  }

  /**
   * Erasure: the deliveries of these messages, and any naming one of `needles` (a recipient's
   * address, number or token, JSON-escaped as the payload holds it), go with their attempts.
   */
  async erase(messageIds: string[], needles: string[]): Promise<number> {
    return this.ctx.storage.transactionSync(() => {
      const ids = new Set<string>();
      for (const id of messageIds)
        for (const r of this.sql.exec<{ event_id: string }>(`SELECT event_id FROM delivery WHERE message_id = ?`, id)) ids.add(r.event_id);
      for (const needle of needles)
        for (const r of this.sql.exec<{ event_id: string }>(`SELECT event_id FROM delivery WHERE instr(payload, ?) > 0`, needle))
          ids.add(r.event_id);
      for (const id of ids) {
        this.sql.exec(`DELETE FROM attempt WHERE event_id = ?`, id);
        this.sql.exec(`DELETE FROM delivery WHERE event_id = ?`, id);
      }
      return ids.size;
    });
  }

  override async alarm(): Promise<void> {
    meterAlarm(this.env, "WEBHOOK_ENDPOINTS");
    await this.run();
  }

  /**
   * Delivers what is due at `at` (default: now; the clock then runs on from there), up to
   * ENDPOINT_CONCURRENCY at a time and within the endpoint's rate, then arms the alarm for the
   * next due delivery. Answers how many attempts it made.
   */
  async run(at?: number): Promise<number> {
    const account = this.meta.get("account");
    const endpointId = this.meta.get("endpoint");
    if (!account || !endpointId || this.running) return 0;
    this.running = true;
    const start = Date.now();
    const clock = () => (at ?? start) + (Date.now() - start);
    let made = 0;
    try {
      this.closeInterrupted(clock());
      await this.notifyDisabled();
      const target = await configStub(this.env, account).endpointTarget(account, endpointId);
      if (!target) {
        // The endpoint was deleted: what it held goes with it.
        await this.ctx.storage.deleteAll();
        return 0;
      }
      if (!target.enabled) this.failPending("endpoint disabled", clock());
      else {
        const pool = { target, clock, active: 0, made: 0, workers: new Set<Promise<void>>() };
        this.pool = pool;
        try {
          this.spawn();
          while (pool.workers.size > 0) await Promise.all([...pool.workers]);
        } finally {
          this.pool = undefined;
        }
        made = pool.made;
      }
      this.expire(clock());
    } finally {
      this.running = false;
    }
    await this.arm(clock());
    return made;
  }

  /**
   * An attempt row without a result, when this instance has nothing in flight, is one the object
   * died during (a restart, an eviction): it is closed as failed, and its delivery, still pending,
   * is due again with the same webhook-id.
   */
  private closeInterrupted(now: number): void {
    if (this.inFlight.size > 0) return;
    this.sql.exec(
      `UPDATE attempt SET result = 'failed', error = 'interrupted: lasthop restarted during the attempt', duration_ms = ? - at
       WHERE result IS NULL`,
      now,
    );
  }

  /**
   * Tops the running pass up to ENDPOINT_CONCURRENCY workers. A worker ends when nothing is due,
   * so events that arrive during a pass (the next queue batch) would otherwise get only the
   * workers still busy with a slow answer.
   */
  private spawn(): void {
    const pool = this.pool;
    if (!pool?.target.enabled) return;
    while (pool.active < ENDPOINT_CONCURRENCY) {
      pool.active += 1;
      const work: Promise<void> = this.worker(pool.target, pool.clock)
        .then((n) => {
          pool.made += n;
        })
        .finally(() => {
          pool.active -= 1;
          pool.workers.delete(work);
        });
      pool.workers.add(work);
    }
  }

  /** One of the run's workers: takes the next due delivery, while the rate allows. */
  private async worker(target: EndpointTarget, clock: () => number): Promise<number> {
    let made = 0;
    while (made < RUN_MAX_ATTEMPTS / ENDPOINT_CONCURRENCY) {
      const now = clock();
      if (target.rateLimitPerSecond && this.startedSince(now - 1000) >= target.rateLimitPerSecond) return made;
      const next = this.nextDue(now);
      if (!next) return made;
      await this.attempt(next, target, now, next.trigger === "manual" && next.attempts === 0 ? "manual" : "scheduled");
      made += 1;
      // A 410 or a long failing streak turned it off: the other workers stop too.
      if (!target.enabled) return made;
    }
    return made;
  }

  private nextDue(now: number): DeliveryRow | undefined {
    const rows = this.sql
      .exec<DeliveryRow>(
        `SELECT * FROM delivery WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`,
        now,
        this.inFlight.size + 1,
      )
      .toArray();
    return rows.find((r) => !this.inFlight.has(r.event_id));
  }

  private startedSince(from: number): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM attempt WHERE at > ? AND trigger != 'test'`, from).one().n;
  }

  /** One POST: signed with every live secret, 15 s at most, redirects not followed; its outcome recorded. */
  private async attempt(delivery: DeliveryRow, target: EndpointTarget, now: number, trigger: Trigger): Promise<AttemptView> {
    this.inFlight.add(delivery.event_id);
    const seq = this.sql
      .exec<{ seq: number }>(`INSERT INTO attempt (event_id, at, trigger) VALUES (?, ?, ?) RETURNING seq`, delivery.event_id, now, trigger)
      .one().seq;
    const started = Date.now();
    let verdict: AttemptVerdict;
    let statusCode: number | null = null;
    let response: string | null = null;
    let error: string | null = null;
    try {
      const headers = await deliveryHeaders(signingSecrets(target.secrets, Date.now()), delivery.event_id, delivery.payload, Date.now());
      const answer = await fetch(target.url, {
        method: "POST",
        headers,
        body: delivery.payload,
        redirect: "manual",
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      statusCode = answer.status;
      response = await readPrefix(answer.body).catch(() => "");
      verdict = judgeAttempt(answer, now);
    } catch (err) {
      const timeout = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      error = timeout ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : String(err).slice(0, 512);
      verdict = judgeAttempt({ error: timeout ? "timeout" : "network", message: error }, now);
    } finally {
      this.inFlight.delete(delivery.event_id);
    }
    const durationMs = Date.now() - started;
    const attempts = delivery.attempts + 1;
    const succeeded = verdict.result === "succeeded";
    const nextAt =
      succeeded || trigger === "test" || (verdict.result === "failed" && verdict.disable)
        ? null
        : nextAttemptAt(attempts, now, { retryAfterMs: verdict.result === "failed" ? verdict.retryAfterMs : null });
    const status: DeliveryStatus = succeeded ? "succeeded" : nextAt === null ? "failed" : "pending";
    if (verdict.result === "failed" && !error) error = verdict.reason;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `UPDATE attempt SET result = ?, status_code = ?, duration_ms = ?, response = ?, error = ?, next_at = ? WHERE seq = ?`,
        verdict.result,
        statusCode,
        durationMs,
        response,
        error,
        nextAt,
        seq,
      );
      this.sql.exec(
        `UPDATE delivery SET status = ?, attempts = ?, next_at = ?, trigger = ? WHERE event_id = ?`,
        status,
        attempts,
        nextAt,
        trigger === "test" ? "test" : "scheduled",
        delivery.event_id,
      );
      if (succeeded) this.meta.delete("failing_since");
      else if (!this.meta.get("failing_since")) this.meta.set("failing_since", String(now));
    });
    if (verdict.result === "failed") {
      const failingSince = Number(this.meta.get("failing_since"));
      if (verdict.disable) await this.disable(target, "gone", now);
      else if (now - failingSince >= DISABLE_AFTER_MS) await this.disable(target, "failing", now);
    }
    return this.attemptView(this.sql.exec<AttemptRow>(`SELECT * FROM attempt WHERE seq = ?`, seq).one(), delivery);
  }

  /**
   * Turns the endpoint off in the account's configuration and tells the account's other
   * endpoints. The notice is written first, so a crash between the two still sends it (the
   * next run does); its id is fixed, so sending it twice reaches nobody twice.
   */
  private async disable(target: EndpointTarget, reason: DisabledReason, now: number): Promise<void> {
    if (!target.enabled) return;
    target.enabled = false;
    const failing = this.meta.get("failing_since");
    const disabledAt = new Date(now).toISOString();
    const notice: WebhookEvent = {
      type: "endpoint.disabled",
      timestamp: disabledAt,
      data: {
        id: `${target.id}:disabled:${now}`,
        endpointId: target.id,
        url: target.url,
        reason: reason === "gone" ? "gone" : "failing",
        disabledAt,
        failingSince: failing ? new Date(Number(failing)).toISOString() : null,
      },
    };
    this.meta.set("disabled_notice", JSON.stringify(notice));
    await this.notifyDisabled();
  }

  private async notifyDisabled(): Promise<void> {
    const raw = this.meta.get("disabled_notice");
    if (!raw) return;
    const notice = JSON.parse(raw) as Extract<WebhookEvent, { type: "endpoint.disabled" }>;
    const account = this.meta.get("account")!;
    const changed = await configStub(this.env, account).disableEndpoint(
      account,
      notice.data.endpointId,
      notice.data.reason,
      notice.data.disabledAt,
    );
    if (changed) await emitEvents(this.env, account, [notice]);
    this.meta.delete("disabled_notice");
    this.meta.delete("failing_since");
    this.failPending("endpoint disabled", Date.parse(notice.data.disabledAt));
  }

  /** A disabled endpoint's waiting deliveries end `failed` (recover re-sends them once it is enabled again). */
  private failPending(reason: string, now: number): void {
    const waiting = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM delivery WHERE status = 'pending'`).one().n;
    if (waiting === 0) return;
    this.sql.exec(`UPDATE delivery SET status = 'failed', next_at = NULL WHERE status = 'pending'`);
    console.log(JSON.stringify({ msg: "webhook deliveries ended", reason, count: waiting, at: new Date(now).toISOString() }));
  }

  /** The endpoint was deleted: its deliveries and attempts go with it. */
  async purge(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  /** Sends a `test` event at once, outside the schedule (one attempt, never retried). */
  async sendTest(account: string, endpointId: string): Promise<AttemptView | null> {
    this.identify(account, endpointId);
    const target = await configStub(this.env, account).endpointTarget(account, endpointId);
    if (!target) return null;
    const now = Date.now();
    const id = `test_${crypto.randomUUID()}`;
    const event: WebhookEvent = {
      type: "test",
      timestamp: new Date(now).toISOString(),
      data: { id, endpointId, message: "a test event from lasthop: this endpoint is reachable and verifies our signature" },
    };
    this.sql.exec(
      `INSERT INTO delivery (event_id, type, message_id, payload, created_at, status, next_at, trigger) VALUES (?, 'test', NULL, ?, ?, 'pending', NULL, 'test')`,
      id,
      JSON.stringify(event),
      now,
    );
    const row = this.sql.exec<DeliveryRow>(`SELECT * FROM delivery WHERE event_id = ?`, id).one();
    const view = await this.attempt(row, target, now, "test");
    await this.arm(Date.now());
    return view;
  }

  /** Every failed delivery of events made in [since, until) goes again, on a fresh schedule. */
  async recover(since: number, until: number): Promise<number> {
    const now = Date.now();
    const n = this.sql
      .exec(
        `UPDATE delivery SET status = 'pending', attempts = 0, next_at = ?, trigger = 'manual'
       WHERE status = 'failed' AND trigger != 'test' AND created_at >= ? AND created_at < ? RETURNING event_id`,
        now,
        since,
        until,
      )
      .toArray().length;
    if (n > 0) await this.wake(now);
    return n;
  }

  /** One event again (whatever its state), on a fresh schedule; false when this endpoint never had it. */
  async resend(eventId: string): Promise<boolean> {
    const now = Date.now();
    const n = this.sql
      .exec(
        `UPDATE delivery SET status = 'pending', attempts = 0, next_at = ?, trigger = 'manual' WHERE event_id = ? AND trigger != 'test' RETURNING event_id`,
        now,
        eventId,
      )
      .toArray().length;
    if (n > 0) await this.wake(now);
    return n > 0;
  }

  async attempts(query: AttemptQuery): Promise<AttemptPage> {
    const filters: Array<[string, unknown]> = [
      ["seq < ?", query.cursor ?? Number.MAX_SAFE_INTEGER],
      ["result = ?", query.status],
      ["at >= ?", query.since],
      ["at < ?", query.until],
    ];
    const used = filters.filter(([, value]) => value !== undefined);
    const where = used.map(([clause]) => clause);
    const args = used.map(([, value]) => value);
    const rows = this.sql
      .exec<AttemptRow & DeliveryRow>(
        `SELECT attempt.*, delivery.type, delivery.message_id FROM attempt JOIN delivery USING (event_id)
         WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ?`,
        ...args,
        query.limit + 1,
      )
      .toArray();
    const data = rows.slice(0, query.limit).map((r) => this.attemptView(r, r));
    return { data, nextCursor: rows.length > query.limit ? String(rows[query.limit - 1]!.seq) : null };
  }

  /** The deliveries of one message's events to this endpoint, each with its attempts (oldest first). */
  async deliveriesOf(messageId: string): Promise<DeliveryView[]> {
    return this.sql
      .exec<DeliveryRow>(`SELECT * FROM delivery WHERE message_id = ? ORDER BY created_at, event_id`, messageId)
      .toArray()
      .map((d) => ({
        eventId: d.event_id,
        eventType: d.type,
        status: d.status,
        attempts: this.sql
          .exec<AttemptRow>(`SELECT * FROM attempt WHERE event_id = ? ORDER BY seq`, d.event_id)
          .toArray()
          .map((a) => this.attemptView(a, d)),
      }));
  }

  private attemptView(a: AttemptRow, d: Pick<DeliveryRow, "type" | "message_id">): AttemptView {
    return {
      id: `att_${a.seq}`,
      eventId: a.event_id,
      eventType: d.type,
      messageId: d.message_id,
      at: new Date(a.at).toISOString(),
      result: a.result ?? "in_flight",
      statusCode: a.status_code,
      durationMs: a.duration_ms,
      response: a.response,
      error: a.error,
      trigger: a.trigger,
      nextAttemptAt: a.next_at === null ? null : new Date(a.next_at).toISOString(),
    };
  }

  /** Deliveries and attempts older than the retention (WEBHOOK_RETENTION_DAYS, default 30) go, a bounded batch a run. */
  private expire(now: number): void {
    const before = now - retentionMs(this.env);
    this.sql.exec(
      `DELETE FROM delivery WHERE event_id IN (SELECT event_id FROM delivery WHERE created_at < ? AND status != 'pending' LIMIT 5000)`,
      before,
    );
    this.sql.exec(`DELETE FROM attempt WHERE seq IN (SELECT seq FROM attempt WHERE at < ? LIMIT 5000)`, before);
  }

  /** The next alarm: the next due delivery (after the rate window frees), else the next expiry. */
  private async arm(now: number): Promise<void> {
    const due = this.sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM delivery WHERE status = 'pending'`).one().t;
    let at: number | null = due;
    if (due !== null && due <= now) {
      const oldest = this.sql
        .exec<{ t: number | null }>(`SELECT MIN(at) AS t FROM attempt WHERE at > ? AND trigger != 'test'`, now - 1000)
        .one().t;
      at = oldest === null ? now : Math.max(now, oldest + 1000);
    }
    if (at === null) {
      const oldest = this.sql.exec<{ t: number | null }>(`SELECT MIN(created_at) AS t FROM delivery`).one().t;
      if (oldest === null) return;
      at = Math.max(now + 60_000, Math.min(oldest + retentionMs(this.env), now + DAY_MS));
    }
    // The controlled clock of a test may run ahead of the real one: an alarm is real time.
    await this.ctx.storage.setAlarm(Math.min(at, Date.now() + (at - now)));
  }

  private async wake(now: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > now) await this.ctx.storage.setAlarm(now);
  }
}

function retentionMs(env: Env): number {
  const days = Number(env.WEBHOOK_RETENTION_DAYS ?? 30);
  return (Number.isFinite(days) && days > 0 ? days : 30) * DAY_MS;
}
