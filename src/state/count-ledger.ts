/**
 * What a counter shard has already counted, so a count retried after its answer was lost
 * (the outbox runs an effect again when the call that made it failed) is not counted twice.
 *
 * A count names its subject (a message) and its place in that subject's outbox (`seq`). One
 * MessageDO drains its outbox one row at a time and in order, and performs the next only after
 * the previous one's delete is stored: a shard sees one message's counts in rising `seq`, so a
 * high-water mark per message is enough, not a row per count. A subject with no sequence (an
 * event counted once by its id) uses seq 0: its first count claims it.
 *
 * Marks are kept by the hour they were claimed in, `(hour, subject)`: a claim reads the window's
 * hours for its subject (point reads) and writes one row, and the hours past the window go a few
 * rows with each claim, oldest first, along the key itself. SQLite bills rows written, and an
 * index on the time a mark was last claimed would cost a second row each time it moved.
 */

/** How long a counted mark is kept: a lost answer is retried by the outbox's alarm within seconds
 * (OUTBOX_RETRY_MS); a day covers an outage of the caller's storage that the alarm outlives. */
export const COUNT_DEDUPE_MS = 24 * 3600_000;

/** Marks are kept per hour: one is kept for the window after its hour ends, so up to an hour longer. */
export const MARK_BUCKET_MS = 3600_000;

const WINDOW_BUCKETS = COUNT_DEDUPE_MS / MARK_BUCKET_MS;

/** Expired marks deleted per claim: more than the one a claim may add, so the table shrinks back. */
const PRUNE_PER_CLAIM = 4;

/** A count's identity: the subject it belongs to and its position among that subject's counts. */
export type CountKey = { subject: string; seq: number };

export class CountLedger {
  private readonly sql: SqlStorage;
  /** Shards made before the hourly marks keep their marks by subject (count_mark) for a day more. */
  private readonly legacy: boolean;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS count_mark_hour (
        hour INTEGER NOT NULL, subject TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (hour, subject)) WITHOUT ROWID;
    `);
    this.legacy = sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'count_mark'`).toArray().length > 0;
  }

  /** True the first time `key` is seen (the count goes ahead, the mark is kept in `now`'s hour); false for a retry. */
  claim(key: CountKey, now: number): boolean {
    if (this.counted(key, now)) return false;
    const hour = Math.floor(now / MARK_BUCKET_MS);
    this.sql.exec(
      `INSERT INTO count_mark_hour (hour, subject, seq) VALUES (?, ?, ?) ON CONFLICT (hour, subject) DO UPDATE SET seq = excluded.seq`,
      hour,
      key.subject,
      key.seq,
    );
    this.prune(now, PRUNE_PER_CLAIM);
    return true;
  }

  /** Whether `key` (or a later count of its subject) was counted within the window; writes nothing. */
  counted(key: CountKey, now: number): boolean {
    const hour = Math.floor(now / MARK_BUCKET_MS);
    const hours = Array.from({ length: WINDOW_BUCKETS + 1 }, (_, i) => hour - i);
    const mark = this.sql
      .exec<{ seq: number | null }>(
        `SELECT MAX(seq) AS seq FROM count_mark_hour WHERE subject = ? AND hour IN (${hours.map(() => "?").join(", ")})`,
        key.subject,
        ...hours,
      )
      .one().seq;
    if (mark !== null && mark >= key.seq) return true;
    if (!this.legacy) return false;
    const old = this.sql.exec<{ seq: number }>(`SELECT seq FROM count_mark WHERE subject = ?`, key.subject).toArray()[0];
    return old !== undefined && old.seq >= key.seq;
  }

  /** Deletes at most `limit` marks of the hours past the window. */
  prune(now: number, limit: number): void {
    const oldest = Math.floor(now / MARK_BUCKET_MS) - WINDOW_BUCKETS;
    this.sql.exec(
      `DELETE FROM count_mark_hour WHERE (hour, subject) IN (SELECT hour, subject FROM count_mark_hour WHERE hour < ? ORDER BY hour LIMIT ?)`,
      oldest,
      limit,
    );
    if (this.legacy)
      this.sql.exec(
        `DELETE FROM count_mark WHERE subject IN (SELECT subject FROM count_mark WHERE at < ? ORDER BY at LIMIT ?)`,
        now - COUNT_DEDUPE_MS,
        limit,
      );
  }

  /** Marks kept (tests and the bench read it). */
  size(): number {
    const n = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM count_mark_hour`).one().n;
    return this.legacy ? n + this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM count_mark`).one().n : n;
  }
}
