/**
 * AccountDO's part that answers the status poll (queues/poll.ts): which of this shard's indexed
 * messages are still `accepted` through a provider with a status API, old enough to ask about
 * and not past the age where asking stops, and when each may be asked again. The schedule is a
 * row per polled message (`poll_due`), apart from the search rows: a poll writes one small row,
 * never the search row with its five indexes. A message whose answer was final loses its row;
 * rows of messages long past any poll are pruned a few at a time.
 */
import type { PollWindow } from "../core/poll/schedule.ts";
import { LazyTables } from "./tables.ts";

const POLL_DDL = `CREATE TABLE IF NOT EXISTS poll_due (id TEXT PRIMARY KEY, due INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS poll_due_due ON poll_due (due);`;
/** Past the longest poll window (168 h) and its last interval: nothing reads such a row again. */
const STALE_MS = 8 * 24 * 3600_000;
const PRUNE_PER_RUN = 20;

/** A message the run asks its provider about. */
export type PollCandidate = { id: string; updatedAt: string; route: string; provider: string; providerMessageId: string };

export class PollIndex {
  private readonly sql: SqlStorage;
  private readonly tables: LazyTables;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    this.tables = new LazyTables(sql, "poll_due", POLL_DDL);
  }

  /** The due messages of these provider types, never polled first, then the longest due; at most `limit`. */
  due(window: PollWindow, providers: readonly string[]): PollCandidate[] {
    if (!providers.length) return [];
    const schedule = this.tables.exist;
    // Read through the status index: `accepted` rows created inside the window.
    const rows = this.sql
      .exec<{ id: string; updated_at: string; route: string; provider: string; provider_message_id: string }>(
        `SELECT m.id, m.updated_at, m.route, m.provider, m.provider_message_id FROM message_index m
         ${schedule ? "LEFT JOIN poll_due p ON p.id = m.id" : ""}
         WHERE m.status = 'accepted' AND m.created_at >= ? AND m.updated_at <= ?
           AND m.provider IN (${providers.map(() => "?").join(", ")})
           AND m.route IS NOT NULL AND m.provider_message_id IS NOT NULL
           ${schedule ? "AND (p.due IS NULL OR p.due <= ?) ORDER BY p.due IS NOT NULL, p.due, m.created_at" : "ORDER BY m.created_at"}
         LIMIT ?`,
        window.createdAfter,
        window.unchangedSince,
        ...providers,
        ...(schedule ? [window.now] : []),
        window.limit,
      )
      .toArray();
    return rows.map((r) => ({
      id: r.id,
      updatedAt: r.updated_at,
      route: r.route,
      provider: r.provider,
      providerMessageId: r.provider_message_id,
    }));
  }

  /** When each message may be asked again; `null` ends its schedule (a final answer). */
  mark(next: Array<{ id: string; due: number | null }>, now: number): void {
    if (!next.length) return;
    this.tables.ensure();
    for (const { id, due } of next) {
      if (due === null) this.sql.exec(`DELETE FROM poll_due WHERE id = ?`, id);
      else this.sql.exec(`INSERT INTO poll_due (id, due) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET due = excluded.due`, id, due);
    }
    this.sql.exec(
      `DELETE FROM poll_due WHERE id IN (SELECT id FROM poll_due WHERE due < ? ORDER BY due LIMIT ?)`,
      now - STALE_MS,
      PRUNE_PER_RUN,
    );
  }
}
