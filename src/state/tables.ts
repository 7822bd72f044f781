/**
 * Tables made on an object's first write, not when it opens. SQLite bills a schema's rows like
 * any other row written, and an object that is only ever read (a recipient checked before each
 * send that never bounces, an SMS message's parts on an email) should write nothing. Whether the
 * tables exist is read each time (a row read, not a cached flag), so a transaction that made them
 * and rolled back leaves no wrong belief behind.
 */
export class LazyTables {
  private readonly sql: SqlStorage;
  private readonly first: string;
  private readonly ddl: string;

  /** `first`: a table `ddl` creates, the one whose presence says the schema is there. */
  constructor(sql: SqlStorage, first: string, ddl: string) {
    this.sql = sql;
    this.first = first;
    this.ddl = ddl;
  }

  get exist(): boolean {
    return this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, this.first).toArray().length > 0;
  }

  /** Makes the tables if they are not there yet; call it before a write. */
  ensure(): void {
    if (!this.exist) this.sql.exec(this.ddl);
  }
}
