/**
 * A message's timeline: every event it was told about, in arrival order, each once (the id
 * is unique, so a replayed webhook or a redelivered queue message adds nothing).
 */
import type { EventType } from "../core/model.ts";
import type { TimelineEvent } from "./types.ts";

type EventRow = { id: string; type: EventType; occurred_at: string; received_at: string; provider: string; detail: string };

// Keyed by the event id alone (one row written per event, no second index): a message's handful
// of events are read whole, in `seq` order. Objects made before this keep their older table
// (seq AUTOINCREMENT, id UNIQUE), which the same statements serve.
export const TIMELINE_DDL = `
  CREATE TABLE IF NOT EXISTS event (
    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, type TEXT NOT NULL,
    occurred_at TEXT NOT NULL, received_at TEXT NOT NULL, provider TEXT NOT NULL, detail TEXT NOT NULL) WITHOUT ROWID;
`;

export class Timeline {
  private readonly sql: SqlStorage;

  /** The owner makes the table (TIMELINE_DDL) with its own, on its first write. */
  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  has(id: string): boolean {
    return this.sql.exec(`SELECT 1 FROM event WHERE id = ?`, id).toArray().length > 0;
  }

  add(e: TimelineEvent): void {
    this.sql.exec(
      `INSERT INTO event (id, seq, type, occurred_at, received_at, provider, detail)
       VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM event), ?, ?, ?, ?, ?)`,
      e.id,
      e.type,
      e.occurredAt,
      e.receivedAt,
      e.provider,
      JSON.stringify(e.detail),
    );
  }

  /** The detail of the first or the latest event of a type. */
  detailOf(type: EventType, which: "first" | "last"): Record<string, unknown> | undefined {
    const row = this.sql
      .exec<{ detail: string }>(`SELECT detail FROM event WHERE type = ? ORDER BY seq ${which === "first" ? "ASC" : "DESC"} LIMIT 1`, type)
      .toArray()[0];
    return row ? (JSON.parse(row.detail) as Record<string, unknown>) : undefined;
  }

  /** When the first event of a type happened (its `occurredAt`), if there is one. */
  firstAt(type: EventType): string | undefined {
    return this.sql.exec<{ occurred_at: string }>(`SELECT occurred_at FROM event WHERE type = ? ORDER BY seq LIMIT 1`, type).toArray()[0]
      ?.occurred_at;
  }

  /** How many opens or clicks (of this link, for clicks) were a person's: `detail.machine` false. */
  humanCount(type: "opened" | "clicked", link?: number): number {
    return this.sql
      .exec<{ n: number }>(
        `SELECT COUNT(*) AS n FROM event WHERE type = ? AND json_extract(detail, '$.machine') = 0
           AND (?2 IS NULL OR json_extract(detail, '$.link') = ?2)`,
        type,
        link ?? null,
      )
      .one().n;
  }

  list(): TimelineEvent[] {
    return this.sql
      .exec<EventRow>(`SELECT id, type, occurred_at, received_at, provider, detail FROM event ORDER BY seq`)
      .toArray()
      .map((e) => ({
        id: e.id,
        type: e.type,
        occurredAt: e.occurred_at,
        receivedAt: e.received_at,
        provider: e.provider,
        detail: JSON.parse(e.detail) as Record<string, unknown>,
      }));
  }
}
