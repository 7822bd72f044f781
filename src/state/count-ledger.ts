/**
 * What a counter shard has already counted, so a count retried after its answer was lost
 * (the outbox runs an effect again when the call that made it failed) is not counted twice.
 *
 * A count names its subject (a message) and its place in that subject's outbox (`seq`). One
 * MessageDO drains its outbox one effect at a time and in order, and performs the next only
 * after the previous one's delete is stored: a shard sees one message's counts in rising
 * `seq`, so a high-water mark per message is enough, not a row per count. A subject with no
 * sequence (an event counted once by its id) uses seq 0: its first count claims it.
 *
 * Marks older than COUNT_DEDUPE_MS go, a few with each claim, oldest first (index on `at`):
 * the table holds the messages counted within the window, however many events they had.
 */

/** How long a counted mark is kept: a lost answer is retried by the outbox's alarm within seconds
 * (OUTBOX_RETRY_MS); a day covers an outage of the caller's storage that the alarm outlives. */
export const COUNT_DEDUPE_MS = 24 * 3600_000;

/** Expired marks deleted per claim: more than the one a claim may add, so the table shrinks back. */
const PRUNE_PER_CLAIM = 4;

/** A count's identity: the subject it belongs to and its position among that subject's counts. */
export type CountKey = { subject: string; seq: number };

export class CountLedger {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`
      CREATE TABLE IF NOT EXISTS count_mark (subject TEXT PRIMARY KEY, seq INTEGER NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS count_mark_at ON count_mark (at);
    `);
  }

  /** True the first time `key` is seen (the count goes ahead, the mark is kept at `now`); false for a retry. */
  claim(key: CountKey, now: number): boolean {
    const mark = this.sql.exec<{ seq: number }>(`SELECT seq FROM count_mark WHERE subject = ?`, key.subject).toArray()[0];
    if (mark && mark.seq >= key.seq) return false;
    this.sql.exec(
      `INSERT INTO count_mark (subject, seq, at) VALUES (?, ?, ?) ON CONFLICT (subject) DO UPDATE SET seq = excluded.seq, at = excluded.at`,
      key.subject,
      key.seq,
      now,
    );
    this.prune(now, PRUNE_PER_CLAIM);
    return true;
  }

  /** Deletes at most `limit` marks older than the window. */
  prune(now: number, limit: number): void {
    this.sql.exec(
      `DELETE FROM count_mark WHERE subject IN (SELECT subject FROM count_mark WHERE at < ? ORDER BY at LIMIT ?)`,
      now - COUNT_DEDUPE_MS,
      limit,
    );
  }

  /** Marks kept (tests and the bench read it). */
  size(): number {
    return this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM count_mark`).one().n;
  }
}
