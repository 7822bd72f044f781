import { DurableObject } from "cloudflare:workers";
import type { Channel } from "../core/model.ts";
import type { SuppressionEntry } from "./types.ts";

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

type IndexRow = {
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

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS suppression (
        channel TEXT NOT NULL, recipient_key TEXT NOT NULL, recipient TEXT NOT NULL, reason TEXT NOT NULL,
        at TEXT NOT NULL, source_event_id TEXT, message_id TEXT, PRIMARY KEY (channel, recipient_key));
      CREATE TABLE IF NOT EXISTS counter (
        hour TEXT NOT NULL, channel TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (hour, channel, outcome));
      CREATE TABLE IF NOT EXISTS route_counter (
        hour TEXT NOT NULL, channel TEXT NOT NULL, route TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (hour, channel, route, outcome));
      CREATE TABLE IF NOT EXISTS inbound_sms (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, route TEXT NOT NULL, provider TEXT NOT NULL,
        sender TEXT NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL, keyword TEXT, reply_id TEXT, received_at TEXT NOT NULL);
    `);
  }

  /** Counts one outcome; with `route`, also in that route's split. */
  async count(channel: Channel | "none", outcome: string, at: string, n = 1, route?: string): Promise<void> {
    this.sql.exec(
      `INSERT INTO counter (hour, channel, outcome, n) VALUES (?, ?, ?, ?)
       ON CONFLICT (hour, channel, outcome) DO UPDATE SET n = n + excluded.n`,
      hourOf(at),
      channel,
      outcome,
      n,
    );
    if (route === undefined) return;
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
    this.sql.exec(`DELETE FROM suppression WHERE channel = ? AND recipient_key = ?`, channel, recipientKey);
  }

  /** The entries among `keys` (at most 1,000 + their SMS pairs), in one read of the index. */
  async suppressedAmong(channel: Channel, keys: readonly string[]): Promise<SuppressionEntry[]> {
    const found: SuppressionEntry[] = [];
    // SQLite binds at most 100 parameters per statement in a DO: ask in slices.
    for (let i = 0; i < keys.length; i += 90) {
      const slice = keys.slice(i, i + 90);
      const rows = this.sql
        .exec<IndexRow>(
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
      .exec<IndexRow>(
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

function entryOf(r: IndexRow): SuppressionEntry {
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
