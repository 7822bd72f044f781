import { DurableObject } from "cloudflare:workers";
import { MAX_TEMPLATES_PER_ACCOUNT, type StoredTemplate, type TemplateContent } from "../core/template.ts";
import { metered, meteredSql } from "./meter.ts";
import { LazyTables } from "./tables.ts";

/**
 * A name's row outlives a delete (`deleted` 1, `latest` kept): a template made again under the
 * same name goes on from the next version, so `{name, version}` on a message always names the
 * content it was rendered from, never a later template's.
 */
const TEMPLATE_DDL = `
  CREATE TABLE IF NOT EXISTS template (
    name TEXT PRIMARY KEY, latest INTEGER NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS template_version (
    name TEXT NOT NULL, version INTEGER NOT NULL, subject TEXT NOT NULL, text TEXT, html TEXT,
    created_at TEXT NOT NULL, PRIMARY KEY (name, version)) WITHOUT ROWID;
`;

type NameRow = { name: string; latest: number; deleted: number; created_at: string; updated_at: string };
type VersionRow = { name: string; version: number; subject: string; text: string | null; html: string | null; created_at: string };

export type TemplateSummary = { name: string; version: number; subject: string; createdAt: string; updatedAt: string };
export type SaveResult = { kind: "saved"; template: StoredTemplate } | { kind: "exists" } | { kind: "not_found" } | { kind: "limit" };

/**
 * One account's email templates (`account:templates`), every version kept. The content was
 * validated (parsed by Mustache) before it reaches here; this object only keeps it.
 */
export class TemplateDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly tables: LazyTables;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    // Made on the first save: an account that never saves a template (or a send naming one it
    // does not have) writes nothing here.
    this.tables = new LazyTables(this.sql, "template", TEMPLATE_DDL);
  }

  /** Version 1 of a new name (or the next one after a delete); `exists` while the name is live. */
  async create(name: string, content: TemplateContent): Promise<SaveResult> {
    this.tables.ensure();
    const row = this.nameRow(name);
    if (row && !row.deleted) return { kind: "exists" };
    const live = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM template WHERE deleted = 0`).one().n;
    if (live >= MAX_TEMPLATES_PER_ACCOUNT) return { kind: "limit" };
    return { kind: "saved", template: this.write(name, (row?.latest ?? 0) + 1, content, row ?? null) };
  }

  /** A new version of a live template; the older ones stay readable. */
  async update(name: string, content: TemplateContent): Promise<SaveResult> {
    const row = this.tables.exist ? this.nameRow(name) : undefined;
    if (!row || row.deleted) return { kind: "not_found" };
    return { kind: "saved", template: this.write(name, row.latest + 1, content, row) };
  }

  /** A live template's latest version, or the version asked for. */
  async get(name: string, version?: number): Promise<StoredTemplate | null> {
    if (!this.tables.exist) return null;
    const row = this.nameRow(name);
    if (!row || row.deleted) return null;
    const found = this.sql
      .exec<VersionRow>(`SELECT * FROM template_version WHERE name = ? AND version = ?`, name, version ?? row.latest)
      .toArray()[0];
    return found ? stored(found) : null;
  }

  /** Every live template at its latest version, by name; bodies left out (GET one for them). */
  async list(): Promise<TemplateSummary[]> {
    if (!this.tables.exist) return [];
    return this.sql
      .exec<NameRow & { subject: string }>(
        `SELECT t.name, t.latest, t.created_at, t.updated_at, v.subject FROM template t
         JOIN template_version v ON v.name = t.name AND v.version = t.latest WHERE t.deleted = 0 ORDER BY t.name`,
      )
      .toArray()
      .map((r) => ({ name: r.name, version: r.latest, subject: r.subject, createdAt: r.created_at, updatedAt: r.updated_at }));
  }

  /** Deletes every version; the name's version counter stays (see TEMPLATE_DDL). */
  async remove(name: string): Promise<boolean> {
    if (!this.tables.exist) return false;
    const row = this.nameRow(name);
    if (!row || row.deleted) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(`DELETE FROM template_version WHERE name = ?`, name);
      this.sql.exec(`UPDATE template SET deleted = 1, updated_at = ? WHERE name = ?`, new Date().toISOString(), name);
    });
    return true;
  }

  private write(name: string, version: number, content: TemplateContent, row: NameRow | null): StoredTemplate {
    const now = new Date().toISOString();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO template_version (name, version, subject, text, html, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        name,
        version,
        content.subject,
        content.text ?? null,
        content.html ?? null,
        now,
      );
      this.sql.exec(
        `INSERT INTO template (name, latest, deleted, created_at, updated_at) VALUES (?, ?, 0, ?, ?)
         ON CONFLICT (name) DO UPDATE SET latest = excluded.latest, deleted = 0, created_at = excluded.created_at, updated_at = excluded.updated_at`,
        name,
        version,
        // A name made again after a delete is a new template: its creation time starts over.
        row && !row.deleted ? row.created_at : now,
        now,
      );
    });
    return {
      name,
      version,
      subject: content.subject,
      ...(content.text !== undefined ? { text: content.text } : {}),
      ...(content.html !== undefined ? { html: content.html } : {}),
      createdAt: now,
    };
  }

  private nameRow(name: string): NameRow | undefined {
    return this.sql.exec<NameRow>(`SELECT * FROM template WHERE name = ?`, name).toArray()[0];
  }
}

function stored(row: VersionRow): StoredTemplate {
  return {
    name: row.name,
    version: row.version,
    subject: row.subject,
    ...(row.text !== null ? { text: row.text } : {}),
    ...(row.html !== null ? { html: row.html } : {}),
    createdAt: row.created_at,
  };
}
