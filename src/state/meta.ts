/**
 * A Durable Object's few named values (a flag, a pin, a deadline), in its SQLite storage so
 * they commit in the same transaction as the rows they describe.
 */
export class Meta {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`);
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
