/**
 * Tables made on an object's first write, not when it opens. SQLite bills a schema's rows like
 * any other row written, and an object that is only ever read (a recipient checked before each
 * send that never bounces, a message asked for under another account, an SMS message's parts on
 * an email) should write nothing. Once seen, the tables are known to be there (nothing drops them);
 * a caller whose transaction made them and then rolled back calls `forget()`.
 */
export class LazyTables {
  private readonly sql: SqlStorage;
  private readonly first: string;
  private readonly ddl: string;
  private known = false;

  /** `first`: a table `ddl` creates, the one whose presence says the schema is there. */
  constructor(sql: SqlStorage, first: string, ddl: string) {
    this.sql = sql;
    this.first = first;
    this.ddl = ddl;
  }

  get exist(): boolean {
    if (!this.known)
      this.known = this.sql.exec(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?`, this.first).toArray().length > 0;
    return this.known;
  }

  /** Makes the tables if they are not there yet; call it before a write. */
  ensure(): void {
    if (this.exist) return;
    // One statement at a time: a cursor over several reports the last one's rows written only, and
    // the meter (state/meter.ts) counts what each statement writes, the schema's rows included.
    for (const statement of this.ddl.split(";").filter((s) => s.trim())) this.sql.exec(statement);
    this.known = true;
  }

  /** The transaction that may have made them rolled back: ask again next time. */
  forget(): void {
    this.known = false;
  }
}
