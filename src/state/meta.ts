/**
 * A Durable Object's few named values (a flag, a pin, a deadline), in its SQLite storage so
 * they commit in the same transaction as the rows they describe.
 */
export const META_DDL = `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`;

export class Meta {
  private readonly sql: SqlStorage;

  /** `create`: false when the owner makes the table itself (META_DDL), on its first write. */
  constructor(sql: SqlStorage, create = true) {
    this.sql = sql;
    if (create) sql.exec(META_DDL);
  }

  get(key: string): string | undefined {
    return this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = ?`, key).toArray()[0]?.value;
  }

  set(key: string, value: string): void {
    this.sql.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value);
  }

  delete(key: string): void {
    this.sql.exec(`DELETE FROM meta WHERE key = ?`, key);
  }
}
