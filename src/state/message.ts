import { DurableObject } from "cloudflare:workers";
import { redactRecipient, recipientOf } from "../core/recipient.ts";
import { nextState } from "../core/state.ts";
import { recipientEffect } from "../core/suppression.ts";
import { stateRank, type Channel, type DeliveryState, type EventType, type SuppressionReason } from "../core/model.ts";
import type { SendRequest } from "../core/schema.ts";
import { aggregateReceipts } from "../core/sms/dlr.ts";
import { optOutKey } from "../core/sms/account.ts";
import { counterStub, recipientStub, refStub } from "./stubs.ts";
import type {
  ApplyResult,
  AttemptStart,
  CreateInput,
  CreateResult,
  EffectInput,
  MessageView,
  ReceiptInput,
  ReceiptResult,
  RefMapping,
  SendJob,
  SuppressionEntry,
  TimelineEvent,
} from "./types.ts";

type MessageRow = {
  id: string;
  account: string;
  channel: Channel;
  recipient_key: string;
  recipient: string;
  to_redacted: string;
  status: DeliveryState;
  attempts: number;
  created_at: string;
  updated_at: string;
  provider_message_id: string | null;
  body_hash: string;
  request: string;
};

/** Side effects recorded with the state change they follow and performed after it. */
type OutboxItem =
  | { kind: "enqueue"; job: SendJob }
  | { kind: "count"; account: string; channel: Channel; outcome: string; at: string }
  | { kind: "recipient"; input: EffectInput }
  | { kind: "ref"; provider: string; providerMessageId: string; mapping: RefMapping };

type PartRow = { segment: number; smsc_id: string; stat: string | null; err: string | null; at: string | null };

const OUTBOX_RETRY_MS = 5_000;

/**
 * One message: its request, its state machine and its timeline. Events are deduplicated
 * by id, so a replayed webhook changes nothing. Side effects (enqueueing the send,
 * counters, suppression) go through an outbox written in the same transaction as the
 * state, so a crash between the two is finished by the alarm instead of being lost.
 */
