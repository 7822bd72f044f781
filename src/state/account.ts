import { Batches } from "./batches.ts";
import type { PollWindow } from "../core/poll/schedule.ts";
import { PollIndex, type PollCandidate } from "./poll-index.ts";
import { DurableObject } from "cloudflare:workers";
import type { IndexRow, ShardQuery } from "../core/message-search.ts";
import type { Channel } from "../core/model.ts";
import { erasedRecipient, type Retention } from "../core/retention.ts";
import { CountLedger, type CountKey } from "./count-ledger.ts";
import { Retainer, type IndexedMessage } from "./retention.ts";
import type { SuppressionEntry } from "./types.ts";
import { meterAlarm, metered, meteredSql } from "./meter.ts";

/** One hour of one channel: counts per outcome, and the same per route for messages a route carried. */
export type StatsBucket = {
  hour: string;
  channel: Channel;
  counts: Record<string, number>;
  routes?: Record<string, Record<string, number>>;
};

/** Adds up the buckets of several counter shards, in hour and channel order. */
export function mergeBuckets(lists: StatsBucket[][]): StatsBucket[] {
  const merged = new Map<string, StatsBucket>();
  for (const bucket of lists.flat()) {
    const key = `${bucket.hour} ${bucket.channel}`;
    const into = merged.get(key) ?? { hour: bucket.hour, channel: bucket.channel, counts: {} };
    for (const [outcome, n] of Object.entries(bucket.counts)) into.counts[outcome] = (into.counts[outcome] ?? 0) + n;
    for (const [route, counts] of Object.entries(bucket.routes ?? {})) {
      for (const [outcome, n] of Object.entries(counts)) addRouteCount(into, route, outcome, n);
    }
    merged.set(key, into);
  }
  return [...merged.values()].sort((a, b) => (a.hour === b.hour ? a.channel.localeCompare(b.channel) : a.hour.localeCompare(b.hour)));
}
function addRouteCount(bucket: StatsBucket, route: string, outcome: string, n: number): void {
  bucket.routes ??= {};
  const counts = bucket.routes[route] ?? {};
  counts[outcome] = (counts[outcome] ?? 0) + n;
  bucket.routes[route] = counts;
}

/** `n` counts at once; `route` adds to that route's split; `row` is the message's index row; `once` makes it exactly once. */
export type CountOptions = { n?: number; route?: string; row?: IndexRow; once?: CountKey };

/** One outcome to count: `n` (default 1) in `at`'s hour, and in `route`'s split when given. */
export type CountItem = { channel: Channel | "none"; outcome: string; at: string; n?: number; route?: string };

export type SuppressionPage = { items: SuppressionEntry[]; nextCursor: string | null };

/** An MO message as the account's inbox keeps it. */
export type InboundSms = {
  id: string;
  route: string;
  provider: string;
  from: string;
  to: string;
  body: string;
  keyword: string | null;
  replyId: string | null;
  receivedAt: string;
};
export type InboundPage = { items: InboundSms[]; nextCursor: string | null };

/** MO messages an account's inbox keeps (GET /v1/sms/inbound); older ones are dropped. */
const INBOX_LIMIT = 100_000;

type SuppressionRow = {
  channel: Channel;
  recipient_key: string;
  recipient: string;
  reason: SuppressionEntry["reason"];
  at: string;
  source_event_id: string | null;
  message_id: string | null;
};

/** The hour bucket (UTC) a timestamp is counted in. */
export function hourOf(iso: string): string {
  return `${iso.slice(0, 13)}:00:00Z`;
}

/**
 * One account: the index of its suppressions (for the paged list; each entry's truth
 * lives in its RecipientDO) and hourly counters per channel × outcome.
 */
