import { DurableObject } from "cloudflare:workers";
import { meterAlarm, metered, meteredSql } from "./meter.ts";

/**
 * Signed deliveries already seen, for the schemes whose signature does not cover a delivery id
 * we could dedupe on later (Mailgun's token). Named `account:provider:<shard>`: an account's
 * tokens spread over REPLAY_SHARDS objects, so a busy webhook is not one hot object. A key is
 * kept for its TTL (the signature's own freshness window), then forgotten.
 */
export class ReplayDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, until INTEGER NOT NULL)`);
  }

  /** True the first time `key` is claimed within its TTL; false for a replay. */
  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    const now = Date.now();
    // Bounded clean-up on the way: expired keys go a hundred at a time, never a long scan.
    this.sql.exec(`DELETE FROM seen WHERE key IN (SELECT key FROM seen WHERE until < ? LIMIT 100)`, now);
    const fresh = this.sql.exec(`INSERT OR IGNORE INTO seen (key, until) VALUES (?, ?)`, key, now + ttlSeconds * 1000).rowsWritten > 0;
    if (fresh && (await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + ttlSeconds * 1000);
    return fresh;
  }

  /** Forgets a claim whose request was not taken after all, so the sender's retry is not a "replay". */
  async release(key: string): Promise<void> {
    this.sql.exec(`DELETE FROM seen WHERE key = ?`, key);
  }

  override async alarm(): Promise<void> {
    meterAlarm(this.env, "REPLAYS");
    const now = Date.now();
    this.sql.exec(`DELETE FROM seen WHERE until < ?`, now);
    const next = this.sql.exec<{ until: number | null }>(`SELECT MIN(until) AS until FROM seen`).one().until;
    if (next !== null) await this.ctx.storage.setAlarm(next + 1);
  }
}
