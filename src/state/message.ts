import { DurableObject } from "cloudflare:workers";
import { redactRecipient, recipientOf } from "../core/recipient.ts";
import { feedbackOutcome, nextState } from "../core/state.ts";
import { recipientEffect, unclassified } from "../core/suppression.ts";
import { stateRank, type Channel, type DeliveryState, type SuppressionReason } from "../core/model.ts";
import type { SendRequest } from "../core/schema.ts";
import { messageEventType, type MessageEventType } from "../core/webhook-events.ts";
import type { TemplateUse } from "../core/template.ts";
import { optOutKey } from "../core/sms/account.ts";
import { isEspType } from "../core/email-routes.ts";
import { outcomeDetail } from "../core/outcome.ts";
import { pinnedRoute } from "../core/routes.ts";
import { withoutBody } from "../core/retention.ts";
import { machineReason, readerDetail, trackedLinks } from "../core/tracking.ts";
import type { IndexRow } from "../core/message-search.ts";
import { performEffects, type MessageEffect } from "./message-effects.ts";
import { META_DDL, Meta } from "./meta.ts";
import { OUTBOX_DDL, OUTBOX_RETRY_MS, Outbox } from "./outbox.ts";
import { SmsParts } from "./sms-parts.ts";
import { recipientStub } from "./stubs.ts";
import { LazyTables } from "./tables.ts";
import { TIMELINE_DDL, Timeline } from "./timeline.ts";
import type {
  ApplyResult,
  AttemptStart,
  CancelResult,
  CreateInput,
  CreateResult,
  ExternalInput,
  MessageView,
  ReceiptInput,
  RenderingFailed,
  ReceiptResult,
  SuppressionEntry,
  TimelineEvent,
  TrackInput,
  TrackResult,
} from "./types.ts";
import { meterAlarm, metered, meteredSql } from "./meter.ts";

/** States in which a send may still need the request's content. */
const MESSAGE_DDL = `
  CREATE TABLE IF NOT EXISTS message (
    id TEXT PRIMARY KEY, account TEXT NOT NULL, channel TEXT NOT NULL,
    recipient_key TEXT NOT NULL, recipient TEXT NOT NULL, to_redacted TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, provider_message_id TEXT,
    body_hash TEXT NOT NULL, request TEXT NOT NULL) WITHOUT ROWID;
`;

const PENDING = new Set<DeliveryState>(["queued", "sending", "deferred"]);

/** States whose send may still need the request's content (retention keeps the body). */
const UNSENT = new Set<DeliveryState>([...PENDING, "scheduled"]);

/**
 * How long, in units of RETRY_BASE_SECONDS (and never under a minute), a pending send may go
 * past its due time (the enqueue, an attempt's start, a retry's delay) before the object
 * enqueues it again: 30 min in production, 1 min under the tests' base of 1 s. Far above a
 * send's duration, so an attempt still running is never doubled.
 */
const WATCHDOG_BASES = 60;
const WATCHDOG_MIN_MS = 60_000;
/** A queue's retry arrives at its delay, not before; this much early still counts as on time. */
const DUE_TOLERANCE_MS = 1_000;

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

/**
 * One message: its request, its state machine and its timeline. Events are deduplicated
 * by id, so a replayed webhook changes nothing. Side effects (enqueueing the send,
 * counters, suppression) go through an outbox written in the same transaction as the
 * state, so a crash between the two is finished by the alarm instead of being lost.
 * This class holds the message row and composes the rest: Timeline (events), Outbox
 * (effects), SmsParts (parts, receipts, route pin and receipt deadline).
 */
