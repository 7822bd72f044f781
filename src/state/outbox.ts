/**
 * A transactional outbox over a Durable Object's SQLite storage. Side effects are pushed in
 * the same transaction as the state change they follow and performed, in order, after it
 * commits. One that fails stays first in line and the object's alarm drains again later, so
 * a crash or an outage between a state change and its effects delays them instead of losing
 * them.
 *
 * The effects a transaction pushes inside `collect` share one row (SQLite bills rows written:
 * one insert and one delete per transaction, not per effect) and are performed together, so the
 * owner can fold them (one counter call, one event-stream message). Delivery is at least once: a
 * drain cut short performs the row that was in flight again, whole. Rows are performed one at a
 * time in `seq` order, and a row's `seq` is the same each time it is tried, so a receiver can make
 * an effect exactly once by keeping the highest `seq` it took (state/count-ledger.ts).
 */

/** How long a failed effect waits before the alarm tries the outbox again. */
export const OUTBOX_RETRY_MS = 5_000;

/** The owner makes the table with its own, on its first write (an object that only reads has none). */
export const OUTBOX_DDL = `CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL);`;

export class Outbox<Item> {
  private readonly sql: SqlStorage;
  private readonly perform: (items: Item[], seq: number) => Promise<void>;
  private readonly retryAt: (at: number) => Promise<void>;
  private draining?: Promise<void>;
  private collecting?: Item[];
  /** Whether the owner's tables (the outbox's among them) exist yet. */
  private readonly ready: () => boolean;

  /**
   * `perform` takes one row's effects, in the order they were pushed; `retryAt` arms the alarm
   * that will call flush() again (the owner may share it with other deadlines); `ready` says
   * whether the owner has made its tables yet (before, there is nothing to drain).
   */
  constructor(
    sql: SqlStorage,
    perform: (items: Item[], seq: number) => Promise<void>,
    retryAt: (at: number) => Promise<void>,
    ready: () => boolean,
  ) {
    this.sql = sql;
    this.ready = ready;
    this.perform = perform;
    this.retryAt = retryAt;
  }

  /** Records an effect; call it inside the transaction that makes the change it follows. */
  push(item: Item): void {
    if (this.collecting) this.collecting.push(item);
    else this.sql.exec(`INSERT INTO outbox (item) VALUES (?)`, JSON.stringify([item]));
  }

  /**
   * Runs `fn` (inside the caller's transaction) with every effect it pushes written as one row
   * when it returns. Nested calls join the outer one.
   */
  collect<T>(fn: () => T): T {
    if (this.collecting) return fn();
    const items: Item[] = [];
    this.collecting = items;
    try {
      const result = fn();
      if (items.length > 0) this.sql.exec(`INSERT INTO outbox (item) VALUES (?)`, JSON.stringify(items));
      return result;
    } finally {
      this.collecting = undefined;
    }
  }

  /** Whether a drain is running: it will also perform whatever is pushed before it ends. */
  get busy(): boolean {
    return this.draining !== undefined;
  }

  /** Whether no effect is waiting. */
  get empty(): boolean {
    if (!this.ready()) return true;
    return this.sql.exec(`SELECT 1 FROM outbox LIMIT 1`).toArray().length === 0;
  }

  /** Performs the outbox in order; one drain at a time, a failure leaves the rest to the alarm. */
  flush(): Promise<void> {
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drain(): Promise<void> {
    if (!this.ready()) return;
    for (;;) {
      const next = this.sql.exec<{ seq: number; item: string }>(`SELECT seq, item FROM outbox ORDER BY seq LIMIT 1`).toArray()[0];
      if (!next) return;
      // A row written before rows held several effects is one effect alone.
      const stored = JSON.parse(next.item) as Item | Item[];
      try {
        await this.perform(Array.isArray(stored) ? stored : [stored], next.seq);
      } catch (err) {
        console.error(JSON.stringify({ msg: "outbox item failed; retrying from the alarm", error: String(err) }));
        await this.retryAt(Date.now() + OUTBOX_RETRY_MS);
        return;
      }
      this.sql.exec(`DELETE FROM outbox WHERE seq = ?`, next.seq);
    }
  }
}
