/**
 * A part of AccountDO: retention over the search index this shard keeps (whole messages at
 * `timelineDays`, bodies at `bodyDays`) and the MO inbox, in bounded batches, and the index
 * side of a recipient's erasure. The messages themselves are purged in their MessageDOs first,
 * and only then their index rows go: a crash in between finds them again on the next pass.
 */
import { retentionCutoffs, type Retention } from "../core/retention.ts";
import { Meta } from "./meta.ts";
import { messageStub } from "./stubs.ts";

/** Messages one pass purges (and bodies it drops) before handing over to the next alarm. */
export const RETENTION_BATCH = 200;
/** MessageDO calls in flight at once during a pass. */
const PARALLEL = 20;

export type IndexedMessage = { id: string; createdAt: string; provider: string | null; providerMessageId: string | null };

export class Retainer {
  private readonly sql: SqlStorage;
  private readonly env: Env;
  private readonly meta: Meta;

  constructor(sql: SqlStorage, env: Env) {
    this.sql = sql;
    this.env = env;
    this.meta = new Meta(sql);
    sql.exec(`CREATE INDEX IF NOT EXISTS message_tag_created ON message_tag (created_at, id)`);
  }

  /** Keeps the account's policy (and a pass's size: tests make it small) for the alarm's passes. */
  setPolicy(account: string, policy: Retention, batch = RETENTION_BATCH): void {
    this.meta.set("retention_account", account);
    this.meta.set("retention_policy", JSON.stringify(policy));
    this.meta.set("retention_batch", String(batch));
  }

  /** One bounded pass at `now`; true when more is due (the caller re-arms at once). */
  async pass(now: number): Promise<boolean> {
    const account = this.meta.get("retention_account");
    const policy = this.meta.get("retention_policy");
    if (!account || !policy) return false;
    const { bodiesBefore, timelinesBefore } = retentionCutoffs(JSON.parse(policy) as Retention, now);
    const batch = Number(this.meta.get("retention_batch") ?? RETENTION_BATCH);

    // A message still waiting for its sendAt (≤ 72 h, under a 1-day policy) is kept until it went.
    const expired = this.sql
      .exec<{ id: string }>(
        `SELECT id FROM message_index WHERE created_at < ? AND status != 'scheduled' ORDER BY created_at, id LIMIT ?`,
        timelinesBefore,
        batch,
      )
      .toArray()
      .map((r) => r.id);
    await inBatches(expired, (id) => messageStub(this.env, account, id).purge());
    this.unindex(expired);

    // Bodies go in created order behind a cursor, so a pass never looks at a row twice.
    const cursor = JSON.parse(this.meta.get("retention_body_cursor") ?? '["", ""]') as [string, string];
    const bodies = this.sql
      .exec<{ id: string; created_at: string }>(
        `SELECT id, created_at FROM message_index WHERE created_at < ? AND (created_at, id) > (?, ?) ORDER BY created_at, id LIMIT ?`,
        bodiesBefore,
        cursor[0],
        cursor[1],
        batch,
      )
      .toArray();
    await inBatches(bodies, (row) => messageStub(this.env, account, row.id).expireBody());
    const last = bodies.at(-1);
    if (last) this.meta.set("retention_body_cursor", JSON.stringify([last.created_at, last.id]));

    // The MO inbox: bodies blanked, then whole entries, a bounded batch each.
    this.sql.exec(
      `UPDATE inbound_sms SET body = '' WHERE seq IN (SELECT seq FROM inbound_sms WHERE received_at < ? AND body != '' LIMIT ?)`,
      bodiesBefore,
      batch * 5,
    );
    const inbox = this.sql.exec(
      `DELETE FROM inbound_sms WHERE seq IN (SELECT seq FROM inbound_sms WHERE received_at < ? LIMIT ?)`,
      timelinesBefore,
      batch * 5,
    ).rowsWritten;
    return expired.length === batch || bodies.length === batch || inbox >= batch * 5;
  }

  /** The indexed messages of these recipient keys, at most `limit`. */
  messagesOf(keys: readonly string[], limit: number): IndexedMessage[] {
    if (keys.length === 0) return [];
    return this.sql
      .exec<{ id: string; created_at: string; provider: string | null; provider_message_id: string | null }>(
        `SELECT id, created_at, provider, provider_message_id FROM message_index WHERE recipient_key IN (${keys.map(() => "?").join(", ")}) LIMIT ?`,
        ...keys,
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, createdAt: r.created_at, provider: r.provider, providerMessageId: r.provider_message_id }));
  }

  /** Index rows and their tags go. */
  unindex(ids: readonly string[]): void {
    for (const id of ids) {
      const row = this.sql.exec<{ created_at: string }>(`SELECT created_at FROM message_index WHERE id = ?`, id).toArray()[0];
      if (!row) continue;
      this.sql.exec(`DELETE FROM message_tag WHERE created_at = ? AND id = ?`, row.created_at, id);
      this.sql.exec(`DELETE FROM message_index WHERE id = ?`, id);
    }
  }

  /** An erased number's MO messages go from the inbox; the count of them. */
  eraseInbound(sender: string): number {
    return this.sql.exec(`DELETE FROM inbound_sms WHERE sender = ?`, sender).rowsWritten;
  }
}

async function inBatches<T>(items: readonly T[], call: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += PARALLEL) await Promise.all(items.slice(i, i + PARALLEL).map(call));
}
