import { DurableObject } from "cloudflare:workers";
import { softBounceLimitReached } from "../core/suppression.ts";
import type { SuppressionReason } from "../core/model.ts";
import type { WebhookEvent } from "../core/webhook-events.ts";
import { emitEvents } from "./emit.ts";
import { accountStub } from "./stubs.ts";
import type { EffectInput, RecipientTarget, SuppressionEntry } from "./types.ts";
import { metered, meteredSql } from "./meter.ts";
import { LazyTables } from "./tables.ts";

type SuppressionRow = {
  channel: SuppressionEntry["channel"];
  recipient_key: string;
  recipient: string;
  reason: SuppressionReason;
  at: string;
  source_event_id: string | null;
  message_id: string | null;
};

/** How many applied event ids a recipient remembers for dedupe. */
const REMEMBERED_EVENTS = 1000;

/**
 * One recipient on one channel of one account: its suppression entry and its run of
 * consecutive soft bounces. Every method is idempotent (events are remembered by id),
 * because the MessageDO outbox delivers effects at least once.
 */
export class RecipientDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly tables: LazyTables;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    // Most recipients are only ever checked: their tables come with their first event.
    this.tables = new LazyTables(
      this.sql,
      "suppression",
      `
      CREATE TABLE IF NOT EXISTS suppression (
        channel TEXT NOT NULL, recipient_key TEXT PRIMARY KEY, recipient TEXT NOT NULL, reason TEXT NOT NULL,
        at TEXT NOT NULL, source_event_id TEXT, message_id TEXT) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS soft_bounce (event_id TEXT PRIMARY KEY, at TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS applied (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
    `,
    );
  }

  async check(): Promise<SuppressionEntry | null> {
    if (!this.tables.exist) return null;
    const row = this.sql.exec<SuppressionRow>(`SELECT * FROM suppression LIMIT 1`).toArray()[0];
    return row ? toEntry(row) : null;
  }

  /**
   * Suppresses the recipient. The first reason stands (it is the one with the evidence)
   * unless `replace` is set, as for a manual PUT.
   */
  async suppress(entry: SuppressionEntry & { account: string }, replace = false): Promise<SuppressionEntry> {
    const existing = await this.check();
    if (existing && !replace) {
      await accountStub(this.env, entry.account).indexSuppression(existing);
      // The same event again (an outbox retry): finish what its first call may not have reached.
      if (entry.sourceEventId && existing.sourceEventId === entry.sourceEventId)
        await this.announce(entry.account, "recipient.suppressed", existing);
      return existing;
    }
    const { account, ...stored } = entry;
    this.tables.ensure();
    this.sql.exec(`DELETE FROM suppression`);
    this.sql.exec(
      `INSERT INTO suppression (channel, recipient_key, recipient, reason, at, source_event_id, message_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      stored.channel,
      stored.recipientKey,
      stored.recipient,
      stored.reason,
      stored.at,
      stored.sourceEventId ?? null,
      stored.messageId ?? null,
    );
    await accountStub(this.env, account).indexSuppression(stored);
    await this.announce(account, "recipient.suppressed", stored);
    return stored;
  }

  /**
   * Tells the account's webhook endpoints. The id is fixed by the entry (its time), so a retry
   * announces the same event and no endpoint gets it twice.
   */
  private announce(account: string, type: "recipient.suppressed" | "recipient.unsuppressed", entry: SuppressionEntry): Promise<void> {
    const now = new Date().toISOString();
    const event: WebhookEvent = {
      type,
      timestamp: now,
      data: {
        id: `${entry.channel}:${entry.recipientKey}:${type === "recipient.suppressed" ? "suppressed" : "unsuppressed"}:${entry.at}`,
        channel: entry.channel,
        recipient: entry.recipient,
        reason: entry.reason,
        at: type === "recipient.suppressed" ? entry.at : now,
        ...(entry.messageId ? { messageId: entry.messageId } : {}),
        ...(entry.sourceEventId ? { sourceEventId: entry.sourceEventId } : {}),
      },
    };
    return emitEvents(this.env, account, [event]);
  }

  /** Lifts the suppression and starts the soft-bounce count afresh. */
  async unsuppress(target: RecipientTarget): Promise<boolean> {
    const entry = await this.check();
    const existed = entry !== null;
    // Announced before the entry goes: a crash between the two repeats the same announcement.
    if (entry) await this.announce(target.account, "recipient.unsuppressed", entry);
    if (this.tables.exist) {
      this.sql.exec(`DELETE FROM suppression`);
      this.sql.exec(`DELETE FROM soft_bounce`);
    }
    await accountStub(this.env, target.account).unindexSuppression(target.channel, target.recipientKey);
    return existed;
  }

  /**
   * Erasure: the entry stays, so the recipient is never sent to again (this object is found by
   * its name), but holds the hash alone in place of the address. True when there was one.
   */
  async erase(hashed: string): Promise<boolean> {
    if (!this.tables.exist) return false;
    return this.sql.exec(`UPDATE suppression SET recipient_key = ?, recipient = ?`, hashed, hashed).rowsWritten > 0;
  }

  /** Applies an event's effect once per event id. */
  async applyEffect(input: EffectInput): Promise<void> {
    // A delivery only ends a run of soft bounces: a recipient with no tables has none to end.
    if (input.effect.kind === "delivered" && !this.tables.exist) return;
    this.tables.ensure();
    const seen = this.sql.exec(`SELECT 1 FROM applied WHERE event_id = ?`, input.eventId).toArray().length > 0;
    const { effect } = input;
    if (!seen) {
      // One row each (no second index): the trim below reads the thousand it keeps, and a read costs a thousandth of a write.
      this.sql.exec(`INSERT INTO applied (event_id, seq) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM applied))`, input.eventId);
      this.sql.exec(`DELETE FROM applied WHERE seq <= (SELECT MAX(seq) FROM applied) - ?`, REMEMBERED_EVENTS);
      if (effect.kind === "delivered") this.sql.exec(`DELETE FROM soft_bounce`);
      if (effect.kind === "soft_bounce")
        this.sql.exec(`INSERT OR IGNORE INTO soft_bounce (event_id, at) VALUES (?, ?)`, input.eventId, input.at);
    }
    // Suppressing is idempotent itself, so it runs again on a replay to finish an index
    // update that an earlier attempt may not have reached.
    const reason =
      effect.kind === "suppress" ? effect.reason : effect.kind === "soft_bounce" && this.softLimitReached() ? "soft_bounce_limit" : null;
    if (reason) {
      await this.suppress({
        account: input.account,
        channel: input.channel,
        recipientKey: input.recipientKey,
        recipient: input.recipient,
        reason,
        at: input.at,
        sourceEventId: input.eventId,
        messageId: input.messageId,
      });
    }
  }

  async softBounceCount(): Promise<number> {
    if (!this.tables.exist) return 0;
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM soft_bounce`).one().n;
  }

  private softLimitReached(): boolean {
    const n = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM soft_bounce`).one().n;
    return softBounceLimitReached(n, Number(this.env.SOFT_BOUNCE_LIMIT ?? 3));
  }
}

function toEntry(row: SuppressionRow): SuppressionEntry {
  return {
    channel: row.channel,
    recipientKey: row.recipient_key,
    recipient: row.recipient,
    reason: row.reason,
    at: row.at,
    ...(row.source_event_id ? { sourceEventId: row.source_event_id } : {}),
    ...(row.message_id ? { messageId: row.message_id } : {}),
  };
}
