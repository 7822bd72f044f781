/**
 * A MessageDO's SMS bookkeeping: its parts with their
 * SMSC ids and latest receipts, the receipts already applied, and how long to wait for
 * them. Reads and writes over the DO's SQLite storage, called inside the MessageDO's own
 * transactions; what must happen elsewhere (RefDO mappings) is returned for its outbox.
 */
import type { DeliveryState } from "../core/model.ts";
import { outcomeDetail } from "../core/outcome.ts";
import { aggregateReceipts } from "../core/sms/dlr.ts";
import type { MessageEffect } from "./message-effects.ts";
import type { Meta } from "./meta.ts";
import { LazyTables } from "./tables.ts";
import type { MessageView, ReceiptInput, TimelineEvent } from "./types.ts";

type PartRow = { segment: number; smsc_id: string; stat: string | null; err: string | null; at: string | null };
type PartReceipt = ReceiptInput & { segment: number; segments: number };

/** The outcome fields SMS bookkeeping reads; the rest of an event's detail is not its business. */
const smsRouting = outcomeDetail.pick({ route: true, routeType: true, bridgeRoute: true, smscIds: true, submitted: true });

export class SmsParts {
  private readonly sql: SqlStorage;
  private readonly meta: Meta;
  private readonly tables: LazyTables;

  constructor(sql: SqlStorage, meta: Meta) {
    this.sql = sql;
    this.meta = meta;
    // An SMS message's own tables: made with its first part, never for the other channels.
    this.tables = new LazyTables(
      sql,
      "part",
      `
      CREATE TABLE IF NOT EXISTS part (segment INTEGER PRIMARY KEY, smsc_id TEXT NOT NULL, stat TEXT, err TEXT, at TEXT);
      CREATE TABLE IF NOT EXISTS receipt (key TEXT PRIMARY KEY) WITHOUT ROWID;
    `,
    );
  }

  /** A transaction that may have made the tables rolled back. */
  forget(): void {
    this.tables.forget();
  }

  /** When to stop waiting for receipts (epoch ms) while the message is `accepted`; 0 otherwise. */
  deadline(status: DeliveryState): number {
    return status === "accepted" ? Number(this.meta.get("receipt_deadline") ?? 0) : 0;
  }

  /**
   * One recorded event of an SMS message: on its first `accepted`, keeps its parts' SMSC ids and the receipt deadline.
   * Returns the RefDO mappings to write, so each part's receipt finds its way back.
   */
  record(
    message: { id: string; account: string; status: DeliveryState },
    event: TimelineEvent,
    next: DeliveryState,
    waitSeconds: number,
  ): MessageEffect[] {
    // The detail came through the queue and RPC as JSON: read what we act on through the contract.
    const parsed = smsRouting.safeParse(event.detail);
    if (!parsed.success) {
      console.error(
        JSON.stringify({
          msg: "event detail breaks the outcome contract; no SMS bookkeeping",
          eventId: event.id,
          error: parsed.error.message,
        }),
      );
      return [];
    }
    const { route, smscIds, routeType, bridgeRoute } = parsed.data;
    if (event.type !== "accepted" || next !== "accepted" || message.status === "accepted") return [];
    const effects: MessageEffect[] = [];
    if (routeType === "smpp" && smscIds) {
      const segments = smscIds.length;
      this.tables.ensure();
      smscIds.forEach((smscId, i) => {
        this.sql.exec(`INSERT OR IGNORE INTO part (segment, smsc_id) VALUES (?, ?)`, i + 1, smscId);
        effects.push({
          kind: "ref",
          provider: `smpp:${bridgeRoute ?? route}`,
          providerMessageId: smscId,
          mapping: { account: message.account, messageId: message.id, segment: i + 1, segments },
        });
      });
    }
    if (waitSeconds > 0) this.meta.set("receipt_deadline", String(Date.parse(event.receivedAt) + waitSeconds * 1000));
    return effects;
  }

  /** Whether this receipt (part, stat and err) was applied already: a redelivered deliver_sm. */
  seen(input: PartReceipt): boolean {
    if (!this.tables.exist) return false;
    return this.sql.exec(`SELECT 1 FROM receipt WHERE key = ?`, receiptKey(input)).toArray().length > 0;
  }

  /**
   * Keeps one part's receipt (inside the caller's transaction) and returns the event the parts
   * now decide together, or null while that is still open. A multipart message is `delivered`
   * only when every part's receipt says DELIVRD; one UNDELIV or REJECTD part decides it at once.
   */
  receive(messageId: string, input: PartReceipt): TimelineEvent | null {
    const at = input.doneAt ?? input.receivedAt;
    this.tables.ensure();
    this.sql.exec(`INSERT INTO receipt (key) VALUES (?)`, receiptKey(input));
    this.sql.exec(
      `INSERT INTO part (segment, smsc_id, stat, err, at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (segment) DO UPDATE SET stat = excluded.stat, err = excluded.err, at = excluded.at`,
      input.segment,
      input.smscId,
      input.stat,
      input.err ?? null,
      at,
    );
    const parts = this.parts();
    const stats = Array.from({ length: input.segments }, (_, i) => parts.find((p) => p.segment === i + 1)?.stat ?? undefined) as Parameters<
      typeof aggregateReceipts
    >[1];
    const outcome = aggregateReceipts(input.segments, stats);
    if (!outcome) return null;
    return {
      id: `${messageId}:receipt:${outcome}`,
      type: outcome,
      occurredAt: at,
      receivedAt: input.receivedAt,
      provider: "smpp",
      detail: {
        reason: outcome === "delivered" ? "delivery_receipt" : input.stat.toLowerCase(),
        ...(outcome === "bounced" ? { class: "hard" } : {}),
        route: input.route,
        ...(input.err ? { err: input.err } : {}),
        ...(input.text ? { receipt: input.text } : {}),
        receipts: parts.map(receiptView),
      },
    };
  }

  /** What GET /v1/messages/:id shows of it. */
  view(status: DeliveryState): Pick<MessageView, "receipts" | "receiptDeadline"> {
    const parts = this.parts();
    const deadline = this.deadline(status);
    return {
      ...(parts.length > 0 ? { receipts: parts.map(receiptView) } : {}),
      ...(deadline ? { receiptDeadline: new Date(deadline).toISOString() } : {}),
    };
  }

  private parts(): PartRow[] {
    if (!this.tables.exist) return [];
    return this.sql.exec<PartRow>(`SELECT segment, smsc_id, stat, err, at FROM part ORDER BY segment`).toArray();
  }
}

function receiptKey(input: PartReceipt): string {
  return `${input.segment}:${input.stat}:${input.err ?? ""}`;
}

function receiptView(p: PartRow) {
  return {
    segment: p.segment,
    smscId: p.smsc_id,
    ...(p.stat ? { stat: p.stat } : {}),
    ...(p.err ? { err: p.err } : {}),
    ...(p.at ? { at: p.at } : {}),
  };
}
