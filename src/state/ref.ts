import { DurableObject } from "cloudflare:workers";
import { messageStub } from "./stubs.ts";
import type { ReceiptInput, ReceiptResult, RefMapping } from "./types.ts";

/** A receipt nobody claims is kept this long, then dropped with a log line. */
const PARKED_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * One provider message id (`account:provider:id`, e.g. an SMSC's id for one part) → our
 * message and part. The mapping is written when the send result reaches the edge; a receipt
 * that arrives before it (SMSCs race their own submit_sm_resp) is parked here and applied
 * when the mapping lands. Parked receipts are deleted only after their MessageDO took them.
 */
export class RefDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS mapping (account TEXT NOT NULL, message_id TEXT NOT NULL, segment INTEGER NOT NULL, segments INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS parked (key TEXT PRIMARY KEY, receipt TEXT NOT NULL, at INTEGER NOT NULL);
    `);
  }

  /** Writes the mapping (idempotent) and hands over whatever was parked. */
  async map(mapping: RefMapping): Promise<number> {
    if (!this.mapping()) {
      this.sql.exec(
        `INSERT INTO mapping (account, message_id, segment, segments) VALUES (?, ?, ?, ?)`,
        mapping.account,
        mapping.messageId,
        mapping.segment,
        mapping.segments,
      );
    }
    const parked = this.sql.exec<{ key: string; receipt: string }>(`SELECT key, receipt FROM parked ORDER BY at`).toArray();
    for (const { key, receipt } of parked) {
      await this.forward(JSON.parse(receipt) as ReceiptInput);
      this.sql.exec(`DELETE FROM parked WHERE key = ?`, key);
    }
    return parked.length;
  }

  /** Applies a receipt to its message, or parks it until the mapping arrives. */
  async receipt(input: ReceiptInput): Promise<ReceiptResult> {
    if (this.mapping()) return this.forward(input);
    this.sql.exec(
      `INSERT OR IGNORE INTO parked (key, receipt, at) VALUES (?, ?, ?)`,
      `${input.stat}:${input.err ?? ""}`,
      JSON.stringify(input),
      Date.now(),
    );
    await this.ctx.storage.setAlarm(Date.now() + PARKED_TTL_MS);
    return { kind: "parked" };
  }

  override async alarm(): Promise<void> {
    if (this.mapping()) return;
    const n = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM parked`).one().n;
    if (n > 0) console.warn(JSON.stringify({ msg: "parked receipts never matched a message; dropping them", count: n }));
    this.sql.exec(`DELETE FROM parked`);
  }

  private async forward(input: ReceiptInput): Promise<ReceiptResult> {
    const m = this.mapping()!;
    const stub = messageStub(this.env, m.account, m.message_id);
    return (await stub.applyReceipt({ ...input, segment: m.segment, segments: m.segments })) as unknown as ReceiptResult;
  }

  private mapping() {
    return this.sql
      .exec<{ account: string; message_id: string; segment: number; segments: number }>(`SELECT * FROM mapping LIMIT 1`)
      .toArray()[0];
  }
}