export class MessageDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly tables: LazyTables;
  private readonly timeline: Timeline;
  private readonly meta: Meta;
  private readonly outbox: Outbox<MessageEffect>;
  private readonly sms: SmsParts;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    // Made with the message (create, applyExternal): a read of an id that is not a message here
    // (a DSN tried against each account that claims its domain, a GET of a wrong id) writes nothing.
    this.tables = new LazyTables(this.sql, "message", [MESSAGE_DDL, TIMELINE_DDL, META_DDL, OUTBOX_DDL].join("\n"));
    this.timeline = new Timeline(this.sql);
    this.meta = new Meta(this.sql, false);
    // this.env is read when an effect runs, not captured here.
    this.outbox = new Outbox(
      this.sql,
      (effects, seq) => performEffects(this.env, effects, this.row(), seq),
      (at) => this.scheduleAlarm(at),
      () => this.tables.exist,
    );
    this.sms = new SmsParts(this.sql, this.meta);
  }

  /** Creates the message once; a second call with the same body is a replay, another body a conflict. */
  async create(input: CreateInput): Promise<CreateResult> {
    const existing = this.row();
    if (existing) {
      if (existing.body_hash !== input.bodyHash) return { kind: "conflict" };
      const rendering = this.renderingFailed();
      return { kind: "replay", message: this.view(existing), reason: this.suppressedReason(), ...(rendering ? { rendering } : {}) };
    }
    if (input.replayOnly) return { kind: "absent" };
    const { request, rendering } = input;
    // A message that failed to render is never sent: no suppression to ask about.
    const suppression =
      input.bypassSuppression || rendering ? null : await suppressionOf(this.env, input.account, request, input.recipientKey);
    // The suppression check awaited: a concurrent create may have won meanwhile.
    if (this.row()) return this.create(input);

    const now = new Date().toISOString();
    // A scheduled send is not enqueued: the alarm at its sendAt releases it (release()). One that
    // failed to render is failed at once, scheduled or not.
    const scheduled = !suppression && !rendering && input.sendAt !== undefined;
    const status: DeliveryState = suppression ? "suppressed" : rendering ? "failed" : scheduled ? "scheduled" : "queued";
    // The answer does not wait for the effects (counter, event stream, send queue): from the commit
    // on they are durable in the outbox. This alarm, armed before the commit, drains them if the
    // drain below is cut short (an eviction, a crash); a drain that completes takes it back.
    await this.scheduleAlarm(Date.now() + OUTBOX_RETRY_MS);
    this.transact(() => {
      this.tables.ensure();
      this.sql.exec(
        `INSERT INTO message (id, account, channel, recipient_key, recipient, to_redacted, status, created_at, updated_at, body_hash, request)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        input.id,
        input.account,
        request.channel,
        input.recipientKey,
        input.recipient,
        redactRecipient(request.channel, recipientOf(request)),
        status,
        now,
        now,
        input.bodyHash,
        JSON.stringify(request),
      );
      const event: TimelineEvent = {
        id: `${input.id}:${status}`,
        type: status,
        occurredAt: now,
        receivedAt: now,
        provider: "lasthop",
        detail: suppression
          ? { reason: suppression.reason, since: suppression.at }
          : rendering
            ? { reason: "rendering_failed", template: rendering.template, failure: rendering.failure }
            : scheduled
              ? { sendAt: new Date(input.sendAt!).toISOString() }
              : {},
      };
      if (input.sendAt !== undefined) this.meta.set("send_at", String(input.sendAt));
      this.timeline.add(event);
      // A rendering failure is its own event type: the customer's data, not a delivery, failed.
      this.emit(this.row()!, event, status, rendering ? "message.rendering_failed" : undefined);
      this.outbox.push({ kind: "count", account: input.account, channel: request.channel, outcome: status, at: now, row: this.indexRow() });
      // Opt-out confirmations and HELP answers reach a recipient who opted out: they are the reply.
      if (input.bypassSuppression) this.meta.set("bypass_suppression", "1");
      if (!suppression && !rendering && !scheduled) {
        this.outbox.push({ kind: "enqueue", job: { account: input.account, messageId: input.id } });
        this.armWatchdog(Date.now());
      }
    });
    this.ctx.waitUntil(this.drainThenSettle());
    return { kind: "created", message: this.view(this.row()!), reason: suppression?.reason, ...(rendering ? { rendering } : {}) };
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
    // Not released yet (a stray job): its alarm enqueues it when it is due.
    if (row.status === "scheduled") return { action: "skip", reason: "scheduled" };
    // A job well before a deferred message's retry is due is a second one (the watchdog's
    // re-enqueue met the queue's own job, which a slow queue delivered late): the job the queue
    // holds for the due time sends, so a message is never tried faster than its schedule.
    const retryDue = this.watchdogDue() - this.watchdogGraceMs();
    if (row.status === "deferred" && retryDue > 0 && Date.now() < retryDue - DUE_TOLERANCE_MS) return { action: "skip", reason: "not_due" };
    const request = JSON.parse(row.request) as SendRequest;
    const suppression = this.meta.get("bypass_suppression") ? null : await suppressionOf(this.env, row.account, request, row.recipient_key);
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
    // The suppression check awaited: an event may have moved the message meanwhile (a provider's
    // `delivered` that outran our own send), and `sending` must not write over it.
    const current = this.row()!;
    if (stateRank[current.status] >= stateRank.accepted) return { action: "skip", reason: "done" };
    // Another job's attempt is running (the watchdog's re-enqueue met the queue's own job): one sends.
    const runningSince = Number(this.meta.get("attempt_at") ?? 0);
    if (current.status === "sending" && Date.now() - runningSince < this.watchdogGraceMs()) return { action: "skip", reason: "in_flight" };
    const attempt = current.attempts + 1;
    const now = new Date().toISOString();
    this.transact(() => {
      this.record(
        current,
        {
          id: `${row.id}:attempt:${attempt}`,
          type: "sending",
          occurredAt: now,
          receivedAt: now,
          provider: "lasthop",
          detail: { attempt },
        },
        attempt,
      );
      this.meta.set("attempt_at", String(Date.parse(now)));
      this.armWatchdog(Date.now());
    });
    await this.outbox.flush();
    await this.scheduleWatchdog();
    const route = this.meta.get("route");
    // Email's age limit (and its Date header) count from when the send was due, not from the create.
    const sendAt = this.sendAt();
    const createdAt = sendAt ? new Date(sendAt).toISOString() : row.created_at;
    return { action: "send", request, attempt, createdAt, ...(route ? { route } : {}) };
  }

  /** Applies one event: dedupe by id, move the state by rank, queue the side effects. */
  async apply(event: Omit<TimelineEvent, "receivedAt"> & { receivedAt?: string }): Promise<ApplyResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    if (this.timeline.has(event.id)) return { kind: "duplicate", state: row.status };
    const full: TimelineEvent = { ...event, receivedAt: event.receivedAt ?? new Date().toISOString() };
    const next = this.transact(() => this.record(row, full));
    // A RefDO folding in a held provider event calls this while our own outbox drain waits on
    // that RefDO's map(): the running drain picks the new items up; waiting here would wait for ourselves.
    if (!this.outbox.busy) await this.outbox.flush();
    await this.settleAlarm();
    return { kind: "applied", state: next, changed: next !== row.status };
  }

  /**
   * An event about mail lasthop did not send: the message is recorded the first time (state
   * `accepted`: the provider took it, or it would not report on it), then the event applies to
   * it as to any other, its suppression effects included. Idempotent: the RefDO that owns the
   * provider's id calls this again after a crash.
   */
  async applyExternal(input: ExternalInput, event: TimelineEvent): Promise<ApplyResult> {
    if (!this.row()) {
      const now = new Date().toISOString();
      this.transact(() => {
        this.tables.ensure();
        this.sql.exec(
          `INSERT INTO message (id, account, channel, recipient_key, recipient, to_redacted, status, created_at, updated_at, provider_message_id, body_hash, request)
           VALUES (?, ?, ?, ?, ?, ?, 'accepted', ?, ?, ?, 'external', ?)`,
          input.id,
          input.account,
          input.channel,
          input.recipientKey,
          input.recipient,
          redactRecipient(input.channel, input.recipient),
          now,
          now,
          input.providerMessageId,
          JSON.stringify({ external: true, provider: input.provider, providerMessageId: input.providerMessageId }),
        );
        this.meta.set("external", input.provider);
        const first: TimelineEvent = {
          id: `${input.id}:external`,
          type: "accepted",
          occurredAt: event.occurredAt,
          receivedAt: now,
          provider: input.provider,
          detail: { external: true, providerMessageId: input.providerMessageId },
        };
        this.timeline.add(first);
        this.emit(this.row()!, first, "accepted");
        this.outbox.push({
          kind: "count",
          account: input.account,
          channel: input.channel,
          outcome: "accepted",
          at: now,
          row: this.indexRow(),
        });
      });
    }
    return this.apply(event);
  }

  /** A delivery receipt for one part (from its RefDO); SmsParts decides what the parts add up to. */
  async applyReceipt(input: ReceiptInput & { segment: number; segments: number }): Promise<ReceiptResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    if (this.sms.seen(input)) return { kind: "duplicate", state: row.status };
    const next = this.transact(() => {
      const event = this.sms.receive(row.id, input);
      return event && !this.timeline.has(event.id) ? this.record(row, event) : row.status;
    });
    // A RefDO may call this while our own outbox drain waits on that RefDO's map(): the running
    // drain picks the new items up, and waiting for it here would wait for ourselves.
    if (!this.outbox.busy) await this.outbox.flush();
    return { kind: "applied", state: next };
  }

  /** The last attempt failed transiently and the queue gave up: the message ends `failed`. */
  async deadLetter(): Promise<ApplyResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    const last = this.timeline.detailOf("deferred", "last");
    return this.apply({
      id: `${row.id}:dead-letter`,
      type: "failed",
      occurredAt: new Date().toISOString(),
      provider: "lasthop",
      detail: { reason: "retries_exhausted", attempts: row.attempts, lastError: last ?? null },
    });
  }

  /**
   * An open or a click (api/tracking.ts): a click leads to the link of that index in the
   * message's own html (or the links kept when its body expired), or nowhere. Each is its own
   * event; `first` marks the first human open of the message, or the first human click of a link.
   */
  async track(input: TrackInput): Promise<TrackResult> {
    const row = this.row();
    if (row?.channel !== "email") return { kind: "unknown" };
    let url: string | undefined;
    let link: { link: number; url: string } | undefined;
    if (input.kind === "c") {
      const request = JSON.parse(row.request) as { html?: string; links?: string[] };
      const links = request.html !== undefined ? trackedLinks(request.html, this.env.PUBLIC_URL) : (request.links ?? []);
      url = links[input.index];
      if (url === undefined) return { kind: "no_link" };
      link = { link: input.index, url };
    }
    const type = input.kind === "o" ? "opened" : "clicked";
    const accepted = this.timeline.firstAt("accepted");
    const reason = machineReason({
      method: input.method,
      userAgent: input.userAgent,
      sinceAcceptedMs: accepted === undefined ? undefined : Date.parse(input.at) - Date.parse(accepted),
    });
    const first = reason === null && this.timeline.humanCount(type, link?.link) === 0;
    await this.apply({
      id: `${row.id}:${type}:${crypto.randomUUID()}`,
      type,
      occurredAt: input.at,
      provider: "lasthop",
      detail: {
        machine: reason !== null,
        ...(reason ? { machineReason: reason } : {}),
        first,
        ...link,
        ...readerDetail(input.privacy, input.ip, input.userAgent),
      },
    });
    return url === undefined ? { kind: "recorded", machine: reason !== null } : { kind: "recorded", url, machine: reason !== null };
  }

  /**
   * Cancels a scheduled message before it goes: `canceled`, in the timeline and the event stream,
   * and its alarm settled. A second cancel answers the same; a message already released (or
   * suppressed at create) is not cancelable and says its status.
   */
  async cancel(): Promise<CancelResult> {
    const row = this.row();
    if (!row) return { kind: "unknown" };
    if (row.status === "canceled") return { kind: "canceled", message: this.view(row) };
    if (row.status !== "scheduled") return { kind: "not_cancelable", status: row.status };
    const now = new Date().toISOString();
    this.transact(() =>
      this.record(row, {
        id: `${row.id}:canceled`,
        type: "canceled",
        occurredAt: now,
        receivedAt: now,
        provider: "lasthop",
        detail: { sendAt: new Date(this.sendAt()).toISOString() },
      }),
    );
    await this.outbox.flush();
    await this.settleAlarm();
    return { kind: "canceled", message: this.view(this.row()!) };
  }

  async get(): Promise<MessageView | null> {
    const row = this.row();
    return row ? this.view(row) : null;
  }

  override async alarm(): Promise<void> {
    meterAlarm(this.env, "MESSAGE");
    await this.outbox.flush();
    await this.release();
    await this.watchdog();
    const row = this.row();
    const deadline = row ? this.sms.deadline(row.status) : 0;
    if (!row || !deadline) return;
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

  /** Records one new event (inside a transaction); `attempts`, when an attempt begins with it. */
  private record(row: MessageRow, event: TimelineEvent, attempts?: number): DeliveryState {
    const next = nextState(row.status, event.type);
    this.timeline.add(event);
    // A retry is due once its delay has passed.
    if (next === "deferred" && event.type === "deferred") {
      this.armWatchdog(Date.parse(event.occurredAt) + Number(event.detail.retryInSeconds ?? 0) * 1000);
    }
    // Our own send outcomes only: a route that took the message, or may have, is the only one it may take from now on.
    const route = this.meta.get("external") ? undefined : this.pin(row, event, next);
    const providerId = typeof event.detail.providerMessageId === "string" ? event.detail.providerMessageId : null;
    // updated_at never goes back: an event received earlier but applied later (a provider's event
    // held until our send result mapped its id) must still move the search row, which keeps the newest.
    this.sql.exec(
      `UPDATE message SET status = ?, updated_at = MAX(updated_at, ?), provider_message_id = COALESCE(provider_message_id, ?),
         attempts = COALESCE(?, attempts) WHERE id = ?`,
      next,
      event.receivedAt,
      providerId,
      attempts ?? null,
      row.id,
    );
    if (next !== row.status) {
      this.outbox.push({
        kind: "count",
        account: row.account,
        channel: row.channel,
        outcome: next,
        at: event.receivedAt,
        route,
        row: this.indexRow(),
      });
    }
    const feedback = feedbackOutcome(event.type, event.detail);
    if (feedback)
      this.outbox.push({
        kind: "count",
        account: row.account,
        channel: row.channel,
        outcome: feedback,
        at: event.receivedAt,
        route,
        row: this.indexRow(),
      });
    // What the classifier could not decide is shown, so a team sees how much of its feedback that is.
    if (event.type === "bounced" && unclassified(event.detail)) {
      this.outbox.push({
        kind: "count",
        account: row.account,
        channel: row.channel,
        outcome: "bounce_unclassified",
        at: event.receivedAt,
        row: this.indexRow(),
      });
    }
    this.emit(row, event, next);
    // Parts, receipts and the receipt deadline are our own sends' bookkeeping.
    if (row.channel === "sms" && !this.meta.get("external")) {
      const waitSeconds = Number(this.env.SMS_DLR_WAIT_SECONDS ?? 0);
      for (const effect of this.sms.record(row, event, next, waitSeconds)) this.outbox.push(effect);
    }
    this.poolFeedback(row, event);
    const effect = recipientEffect(row.channel, event);
    if (effect) {
      this.outbox.push({
        kind: "recipient",
        input: {
          account: row.account,
          channel: row.channel,
          recipientKey: row.recipient_key,
          recipient: row.recipient,
          effect,
          eventId: event.id,
          messageId: row.id,
          at: event.occurredAt,
        },
      });
    }
    return next;
  }

  /**
   * The IP pool a relay message left from (its acceptance names it), and feedback that came back
   * later (a DSN, an ARF complaint: events that do not come from our own send, so carry no pool)
   * counted against it, for the pool's reputation. A bounce in the SMTP session was counted by
   * the send consumer's report already.
   */
  private poolFeedback(row: MessageRow, event: TimelineEvent): void {
    if (row.channel !== "email") return;
    if (event.type === "accepted" && typeof event.detail.pool === "string") {
      this.meta.set("pool", event.detail.pool);
      if (typeof event.detail.sourceAddress === "string") this.meta.set("source_address", event.detail.sourceAddress);
      return;
    }
    if ((event.type !== "bounced" && event.type !== "complained") || event.detail.pool !== undefined) return;
    const pool = this.meta.get("pool");
    if (!pool) return;
    const sourceAddress = this.meta.get("source_address");
    this.outbox.push({
      kind: "pool",
      account: row.account,
      pool,
      ...(sourceAddress ? { sourceAddress } : {}),
      feedback: event.type,
      eventId: event.id,
    });
  }

  /**
   * Pins the message to the route an outcome names when that route took it or may have
   * (`pinnedRoute`), and returns the message's route. The first acceptance by a hosted email
   * provider maps the provider's id to this message (RefDO), so its webhooks that do not echo
   * our id still find it.
   */
  private pin(row: MessageRow, event: TimelineEvent, next: DeliveryState): string | undefined {
    const parsed = outcomeDetail.safeParse(event.detail);
    if (!parsed.success) return this.meta.get("route");
    const pinned = pinnedRoute(event.type, parsed.data);
    const { routeType, providerMessageId } = parsed.data;
    if (pinned !== null) {
      this.meta.set("route", pinned);
      if (routeType) this.meta.set("route_type", routeType);
    }
    if (event.type === "accepted" && row.status !== "accepted" && next === "accepted" && isEspType(routeType) && providerMessageId) {
      this.outbox.push({
        kind: "ref",
        provider: routeType,
        providerMessageId,
        mapping: { account: row.account, messageId: row.id, segment: 1, segments: 1 },
      });
    }
    return this.meta.get("route");
  }

  /** The message's search index row as it stands (written with each state change's count). */
  private indexRow(): IndexRow {
    const row = this.row()!;
    const request = JSON.parse(row.request) as { tags?: string[] };
    const route = this.meta.get("route");
    const provider = this.meta.get("route_type") ?? this.meta.get("external");
    return {
      id: row.id,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      channel: row.channel,
      status: row.status,
      recipientKey: row.recipient_key,
      to: row.to_redacted,
      tags: request.tags ?? [],
      ...(route ? { route } : {}),
      ...(provider ? { provider } : {}),
      ...(row.provider_message_id ? { providerMessageId: row.provider_message_id } : {}),
    };
  }

  /**
   * The event stream out: a timeline event that is sent (not `sending`, `inbound`, `resubscribed`)
   * goes into the outbox with a summary of its message, in the transaction that records it. Its
   * id is the timeline event's (prefixed with the message id when it does not start with it), so
   * it is the same however often the outbox or a receiver retries.
   */
  private emit(row: MessageRow, event: TimelineEvent, status: DeliveryState, as?: MessageEventType): void {
    const type = as ?? messageEventType(event.type);
    if (!type) return;
    const request = JSON.parse(row.request) as Partial<SendRequest> & { external?: boolean };
    const external = this.meta.get("external");
    this.outbox.push({
      kind: "webhook",
      account: row.account,
      events: [
        {
          type,
          timestamp: event.receivedAt,
          data: {
            id: event.id.startsWith(row.id) ? event.id : `${row.id}:${event.id}`,
            provider: event.provider,
            occurredAt: event.occurredAt,
            receivedAt: event.receivedAt,
            detail: event.detail,
            message: {
              id: row.id,
              channel: row.channel,
              // In full (a device token, a push endpoint): the customer prunes dead ones by it.
              to: external ? row.recipient : recipientOf(request as SendRequest),
              status,
              tags: (request as { tags?: string[] }).tags ?? [],
              ...(request.metadata ? { metadata: request.metadata } : {}),
              ...(external ? { external: { provider: external } } : {}),
            },
          },
        },
      ],
    });
  }

  /**
   * Retention: drops the content of the request, keeping what the message is shown, linked and
   * announced by. A message still being sent keeps it (its timeline's expiry takes it later).
   */
  async expireBody(): Promise<"expired" | "pending" | "none"> {
    const row = this.row();
    if (!row) return "none";
    if (UNSENT.has(row.status)) return "pending";
    const request = JSON.parse(row.request) as SendRequest & { bodyExpired?: boolean };
    if (request.bodyExpired) return "expired";
    // Links are kept only for mail whose acceptance says it left with click tracking (channels/email.ts).
    const clickTracked = this.timeline.detailOf("accepted", "first")?.clickTracked === true;
    this.sql.exec(
      `UPDATE message SET request = ? WHERE id = ?`,
      JSON.stringify(withoutBody(request, this.env.PUBLIC_URL, clickTracked)),
      row.id,
    );
    return "expired";
  }

  /**
   * Retention and erasure: everything this object holds goes (the row, the timeline, the outbox,
   * parts, meta) and its alarm with it. The tables stay, empty, for this running instance.
   */
  async purge(): Promise<boolean> {
    const existed = this.row() !== undefined;
    const tables = this.sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'`)
      .toArray();
    this.ctx.storage.transactionSync(() => {
      for (const { name } of tables) this.sql.exec(`DELETE FROM "${name}"`);
    });
    await this.ctx.storage.deleteAlarm();
    return existed;
  }

  /**
   * Drains the outbox after an answer that did not wait for it, then settles the alarm, so the
   * backstop armed for the drain costs no invocation. A failed drain leaves the alarm to the
   * outbox's retry.
   */
  private async drainThenSettle(): Promise<void> {
    try {
      await this.outbox.flush();
      await this.settleAlarm();
    } catch (err) {
      console.error(JSON.stringify({ msg: "outbox drain after create failed; the alarm retries", error: String(err) }));
    }
  }

  /**
   * With the outbox empty, the alarm is exactly what the state still needs: the receipt deadline,
   * a scheduled send's sendAt and, while the send is pending, the watchdog; nothing else (a finished message keeps none).
   * With effects waiting it stays as the outbox set it.
   */
  private async settleAlarm(): Promise<void> {
    const row = this.row();
    const wants = [
      row ? this.sms.deadline(row.status) : 0,
      row && PENDING.has(row.status) ? this.watchdogDue() : 0,
      row?.status === "scheduled" ? this.sendAt() : 0,
    ].filter((at) => at > 0);
    const at = wants.length > 0 ? Math.min(...wants) : 0;
    // Effects still waiting: the alarm serves them too, so only ever bring it earlier.
    if (!this.outbox.empty) return at ? this.scheduleAlarm(at) : undefined;
    if (at) await this.ctx.storage.setAlarm(at);
    else await this.ctx.storage.deleteAlarm();
  }

  /**
   * The send watchdog: a pending message whose next attempt has not begun well after it was due
   * lost its queue job (a local Queue lives in memory and a wrangler dev restart empties it), so
   * it is enqueued again. The consumer's checks make the extra job harmless: a finished message
   * is skipped, and so is one whose attempt is still running.
   */
  private async watchdog(): Promise<void> {
    const row = this.row();
    const due = this.watchdogDue();
    if (!row || !PENDING.has(row.status) || !due) return;
    if (Date.now() < due) return this.scheduleAlarm(due);
    console.warn(
      JSON.stringify({ msg: "send watchdog: no attempt since it was due; enqueued again", messageId: row.id, status: row.status }),
    );
    this.transact(() => {
      this.outbox.push({ kind: "enqueue", job: { account: row.account, messageId: row.id } });
      this.armWatchdog(Date.now());
    });
    await this.outbox.flush();
    await this.scheduleWatchdog();
  }

  /**
   * A scheduled message whose sendAt has come goes: `queued` (counted, announced) and its enqueue
   * in one transaction, then the outbox drains it. An enqueue that fails stays in the outbox,
   * whose retry alarm performs it again, so a crash between the alarm and the queue loses nothing.
   * Before its time it only re-arms the alarm (which the outbox's own retries may have taken).
   */
  private async release(): Promise<void> {
    const row = this.row();
    if (row?.status !== "scheduled") return;
    const at = this.sendAt();
    if (Date.now() < at) return this.scheduleAlarm(at);
    const now = new Date().toISOString();
    this.transact(() => {
      this.record(row, {
        id: `${row.id}:queued`,
        type: "queued",
        occurredAt: now,
        receivedAt: now,
        provider: "lasthop",
        detail: { sendAt: new Date(at).toISOString() },
      });
      this.outbox.push({ kind: "enqueue", job: { account: row.account, messageId: row.id } });
      this.armWatchdog(Date.now());
    });
    await this.outbox.flush();
    await this.scheduleWatchdog();
  }

  /** A scheduled send's time (epoch ms), 0 for a message sent at once. */
  private sendAt(): number {
    if (!this.tables.exist) return 0;
    return Number(this.meta.get("send_at") ?? 0);
  }

  /** The send is due at `at`: the watchdog looks WATCHDOG_BASES later. Inside the caller's transaction. */
  private armWatchdog(at: number): void {
    this.meta.set("send_due", String(at + this.watchdogGraceMs()));
  }

  private watchdogGraceMs(): number {
    return Math.max(WATCHDOG_MIN_MS, WATCHDOG_BASES * Number(this.env.RETRY_BASE_SECONDS ?? 30) * 1000);
  }

  private watchdogDue(): number {
    if (!this.tables.exist) return 0;
    return Number(this.meta.get("send_due") ?? 0);
  }

  private async scheduleWatchdog(): Promise<void> {
    const row = this.row();
    const due = this.watchdogDue();
    if (row && PENDING.has(row.status) && due) await this.scheduleAlarm(due);
  }

  /** One alarm serves the outbox and the receipt deadline: keep the earlier of the two. */
  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /** A transaction whose outbox effects are written as one row (performed, and folded, together). */
  private transact<T>(fn: () => T): T {
    try {
      return this.ctx.storage.transactionSync(() => this.outbox.collect(fn));
    } catch (err) {
      // Rolled back: tables this transaction made are gone with it.
      this.tables.forget();
      this.sms.forget();
      throw err;
    }
  }

  private row(): MessageRow | undefined {
    if (!this.tables.exist) return undefined;
    return this.sql.exec<MessageRow>(`SELECT * FROM message LIMIT 1`).toArray()[0];
  }

  /** The rendering failure the message was made with, if it was (for a replayed create's answer). */
  private renderingFailed(): RenderingFailed | undefined {
    const detail = this.timeline.detailOf("failed", "first");
    return detail?.reason === "rendering_failed" ? ({ template: detail.template, failure: detail.failure } as RenderingFailed) : undefined;
  }

  private suppressedReason(): SuppressionReason | undefined {
    return this.timeline.detailOf("suppressed", "first")?.reason as SuppressionReason | undefined;
  }

  private view(row: MessageRow): MessageView {
    const request = JSON.parse(row.request) as SendRequest;
    const template = (request as { template?: TemplateUse }).template;
    const external = this.meta.get("external");
    return {
      id: row.id,
      channel: row.channel,
      to: row.to_redacted,
      status: row.status,
      attempts: row.attempts,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      ...(row.provider_message_id ? { providerMessageId: row.provider_message_id } : {}),
      ...(external ? { external: { provider: external } } : {}),
      ...(request.metadata ? { metadata: request.metadata } : {}),
      ...(template ? { template } : {}),
      ...(this.meta.get("route") ? { route: this.meta.get("route") } : {}),
      ...(row.channel === "sms" && !external ? this.sms.view(row.status) : {}),
      ...(this.sendAt() ? { sendAt: new Date(this.sendAt()).toISOString() } : {}),
      events: this.timeline.list(),
    };
  }
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