export class MessageDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private draining?: Promise<void>;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS message (
        id TEXT PRIMARY KEY, account TEXT NOT NULL, channel TEXT NOT NULL,
        recipient_key TEXT NOT NULL, recipient TEXT NOT NULL, to_redacted TEXT NOT NULL,
        status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, provider_message_id TEXT,
        body_hash TEXT NOT NULL, request TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS event (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
        occurred_at TEXT NOT NULL, received_at TEXT NOT NULL, provider TEXT NOT NULL, detail TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS part (segment INTEGER PRIMARY KEY, smsc_id TEXT NOT NULL, stat TEXT, err TEXT, at TEXT);
      CREATE TABLE IF NOT EXISTS receipt (key TEXT PRIMARY KEY);
    `);
  }

  /** Creates the message once; a second call with the same body is a replay, another body a conflict. */
  async create(input: CreateInput): Promise<CreateResult> {
    const existing = this.row();
    if (existing) {
      if (existing.body_hash !== input.bodyHash) return { kind: "conflict" };
      return { kind: "replay", message: this.view(existing), reason: this.suppressedReason() };
    }
    const { request } = input;
    const suppression = input.bypassSuppression ? null : await suppressionOf(this.env, input.account, request, input.recipientKey);
    // The suppression check awaited: a concurrent create may have won meanwhile.
    if (this.row()) return this.create(input);

    const now = new Date().toISOString();
    const status: DeliveryState = suppression ? "suppressed" : "queued";
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO message (id, account, channel, recipient_key, recipient, to_redacted, status, created_at, updated_at, body_hash, request)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        input.id, input.account, request.channel, input.recipientKey, input.recipient,
        redactRecipient(request.channel, recipientOf(request)), status, now, now, input.bodyHash, JSON.stringify(request),
      );
      this.insertEvent({
        id: `${input.id}:${status}`,
        type: status,
        occurredAt: now,
        receivedAt: now,
        provider: "lasthop",
        detail: suppression ? { reason: suppression.reason, since: suppression.at } : {},
      });
      this.push({ kind: "count", account: input.account, channel: request.channel, outcome: status, at: now });
      // Opt-out confirmations and HELP answers reach a recipient who opted out: they are the reply.
      if (input.bypassSuppression) this.setMeta("bypass_suppression", "1");
      if (!suppression) this.push({ kind: "enqueue", job: { account: input.account, messageId: input.id } });
    });
    await this.flush();
    return { kind: "created", message: this.view(this.row()!), reason: suppression?.reason };
  }

  /**
   * Called by the send consumer just before it sends. Skips a message that is already
   * past the send (a redelivered queue message must not send twice) and checks the
   * recipient's suppression again, since it may have changed while the message waited.
   */
  async beginAttempt(): Promise<AttemptStart> {
    const row = this.row();
    if (!row) return { action: "skip", reason: "unknown" };
    if (stateRank[row.status] >= stateRank.accepted) return { action: "skip", reason: "done" };
    const request = JSON.parse(row.request) as SendRequest;
    const suppression = this.meta("bypass_suppression") ? null : await suppressionOf(this.env, row.account, request, row.recipient_key);
    if (suppression) {
      await this.apply({
        id: `${row.id}:suppressed`,
        type: "suppressed",
        occurredAt: new Date().toISOString(),
        provider: "lasthop",
        detail: { reason: suppression.reason, since: suppression.at },
      });
      return { action: "skip", reason: "suppressed" };
    }
    const attempt = row.attempts + 1;
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`UPDATE message SET attempts = ? WHERE id = ?`, attempt, row.id);
      this.record(row, { id: `${row.id}:attempt:${attempt}`, type: "sending", occurredAt: now, receivedAt: now, provider: "lasthop", detail: { attempt } });
    });
    await this.flush();
    const route = this.meta("route");
    return { action: "send", request, attempt, createdAt: row.created_at, ...(route ? { route } : {}) };
  }

  /** Applies one event: dedupe by id, move the state by rank, queue the side effects. */
  async apply(event: Omit<TimelineEvent, "receivedAt"> & { receivedAt?: string }): Promise<ApplyResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    if (this.sql.exec(`SELECT 1 FROM event WHERE id = ?`, event.id).toArray().length > 0) {
      return { kind: "duplicate", state: row.status };
    }
    const full: TimelineEvent = { ...event, receivedAt: event.receivedAt ?? new Date().toISOString() };
    const next = this.ctx.storage.transactionSync(() => this.record(row, full));
    await this.flush();
    await this.armReceiptDeadline();
    return { kind: "applied", state: next, changed: next !== row.status };
  }

  /**
   * A delivery receipt for one part (from its RefDO). A multipart message is `delivered` only
   * when every part's receipt says DELIVRD; one UNDELIV or REJECTD part decides it at once.
   */
  async applyReceipt(input: ReceiptInput & { segment: number; segments: number }): Promise<ReceiptResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    const key = `${input.segment}:${input.stat}:${input.err ?? ""}`;
    if (this.sql.exec(`SELECT 1 FROM receipt WHERE key = ?`, key).toArray().length > 0) return { kind: "duplicate", state: row.status };
    const at = input.doneAt ?? input.receivedAt;
    const next = this.ctx.storage.transactionSync(() => {
      this.sql.exec(`INSERT INTO receipt (key) VALUES (?)`, key);
      this.sql.exec(
        `INSERT INTO part (segment, smsc_id, stat, err, at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (segment) DO UPDATE SET stat = excluded.stat, err = excluded.err, at = excluded.at`,
        input.segment, input.smscId, input.stat, input.err ?? null, at,
      );
      const parts = this.parts();
      const stats = Array.from({ length: input.segments }, (_, i) => parts.find((p) => p.segment === i + 1)?.stat ?? undefined) as Parameters<typeof aggregateReceipts>[1];
      const outcome = aggregateReceipts(input.segments, stats);
      if (!outcome) return row.status;
      const id = `${row.id}:receipt:${outcome}`;
      if (this.sql.exec(`SELECT 1 FROM event WHERE id = ?`, id).toArray().length > 0) return row.status;
      return this.record(row, {
        id,
        type: outcome,
        occurredAt: at,
        receivedAt: input.receivedAt,
        provider: "smpp",
        detail: {
          reason: outcome === "delivered" ? "delivery_receipt" : input.stat.toLowerCase(),
          ...(outcome === "bounced" ? { class: "hard" } : {}),
          route: input.route,
          ...(input.err ? { err: input.err } : {}),
          ...(input.text ? { receipt: input.text } : {}),
          receipts: parts.map(receiptView),
        },
      });
    });
    // A RefDO may call this while our own outbox drain waits on that RefDO's map(): the running
    // drain picks the new items up, and waiting for it here would wait for ourselves.
    if (!this.draining) await this.flush();
    return { kind: "applied", state: next };
  }

  /** The last attempt failed transiently and the queue gave up: the message ends `failed`. */
  async deadLetter(): Promise<ApplyResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    const last = this.sql
      .exec<{ detail: string }>(`SELECT detail FROM event WHERE type = 'deferred' ORDER BY seq DESC LIMIT 1`)
      .toArray()[0];
    return this.apply({
      id: `${row.id}:dead-letter`,
      type: "failed",
      occurredAt: new Date().toISOString(),
      provider: "lasthop",
      detail: { reason: "retries_exhausted", attempts: row.attempts, lastError: last ? JSON.parse(last.detail) : null },
    });
  }

  async get(): Promise<MessageView | null> {
    const row = this.row();
    return row ? this.view(row) : null;
  }

  override async alarm(): Promise<void> {
    await this.flush();
    const deadline = Number(this.meta("receipt_deadline") ?? 0);
    const row = this.row();
    if (!deadline || !row || row.status !== "accepted") return;
    if (Date.now() < deadline) return this.scheduleAlarm(deadline);
    // DLRs are advisory: carriers drop them. Past the wait, say so instead of `accepted` forever.
    await this.apply({
      id: `${row.id}:expired:no-receipt`,
      type: "expired",
      occurredAt: new Date().toISOString(),
      provider: "lasthop",
      detail: { reason: "no_delivery_receipt", waitedSeconds: Number(this.env.SMS_DLR_WAIT_SECONDS ?? 0) },
    });
  }

  private record(row: MessageRow, event: TimelineEvent): DeliveryState {
    const next = nextState(row.status, event.type);
    this.insertEvent(event);
    const providerId = typeof event.detail.providerMessageId === "string" ? event.detail.providerMessageId : null;
    this.sql.exec(
      `UPDATE message SET status = ?, updated_at = ?, provider_message_id = COALESCE(provider_message_id, ?) WHERE id = ?`,
      next, event.receivedAt, providerId, row.id,
    );
    if (next !== row.status) {
      this.push({ kind: "count", account: row.account, channel: row.channel, outcome: next, at: event.receivedAt });
    }
    if (row.channel === "sms") this.recordSms(row, event, next);
    const effect = recipientEffect(row.channel, event);
    if (effect) {
      this.push({
        kind: "recipient",
        input: {
          account: row.account, channel: row.channel, recipientKey: row.recipient_key, recipient: row.recipient,
          effect, eventId: event.id, messageId: row.id, at: event.occurredAt,
        },
      });
    }
    return next;
  }

  /**
   * SMS bookkeeping: which route carried (or may have carried) the message, its parts and
   * their SMSC ids (mapped through RefDOs so receipts find their way back), and when to stop
   * waiting for receipts.
   */
  private recordSms(row: MessageRow, event: TimelineEvent, next: DeliveryState): void {
    const { route, submitted, smscIds, routeType, bridgeRoute } = event.detail;
    // A route that may have submitted the message is the only one it may take from now on.
    if (typeof route === "string" && (event.type === "accepted" || submitted === "maybe")) this.setMeta("route", route);
    if (event.type !== "accepted" || next !== "accepted" || row.status === "accepted") return;
    if (routeType === "smpp" && Array.isArray(smscIds)) {
      const segments = smscIds.length;
      smscIds.forEach((smscId, i) => {
        if (typeof smscId !== "string") return;
        this.sql.exec(`INSERT OR IGNORE INTO part (segment, smsc_id) VALUES (?, ?)`, i + 1, smscId);
        this.push({
          kind: "ref",
          provider: `smpp:${String(bridgeRoute ?? route)}`,
          providerMessageId: smscId,
          mapping: { account: row.account, messageId: row.id, segment: i + 1, segments },
        });
      });
    }
    const wait = Number(this.env.SMS_DLR_WAIT_SECONDS ?? 0);
    if (wait > 0) this.setMeta("receipt_deadline", String(Date.parse(event.receivedAt) + wait * 1000));
  }

  private async armReceiptDeadline(): Promise<void> {
    const deadline = Number(this.meta("receipt_deadline") ?? 0);
    if (deadline && this.row()?.status === "accepted") await this.scheduleAlarm(deadline);
  }

  /** One alarm serves the outbox and the receipt deadline: keep the earlier of the two. */
  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  private meta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value;
  }

  private setMeta(key: string, value: string): void {
    this.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  private parts(): PartRow[] {
    return this.sql.exec<PartRow>(`SELECT segment, smsc_id, stat, err, at FROM part ORDER BY segment`).toArray();
  }

  private insertEvent(e: TimelineEvent): void {
    this.sql.exec(
      `INSERT INTO event (id, type, occurred_at, received_at, provider, detail) VALUES (?, ?, ?, ?, ?, ?)`,
      e.id, e.type, e.occurredAt, e.receivedAt, e.provider, JSON.stringify(e.detail),
    );
  }

  private push(item: OutboxItem): void {
    this.sql.exec(`INSERT INTO outbox (item) VALUES (?)`, JSON.stringify(item));
  }

  /** Performs the outbox in order; one drain at a time, a failure leaves the rest to the alarm. */
  private flush(): Promise<void> {
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const next = this.sql.exec<{ seq: number; item: string }>(`SELECT seq, item FROM outbox ORDER BY seq LIMIT 1`).toArray()[0];
      if (!next) return;
      try {
        await this.perform(JSON.parse(next.item) as OutboxItem);
      } catch (err) {
        console.error(JSON.stringify({ msg: "outbox item failed; retrying from the alarm", error: String(err) }));
        await this.scheduleAlarm(Date.now() + OUTBOX_RETRY_MS);
        return;
      }
      this.sql.exec(`DELETE FROM outbox WHERE seq = ?`, next.seq);
    }
  }

  private async perform(item: OutboxItem): Promise<void> {
    switch (item.kind) {
      case "enqueue":
        // One queue per channel family: email's and SMS's schedules and limits differ from push's.
        await queueFor(this.env, this.row()?.channel).send(item.job);
        return;
      case "ref":
        await refStub(this.env, item.mapping.account, item.provider, item.providerMessageId).map(item.mapping);
        return;
      case "count":
        await counterStub(this.env, item.account, this.row()?.id ?? item.account).count(item.channel, item.outcome, item.at);
        return;
      case "recipient":
        await recipientStub(this.env, item.input.account, item.input.channel, item.input.recipientKey).applyEffect(item.input);
        return;
    }
  }

  private row(): MessageRow | undefined {
    return this.sql.exec<MessageRow>(`SELECT * FROM message LIMIT 1`).toArray()[0];
  }

  private suppressedReason() {
    const row = this.sql.exec<{ detail: string }>(`SELECT detail FROM event WHERE type = 'suppressed' ORDER BY seq LIMIT 1`).toArray()[0];
    return row ? (JSON.parse(row.detail).reason as SuppressionReason) : undefined;
  }

  private smsView(): Pick<MessageView, "route" | "receipts" | "receiptDeadline"> {
    const route = this.meta("route");
    const parts = this.parts();
    const deadline = Number(this.meta("receipt_deadline") ?? 0);
    return {
      ...(route ? { route } : {}),
      ...(parts.length > 0 ? { receipts: parts.map(receiptView) } : {}),
      ...(deadline && this.row()?.status === "accepted" ? { receiptDeadline: new Date(deadline).toISOString() } : {}),
    };
  }

  private view(row: MessageRow): MessageView {
    const request = JSON.parse(row.request) as SendRequest;
    const events = this.sql
      .exec<{ id: string; type: EventType; occurred_at: string; received_at: string; provider: string; detail: string }>(
        `SELECT id, type, occurred_at, received_at, provider, detail FROM event ORDER BY seq`,
      )
      .toArray()
      .map((e) => ({
        id: e.id,
        type: e.type,
        occurredAt: e.occurred_at,
        receivedAt: e.received_at,
        provider: e.provider,
        detail: JSON.parse(e.detail) as Record<string, unknown>,
      }));
    return {
      id: row.id,
      channel: row.channel,
      to: row.to_redacted,
      status: row.status,
      attempts: row.attempts,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      ...(row.provider_message_id ? { providerMessageId: row.provider_message_id } : {}),
      ...(request.metadata ? { metadata: request.metadata } : {}),
      ...(row.channel === "sms" ? this.smsView() : {}),
      events,
    };
  }
}

function queueFor(env: Env, channel: Channel | undefined): Queue {
  if (channel === "email") return env.SEND_EMAIL;
  if (channel === "sms") return env.SEND_SMS;
  return env.SEND_PUSH;
}

/** The recipient's own suppression, and for SMS the opt-out of this sender by this recipient. */
async function suppressionOf(env: Env, account: string, request: SendRequest, key: string): Promise<SuppressionEntry | null> {
  if (request.channel !== "sms") return recipientStub(env, account, request.channel, key).check();
  // Both at once: the number's own entry decides first (a dead number is dead for every sender).
  const [own, pair] = await Promise.all([
    recipientStub(env, account, "sms", key).check(),
    recipientStub(env, account, "sms", optOutKey(request.to, request.from)).check(),
  ]);
  return own ?? pair;
}

function receiptView(p: PartRow) {
  return { segment: p.segment, smscId: p.smsc_id, ...(p.stat ? { stat: p.stat } : {}), ...(p.err ? { err: p.err } : {}), ...(p.at ? { at: p.at } : {}) };
}
