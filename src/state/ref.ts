import { DurableObject } from "cloudflare:workers";
import type { ProviderEvent } from "../core/provider-event.ts";
import { recipientKey } from "../core/recipient.ts";
import { messageStub } from "./stubs.ts";
import type { ApplyResult, ReceiptInput, ReceiptResult, RefMapping, TimelineEvent } from "./types.ts";
import { meterAlarm, metered, meteredSql } from "./meter.ts";
import { LazyTables } from "./tables.ts";

/** A receipt nobody claims is kept this long, then dropped with a log line. */
const PARKED_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * One provider message id (`account:provider:id`, e.g. an SMSC's id for one part) → our
 * message and part. The mapping is written when the send result reaches the edge; a receipt
 * that arrives before it (SMSCs race their own submit_sm_resp) is parked here and applied
 * when the mapping lands. Parked receipts are deleted only after their MessageDO took them.
 *
 * A provider's webhook event that names no message of ours lands here too (`providerEvent`):
 * with a mapping it goes to that message; without one it is mail lasthop did not send, and
 * this object, the one writer for that provider id, gives it a lasthop id once (an external
 * message) so every later event of the same provider message reaches the same timeline.
 */
export class RefDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiting: LazyTables;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS mapping (account TEXT NOT NULL, message_id TEXT NOT NULL, segment INTEGER NOT NULL, segments INTEGER NOT NULL)`,
    );
    // What waits for a mapping, and mail we did not send: most provider ids never need these.
    this.waiting = new LazyTables(
      this.sql,
      "parked",
      `
      CREATE TABLE IF NOT EXISTS parked (key TEXT PRIMARY KEY, receipt TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS external (recipient_key TEXT PRIMARY KEY, message_id TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS held_event (id TEXT PRIMARY KEY, event TEXT NOT NULL, until INTEGER NOT NULL) WITHOUT ROWID;
    `,
    );
  }

  /** Writes the mapping (idempotent) and hands over whatever was parked. */
  async map(mapping: RefMapping): Promise<number> {
    if (!this.mapping()) {
      this.sql.exec(
        `INSERT INTO mapping (account, message_id, segment, segments) VALUES (?, ?, ?, ?)`,
        mapping.account,
        mapping.messageId,
        mapping.segment,
        mapping.segments,
      );
    }
    if (!this.waiting.exist) return 0;
    const parked = this.sql.exec<{ key: string; receipt: string }>(`SELECT key, receipt FROM parked ORDER BY at`).toArray();
    for (const { key, receipt } of parked) {
      await this.forward(JSON.parse(receipt) as ReceiptInput);
      this.sql.exec(`DELETE FROM parked WHERE key = ?`, key);
    }
    // Provider events that came before the send result: ours after all. Deleted once applied.
    const held = this.sql.exec<{ id: string; event: string }>(`SELECT id, event FROM held_event ORDER BY until`).toArray();
    const ours = this.mapping()!;
    for (const { id, event } of held) {
      await messageStub(this.env, ours.account, ours.message_id).apply(toTimelineEvent(JSON.parse(event) as ProviderEvent));
      this.sql.exec(`DELETE FROM held_event WHERE id = ?`, id);
    }
    return parked.length + held.length;
  }

  /** Applies a receipt to its message, or parks it until the mapping arrives. */
  async receipt(input: ReceiptInput): Promise<ReceiptResult> {
    if (this.mapping()) return this.forward(input);
    this.waiting.ensure();
    this.sql.exec(
      `INSERT OR IGNORE INTO parked (key, receipt, at) VALUES (?, ?, ?)`,
      `${input.stat}:${input.err ?? ""}`,
      JSON.stringify(input),
      Date.now(),
    );
    await this.armAt(Date.now() + PARKED_TTL_MS);
    return { kind: "parked" };
  }

  /**
   * A provider's event: to our message when this id is mapped to one; else to the external
   * message of this provider message and recipient (one provider message may go to several
   * recipients, and each has its own suppression), made the first time.
   */
  async providerEvent(event: ProviderEvent, opts: { holdMs?: number } = {}): Promise<ApplyResult | { kind: "held" }> {
    const ours = this.mapping();
    if (ours) return (await messageStub(this.env, ours.account, ours.message_id).apply(toTimelineEvent(event))) as unknown as ApplyResult;
    // The account sends through this provider: an event without our id may be about a message
    // whose send result has not mapped this id yet. Held until the mapping comes or the hold ends.
    const external = this.waiting.exist && this.sql.exec(`SELECT 1 FROM external LIMIT 1`).toArray().length > 0;
    if (opts.holdMs && opts.holdMs > 0 && !external) {
      const until = Date.now() + opts.holdMs;
      this.waiting.ensure();
      this.sql.exec(`INSERT OR IGNORE INTO held_event (id, event, until) VALUES (?, ?, ?)`, event.id, JSON.stringify(event), until);
      await this.armAt(until);
      return { kind: "held" };
    }
    return this.external(event);
  }

  /** Mail lasthop did not send: the external message of this provider message and recipient, made the first time. */
  private async external(event: ProviderEvent): Promise<ApplyResult> {
    const key = await recipientKey(event.channel, event.recipient);
    this.waiting.ensure();
    // The id is written before the MessageDO is: a crash in between finds it here next time.
    this.sql.exec(`INSERT OR IGNORE INTO external (recipient_key, message_id) VALUES (?, ?)`, key, crypto.randomUUID());
    const id = this.sql.exec<{ message_id: string }>(`SELECT message_id FROM external WHERE recipient_key = ?`, key).one().message_id;
    const input = {
      id,
      account: event.account,
      channel: event.channel,
      recipientKey: key,
      recipient: event.recipient,
      provider: event.provider,
      providerMessageId: event.providerMessageId,
    };
    return (await messageStub(this.env, event.account, id).applyExternal(input, toTimelineEvent(event))) as unknown as ApplyResult;
  }

  /**
   * Erasure: what this object keeps of an erased recipient's messages goes: their mappings,
   * the external message of these recipient keys, and held events or parked receipts naming
   * any of `needles` (the address, number or token as the provider wrote it).
   */
  async erase(messageIds: string[], keys: string[], needles: string[]): Promise<void> {
    this.ctx.storage.transactionSync(() => {
      for (const id of messageIds) this.sql.exec(`DELETE FROM mapping WHERE message_id = ?`, id);
      if (!this.waiting.exist) return;
      for (const key of keys) this.sql.exec(`DELETE FROM external WHERE recipient_key = ?`, key);
      for (const needle of needles) {
        this.sql.exec(`DELETE FROM held_event WHERE instr(event, ?) > 0`, needle);
        this.sql.exec(`DELETE FROM parked WHERE instr(receipt, ?) > 0`, needle);
      }
    });
  }

  /**
   * Held provider events whose hold ended with no mapping are external mail after all; parked
   * receipts nobody claimed within PARKED_TTL_MS are dropped with a log line.
   */
  override async alarm(): Promise<void> {
    meterAlarm(this.env, "REFS");
    await this.sweep(Date.now());
  }

  /** What the alarm does, at `now` (tests drive the clock). */
  async sweep(now: number): Promise<void> {
    if (this.mapping() || !this.waiting.exist) return;
    const due = this.sql
      .exec<{ id: string; event: string }>(`SELECT id, event FROM held_event WHERE until <= ? ORDER BY until`, now)
      .toArray();
    for (const { id, event } of due) {
      await this.external(JSON.parse(event) as ProviderEvent);
      this.sql.exec(`DELETE FROM held_event WHERE id = ?`, id);
    }
    const stale = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM parked WHERE at <= ?`, now - PARKED_TTL_MS).one().n;
    if (stale > 0) console.warn(JSON.stringify({ msg: "parked receipts never matched a message; dropping them", count: stale }));
    this.sql.exec(`DELETE FROM parked WHERE at <= ?`, now - PARKED_TTL_MS);
    const next = this.sql
      .exec<{ at: number | null }>(
        `SELECT MIN(at) AS at FROM (SELECT MIN(until) AS at FROM held_event UNION ALL SELECT MIN(at) + ? AS at FROM parked)`,
        PARKED_TTL_MS,
      )
      .one().at;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /** One alarm serves held events and parked receipts: keep the earlier. */
  private async armAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  private async forward(input: ReceiptInput): Promise<ReceiptResult> {
    const m = this.mapping()!;
    const stub = messageStub(this.env, m.account, m.message_id);
    return (await stub.applyReceipt({ ...input, segment: m.segment, segments: m.segments })) as unknown as ReceiptResult;
  }

  private mapping() {
    return this.sql
      .exec<{ account: string; message_id: string; segment: number; segments: number }>(`SELECT * FROM mapping LIMIT 1`)
      .toArray()[0];
  }
}

/** A provider event as its message's timeline keeps it: the provider's id rides in the detail. */
export function toTimelineEvent(event: ProviderEvent): TimelineEvent {
  return {
    id: event.id,
    type: event.type,
    occurredAt: event.occurredAt,
    receivedAt: event.receivedAt ?? new Date().toISOString(),
    provider: event.provider,
    detail: { ...event.detail, providerMessageId: event.providerMessageId },
  };
}