export class AccountDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly retainer: Retainer;
  private readonly ledger: CountLedger;
  private readonly batches: Batches;
  private readonly polls: PollIndex;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS suppression (
        channel TEXT NOT NULL, recipient_key TEXT NOT NULL, recipient TEXT NOT NULL, reason TEXT NOT NULL,
        at TEXT NOT NULL, source_event_id TEXT, message_id TEXT, PRIMARY KEY (channel, recipient_key));
      CREATE TABLE IF NOT EXISTS counter (
        hour TEXT NOT NULL, channel TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (hour, channel, outcome));
      CREATE TABLE IF NOT EXISTS message_index (
        id TEXT PRIMARY KEY, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
        recipient_key TEXT NOT NULL, recipient TEXT NOT NULL, tags TEXT NOT NULL, route TEXT, provider TEXT, provider_message_id TEXT,
        counted_seq INTEGER) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS message_index_created ON message_index (created_at, id);
      CREATE INDEX IF NOT EXISTS message_index_recipient ON message_index (recipient_key, created_at, id);
      CREATE INDEX IF NOT EXISTS message_index_channel ON message_index (channel, created_at, id);
      CREATE INDEX IF NOT EXISTS message_index_status ON message_index (status, created_at, id);
      CREATE INDEX IF NOT EXISTS message_index_route ON message_index (route, created_at, id) WHERE route IS NOT NULL;
      CREATE INDEX IF NOT EXISTS message_index_provider ON message_index (provider, created_at, id) WHERE provider IS NOT NULL;
      CREATE INDEX IF NOT EXISTS message_index_provider_id ON message_index (provider_message_id) WHERE provider_message_id IS NOT NULL;
      CREATE TABLE IF NOT EXISTS message_tag (tag TEXT NOT NULL, created_at TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (tag, created_at, id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS route_counter (
        hour TEXT NOT NULL, channel TEXT NOT NULL, route TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (hour, channel, route, outcome));
      CREATE TABLE IF NOT EXISTS inbound_sms (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, route TEXT NOT NULL, provider TEXT NOT NULL,
        sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL, keyword TEXT, reply_id TEXT, received_at TEXT NOT NULL);
    `);
    // Shards made before a message's count mark rode on its search row get the column once.
    if (!this.sql.exec(`SELECT 1 FROM pragma_table_info('message_index') WHERE name = 'counted_seq'`).toArray().length)
      this.sql.exec(`ALTER TABLE message_index ADD COLUMN counted_seq INTEGER`);
    this.retainer = new Retainer(this.sql, env);
    this.ledger = new CountLedger(this.sql);
    this.batches = new Batches(this.sql);
    this.polls = new PollIndex(this.sql);
  }

  /** A send batch's message ids, kept for its cancel (state/batches.ts). */
  async recordBatch(id: string, members: string[]): Promise<void> {
    this.batches.record(id, members, Date.now());
  }

  /** The status poll: this shard's messages due to be asked about (state/poll-index.ts). */
  async pollDue(window: PollWindow, providers: string[]): Promise<PollCandidate[]> {
    return this.polls.due(window, providers);
  }

  /** The status poll's verdicts: when each message may be asked again, or never (`null`). */
  async pollMark(next: Array<{ id: string; due: number | null }>, now: number): Promise<void> {
    this.polls.mark(next, now);
  }

  /** The message ids of one of this account's batches, or null. */
  async batchMembers(id: string): Promise<string[] | null> {
    return this.batches.members(id);
  }

  /** Retention: keeps the account's policy and starts the passes (the `scheduled` handler calls this). */
  async retain(account: string, policy: Retention, batch?: number): Promise<void> {
    this.retainer.setPolicy(account, policy, batch);
    const current = await this.ctx.storage.getAlarm();
    if (current === null) await this.ctx.storage.setAlarm(Date.now());
  }

  /** One bounded retention pass a run; the next run follows at once while more is due. */
  override async alarm(): Promise<void> {
    meterAlarm(this.env, "ACCOUNT");
    if (await this.retainer.pass(Date.now())) await this.ctx.storage.setAlarm(Date.now());
  }

  /** A retention pass at `now` (tests drive the clock); true when more is due. */
  async retentionPass(now: number): Promise<boolean> {
    return this.retainer.pass(now);
  }

  /** Erasure: this shard's indexed messages of these recipient keys, at most `limit`. */
  async messagesOf(keys: string[], limit: number): Promise<IndexedMessage[]> {
    return this.retainer.messagesOf(keys, limit);
  }

  /** Erasure: the index rows of messages already purged. */
  async unindex(ids: string[]): Promise<void> {
    this.retainer.unindex(ids);
  }

  /** Erasure: an SMS number's MO messages leave the inbox. */
  async eraseInbound(sender: string): Promise<number> {
    return this.retainer.eraseInbound(sender);
  }

  /** Erasure: the suppression index keeps an erased recipient's entries under the hash alone. */
  async anonymizeSuppressions(channel: Channel, keys: Record<string, string>): Promise<void> {
    for (const [key, hashed] of Object.entries(keys))
      this.sql.exec(
        `UPDATE suppression SET recipient_key = ?, recipient = ? WHERE channel = ? AND recipient_key = ?`,
        hashed,
        hashed,
        channel,
        key,
      );
  }

  /** The suppression index's keys on `channel` that start with `prefix` (an SMS number's opt-out pairs). */
  async suppressionKeysLike(channel: Channel, prefix: string): Promise<string[]> {
    return this.sql
      .exec<{ recipient_key: string }>(
        `SELECT recipient_key FROM suppression WHERE channel = ? AND substr(recipient_key, 1, ?) = ?`,
        channel,
        prefix.length,
        prefix,
      )
      .toArray()
      .map((r) => r.recipient_key);
  }

  /**
   * Counts one outcome; with `route`, also in that route's split; with `row`, keeps the
   * message's search index row (this shard holds the rows of the messages it counts). With
   * `once`, exactly once: a retry of a count already made (its answer lost) changes nothing.
   * Returns whether it counted.
   */
  async count(channel: Channel | "none", outcome: string, at: string, options: CountOptions = {}): Promise<boolean> {
    const { n = 1, route, row, once } = options;
    return this.countMany([{ channel, outcome, at, n, ...(route !== undefined ? { route } : {}) }], {
      ...(row ? { row } : {}),
      ...(once ? { once } : {}),
    });
  }

  /**
   * Several outcomes at once (one outbox row's), under one exactly-once mark and with one index
   * row; the same outcome in the same hour is one upsert.
   */
  async countMany(counts: CountItem[], options: Pick<CountOptions, "row" | "once"> = {}): Promise<boolean> {
    const { row, once } = options;
    const folded = new Map<string, CountItem & { n: number }>();
    for (const c of counts) {
      const key = JSON.stringify([hourOf(c.at), c.channel, c.outcome, c.route ?? null]);
      const seen = folded.get(key);
      folded.set(key, { ...c, n: (seen?.n ?? 0) + (c.n ?? 1) });
    }
    // A message's mark is its search row's `counted_seq` (no row of its own); other subjects' are the ledger's.
    const onRow = row !== undefined && once !== undefined && once.subject === row.id;
    // The mark, the counts and the index row commit together: a retry finds all of them or none.
    return this.ctx.storage.transactionSync(() => {
      if (onRow && this.countedOnRow(once)) return false;
      if (once && !onRow && !this.ledger.claim(once, Date.now())) return false;
      if (row) this.index(row, onRow ? once.seq : undefined);
      for (const { channel, outcome, at, route, n } of folded.values()) {
        this.sql.exec(
          `INSERT INTO counter (hour, channel, outcome, n) VALUES (?, ?, ?, ?)
           ON CONFLICT (hour, channel, outcome) DO UPDATE SET n = n + excluded.n`,
          hourOf(at),
          channel,
          outcome,
          n,
        );
        if (route !== undefined)
          this.sql.exec(
            `INSERT INTO route_counter (hour, channel, route, outcome, n) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (hour, channel, route, outcome) DO UPDATE SET n = n + excluded.n`,
            hourOf(at),
            channel,
            route,
            outcome,
            n,
          );
      }
      return true;
    });
  }

  /** The exactly-once marks this shard keeps (bounded by COUNT_DEDUPE_MS; tests and the bench read it). */
  async countMarks(): Promise<number> {
    return this.ledger.size();
  }

  /**
   * Whether the message's count at `once.seq` was made: its search row's mark, or for a message
   * counted before marks rode on the row, the ledger's.
   */
  private countedOnRow(once: CountKey): boolean {
    const kept = this.sql
      .exec<{ counted_seq: number | null }>(`SELECT counted_seq FROM message_index WHERE id = ?`, once.subject)
      .toArray()[0];
    if (kept?.counted_seq != null) return kept.counted_seq >= once.seq;
    return this.ledger.counted(once, Date.now());
  }

  /**
   * One message's index row, kept as its state changes. At least once and in any order: a row
   * older than the one kept changes nothing, and its tags are written with its first row. Only
   * the columns that change are written: SQLite bills each index an UPDATE names as a row written.
   */
  index(row: IndexRow, countedSeq?: number): void {
    const kept = this.sql
      .exec<Pick<IndexSql, "updated_at" | "status" | "route" | "provider" | "provider_message_id">>(
        `SELECT updated_at, status, route, provider, provider_message_id FROM message_index WHERE id = ?`,
        row.id,
      )
      .toArray()[0];
    if (!kept) {
      this.sql.exec(
        `INSERT INTO message_index (id, created_at, updated_at, channel, status, recipient_key, recipient, tags, route, provider, provider_message_id, counted_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        row.id,
        row.createdAt,
        row.updatedAt,
        row.channel,
        row.status,
        row.recipientKey,
        row.to,
        JSON.stringify(row.tags),
        row.route ?? null,
        row.provider ?? null,
        row.providerMessageId ?? null,
        countedSeq ?? null,
      );
      for (const tag of row.tags)
        this.sql.exec(`INSERT OR IGNORE INTO message_tag (tag, created_at, id) VALUES (?, ?, ?)`, tag, row.createdAt, row.id);
      return;
    }
    const changes: Array<[string, string | number]> = countedSeq === undefined ? [] : [["counted_seq", countedSeq]];
    // An older row than the one kept moves nothing but the mark. A column given replaces the kept one; one not given keeps it.
    if (row.updatedAt < kept.updated_at) {
      if (changes.length) this.sql.exec(`UPDATE message_index SET counted_seq = ? WHERE id = ?`, countedSeq!, row.id);
      return;
    }
    changes.push(["updated_at", row.updatedAt]);
    if (row.status !== kept.status) changes.push(["status", row.status]);
    if (row.route !== undefined && row.route !== kept.route) changes.push(["route", row.route]);
    if (row.provider !== undefined && row.provider !== kept.provider) changes.push(["provider", row.provider]);
    if (row.providerMessageId !== undefined && row.providerMessageId !== kept.provider_message_id)
      changes.push(["provider_message_id", row.providerMessageId]);
    this.sql.exec(
      `UPDATE message_index SET ${changes.map(([column]) => `${column} = ?`).join(", ")} WHERE id = ?`,
      ...changes.map(([, value]) => value),
      row.id,
    );
  }

  /** This shard's newest rows matching every filter given, older than `before`, at most `limit`. */
  async search(q: ShardQuery): Promise<IndexRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    const eq = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`m.${column} = ?`);
      args.push(value);
    };
    if (q.recipientKeys) {
      where.push(`m.recipient_key IN (${q.recipientKeys.map(() => "?").join(", ")})`);
      args.push(...q.recipientKeys);
    }
    eq("channel", q.channel);
    eq("status", q.status);
    eq("route", q.route);
    eq("provider", q.provider);
    eq("provider_message_id", q.providerMessageId);
    if (q.from !== undefined) {
      where.push("m.created_at >= ?");
      args.push(q.from);
    }
    if (q.until !== undefined) {
      where.push("m.created_at < ?");
      args.push(q.until);
    }
    if (q.before) {
      where.push("(m.created_at, m.id) < (?, ?)");
      args.push(...q.before);
    }
    // A tag narrows through its own table (tag, created_at, id): newest first without a scan.
    const from = q.tag === undefined ? "message_index m" : "message_tag t JOIN message_index m ON m.id = t.id";
    if (q.tag !== undefined) {
      where.unshift("t.tag = ?");
      args.unshift(q.tag);
    }
    const order = q.tag === undefined ? "m.created_at DESC, m.id DESC" : "t.created_at DESC, t.id DESC";
    const rows = this.sql
      .exec<IndexSql>(
        `SELECT m.* FROM ${from} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${order} LIMIT ?`,
        ...args,
        q.limit,
      )
      .toArray();
    return rows.map(fromSql);
  }

  async stats(from: string, to: string, channel?: Channel): Promise<StatsBucket[]> {
    const rows = this.sql
      .exec<{ hour: string; channel: Channel; outcome: string; n: number }>(
        `SELECT hour, channel, outcome, n FROM counter WHERE hour >= ? AND hour < ? AND (? IS NULL OR channel = ?) ORDER BY hour, channel, outcome`,
        hourOf(from),
        to,
        channel ?? null,
        channel ?? null,
      )
      .toArray();
    const buckets = new Map<string, StatsBucket>();
    for (const r of rows) {
      const key = `${r.hour} ${r.channel}`;
      const bucket = buckets.get(key) ?? { hour: r.hour, channel: r.channel, counts: {} };
      bucket.counts[r.outcome] = r.n;
      buckets.set(key, bucket);
    }
    const routed = this.sql
      .exec<{ hour: string; channel: Channel; route: string; outcome: string; n: number }>(
        `SELECT hour, channel, route, outcome, n FROM route_counter WHERE hour >= ? AND hour < ? AND (? IS NULL OR channel = ?)`,
        hourOf(from),
        to,
        channel ?? null,
        channel ?? null,
      )
      .toArray();
    for (const r of routed) {
      // A route count always has its channel count beside it (the same call wrote both).
      const bucket = buckets.get(`${r.hour} ${r.channel}`);
      if (bucket) addRouteCount(bucket, r.route, r.outcome, r.n);
    }
    return [...buckets.values()];
  }

  async indexSuppression(entry: SuppressionEntry): Promise<void> {
    this.sql.exec(
      `INSERT OR REPLACE INTO suppression (channel, recipient_key, recipient, reason, at, source_event_id, message_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      entry.channel,
      entry.recipientKey,
      entry.recipient,
      entry.reason,
      entry.at,
      entry.sourceEventId ?? null,
      entry.messageId ?? null,
    );
  }

  async unindexSuppression(channel: Channel, recipientKey: string): Promise<void> {
    // An erased recipient's entry is indexed under its hash.
    const hashed = await erasedRecipient(recipientKey);
    this.sql.exec(`DELETE FROM suppression WHERE channel = ? AND recipient_key IN (?, ?)`, channel, recipientKey, hashed);
  }

  /** The entries among `keys` (at most 1,000 + their SMS pairs), in one read of the index. */
  async suppressedAmong(channel: Channel, keys: readonly string[]): Promise<SuppressionEntry[]> {
    const found: SuppressionEntry[] = [];
    // SQLite binds at most 100 parameters per statement in a DO: ask in slices.
    for (let i = 0; i < keys.length; i += 90) {
      const slice = keys.slice(i, i + 90);
      const rows = this.sql
        .exec<SuppressionRow>(
          `SELECT * FROM suppression WHERE channel = ? AND recipient_key IN (${slice.map(() => "?").join(",")})`,
          channel,
          ...slice,
        )
        .toArray();
      for (const r of rows) found.push(entryOf(r));
    }
    return found;
  }

  /** Keyset pagination over (channel, recipient_key): stable under concurrent inserts. */
  async listSuppressions(channel: Channel | undefined, after: [string, string] | undefined, limit: number): Promise<SuppressionPage> {
    const rows = this.sql
      .exec<SuppressionRow>(
        `SELECT * FROM suppression
         WHERE (? IS NULL OR channel = ?) AND (? IS NULL OR (channel, recipient_key) > (?, ?))
         ORDER BY channel, recipient_key LIMIT ?`,
        channel ?? null,
        channel ?? null,
        after?.[0] ?? null,
        after?.[0] ?? null,
        after?.[1] ?? null,
        limit + 1,
      )
      .toArray();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map(entryOf),
      nextCursor: rows.length > limit && last ? btoa(JSON.stringify([last.channel, last.recipient_key])) : null,
    };
  }

  async inboundSeen(id: string): Promise<boolean> {
    return this.sql.exec(`SELECT 1 FROM inbound_sms WHERE id = ?`, id).toArray().length > 0;
  }

  /** Records an MO message once (by id); returns false for a replay. */
  async recordInbound(mo: InboundSms): Promise<boolean> {
    const before = this.sql.exec(`SELECT 1 FROM inbound_sms WHERE id = ?`, mo.id).toArray().length;
    if (before > 0) return false;
    this.sql.exec(
      `INSERT INTO inbound_sms (id, route, provider, sender, recipient, body, keyword, reply_id, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      mo.id,
      mo.route,
      mo.provider,
      mo.from,
      mo.to,
      mo.body,
      mo.keyword,
      mo.replyId,
      mo.receivedAt,
    );
    // The inbox is a recent window, not an archive: the oldest go first past the limit.
    this.sql.exec(`DELETE FROM inbound_sms WHERE seq <= (SELECT MAX(seq) FROM inbound_sms) - ?`, INBOX_LIMIT);
    await this.count("sms", "inbound", mo.receivedAt);
    return true;
  }

  /** Newest first; the cursor is the last seq seen. */
  async listInbound(before: number | undefined, limit: number): Promise<InboundPage> {
    const rows = this.sql
      .exec<{
        seq: number;
        id: string;
        route: string;
        provider: string;
        sender: string;
        recipient: string;
        body: string;
        keyword: string | null;
        reply_id: string | null;
        received_at: string;
      }>(`SELECT * FROM inbound_sms WHERE (? IS NULL OR seq < ?) ORDER BY seq DESC LIMIT ?`, before ?? null, before ?? null, limit + 1)
      .toArray();
    const page = rows.slice(0, limit);
    return {
      items: page.map((r) => ({
        id: r.id,
        route: r.route,
        provider: r.provider,
        from: r.sender,
        to: r.recipient,
        body: r.body,
        keyword: r.keyword,
        replyId: r.reply_id,
        receivedAt: r.received_at,
      })),
      nextCursor: rows.length > limit && page.length > 0 ? String(page.at(-1)!.seq) : null,
    };
  }
}

function entryOf(r: SuppressionRow): SuppressionEntry {
  return {
    channel: r.channel,
    recipientKey: r.recipient_key,
    recipient: r.recipient,
    reason: r.reason,
    at: r.at,
    ...(r.source_event_id ? { sourceEventId: r.source_event_id } : {}),
    ...(r.message_id ? { messageId: r.message_id } : {}),
  };
}

type IndexSql = {
  id: string;
  created_at: string;
  updated_at: string;
  channel: Channel;
  status: string;
  recipient_key: string;
  recipient: string;
  tags: string;
  route: string | null;
  provider: string | null;
  provider_message_id: string | null;
};

function fromSql(r: IndexSql): IndexRow {
  return {
    id: r.id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    channel: r.channel,
    status: r.status,
    recipientKey: r.recipient_key,
    to: r.recipient,
    tags: JSON.parse(r.tags) as string[],
    ...(r.route !== null ? { route: r.route } : {}),
    ...(r.provider !== null ? { provider: r.provider } : {}),
    ...(r.provider_message_id !== null ? { providerMessageId: r.provider_message_id } : {}),
  };
}
