/**
 * AccountDO's part that remembers each send batch's members, so `POST
 * /v1/messages/batches/{id}/cancel` can find them: one row per batch (its ids as one JSON
 * array: SQLite bills rows written, not bytes), in the account's own object, so a batch id is
 * only ever looked up under the account that made it. Rows live BATCH_KEEP_MS, long past the
 * last moment anything in them can still be canceled (72 h), and a few expired ones are pruned
 * with each new batch.
 */
import { LazyTables } from "./tables.ts";

export const BATCH_KEEP_MS = 7 * 24 * 3600_000;
const PRUNE_PER_WRITE = 10;

const BATCH_DDL = `CREATE TABLE IF NOT EXISTS batch (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, members TEXT NOT NULL) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS batch_expires ON batch (expires_at);`;

export class Batches {
  private readonly sql: SqlStorage;
  private readonly tables: LazyTables;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    this.tables = new LazyTables(sql, "batch", BATCH_DDL);
  }

  /** Keeps a batch's message ids; a replayed batch (same id) adds the ids it did not have. */
  record(id: string, members: string[], now: number): void {
    this.tables.ensure();
    const known = this.members(id) ?? [];
    const all = [...new Set([...known, ...members])];
    this.sql.exec(
      `INSERT INTO batch (id, expires_at, members) VALUES (?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET members = excluded.members`,
      id,
      now + BATCH_KEEP_MS,
      JSON.stringify(all),
    );
    this.sql.exec(
      `DELETE FROM batch WHERE id IN (SELECT id FROM batch WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
      now,
      PRUNE_PER_WRITE,
    );
  }

  /** The batch's message ids, or null for a batch this account never made (or one long expired). */
  members(id: string): string[] | null {
    if (!this.tables.exist) return null;
    const row = this.sql.exec<{ members: string }>(`SELECT members FROM batch WHERE id = ?`, id).toArray()[0];
    return row ? (JSON.parse(row.members) as string[]) : null;
  }
}
