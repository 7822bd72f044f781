/**
 * The account's webhook endpoints, a part of its ConfigDO: one row each, the secrets sealed
 * (AES-GCM, additional data `account/webhook:<id>`), every change audited in the same
 * transaction. The delivering objects (EndpointDO) read their endpoint from here.
 */
import type { Channel } from "../core/model.ts";
import { open, seal, type KeyRing } from "../core/config/secrets.ts";
import type { DisabledReason, EndpointCreate, EndpointInfo, EndpointPatch, EndpointTarget } from "../core/webhook-endpoint.ts";
import { MAX_ENDPOINTS_PER_ACCOUNT } from "../core/webhook-endpoint.ts";
import { rotateSecrets, type EndpointSecret } from "../core/webhook-secrets.ts";
import type { EndpointFilter } from "../core/webhook-events.ts";

type Row = {
  id: string;
  url: string;
  description: string | null;
  event_types: string | null;
  channels: string | null;
  rate: number | null;
  enabled: number;
  disabled_reason: DisabledReason | null;
  disabled_at: string | null;
  sealed: string;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
};

export type Audit = (action: string, target: string, change: unknown) => void;

export class WebhookEndpoints {
  private readonly sql: SqlStorage;
  private readonly storage: DurableObjectStorage;
  private readonly keys: () => Promise<KeyRing>;

  constructor(storage: DurableObjectStorage, keys: () => Promise<KeyRing>) {
    this.storage = storage;
    this.sql = storage.sql;
    this.keys = keys;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS webhook_endpoint (
        id TEXT PRIMARY KEY, url TEXT NOT NULL, description TEXT, event_types TEXT, channels TEXT, rate INTEGER,
        enabled INTEGER NOT NULL DEFAULT 1, disabled_reason TEXT, disabled_at TEXT, sealed TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, rotated_at TEXT);
    `);
  }

  private row(id: string): Row | undefined {
    return this.sql.exec<Row>("SELECT * FROM webhook_endpoint WHERE id = ?", id).toArray()[0];
  }

  private sealSecrets(account: string, id: string, secrets: EndpointSecret[]): Promise<string> {
    return this.keys().then((ring) => seal(ring, `${account}/webhook:${id}`, JSON.stringify(secrets)));
  }

  private async openSecrets(account: string, row: Row): Promise<EndpointSecret[]> {
    return JSON.parse(await open(await this.keys(), `${account}/webhook:${row.id}`, row.sealed)) as EndpointSecret[];
  }

  /** Adds an endpoint with its first secret; `limit` at MAX_ENDPOINTS_PER_ACCOUNT. */
  async create(account: string, id: string, input: EndpointCreate, secret: string, audit: Audit): Promise<EndpointInfo | "limit"> {
    const now = new Date().toISOString();
    const sealed = await this.sealSecrets(account, id, [{ secret, createdAt: now, expiresAt: null }]);
    if (this.count() >= MAX_ENDPOINTS_PER_ACCOUNT) return "limit";
    this.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO webhook_endpoint (id, url, description, event_types, channels, rate, sealed, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        id,
        input.url,
        input.description ?? null,
        input.eventTypes ? JSON.stringify(input.eventTypes) : null,
        input.channels ? JSON.stringify(input.channels) : null,
        input.rateLimitPerSecond ?? null,
        sealed,
        now,
        now,
      );
      audit("webhook_endpoint.create", id, { url: input.url, eventTypes: input.eventTypes ?? null, channels: input.channels ?? null });
    });
    return this.get(id)!;
  }

  count(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_endpoint").one().n;
  }

  list(): EndpointInfo[] {
    return this.sql.exec<Row>("SELECT * FROM webhook_endpoint ORDER BY created_at, id").toArray().map(info);
  }

  get(id: string): EndpointInfo | null {
    const row = this.row(id);
    return row ? info(row) : null;
  }

  /** What fan-out needs of every endpoint: which events it takes, and whether it is on. */
  filters(): Array<EndpointFilter & { id: string; enabled: boolean }> {
    return this.list().map((e) => ({ id: e.id, enabled: e.enabled, eventTypes: e.eventTypes, channels: e.channels }));
  }

  async target(account: string, id: string): Promise<EndpointTarget | null> {
    const row = this.row(id);
    return row ? { ...info(row), secrets: await this.openSecrets(account, row) } : null;
  }

  update(id: string, patch: EndpointPatch, audit: Audit): EndpointInfo | null {
    const before = this.get(id);
    if (!before) return null;
    const now = new Date().toISOString();
    const json = (v: readonly unknown[] | null | undefined) => (v === undefined ? undefined : v === null ? null : JSON.stringify(v));
    const set: Array<[string, unknown]> = [
      ["url", patch.url],
      ["description", patch.description],
      ["event_types", json(patch.eventTypes)],
      ["channels", json(patch.channels)],
      ["rate", patch.rateLimitPerSecond],
    ];
    if (patch.enabled !== undefined) {
      set.push(["enabled", patch.enabled ? 1 : 0], ["disabled_reason", patch.enabled ? null : "manual"]);
      set.push(["disabled_at", patch.enabled ? null : now]);
    }
    const changes = set.filter(([, v]) => v !== undefined);
    this.storage.transactionSync(() => {
      for (const [column, value] of changes) this.sql.exec(`UPDATE webhook_endpoint SET ${column} = ? WHERE id = ?`, value, id);
      this.sql.exec("UPDATE webhook_endpoint SET updated_at = ? WHERE id = ?", now, id);
      audit("webhook_endpoint.update", id, { before: pick(before, patch), after: patch });
    });
    return this.get(id);
  }

  /** Disabled by its deliveries (410, or failing for days): answers false when it was already off. */
  disable(id: string, reason: DisabledReason, at: string, audit: Audit): boolean {
    const row = this.row(id);
    if (!row || row.enabled === 0) return false;
    this.storage.transactionSync(() => {
      this.sql.exec(
        "UPDATE webhook_endpoint SET enabled = 0, disabled_reason = ?, disabled_at = ?, updated_at = ? WHERE id = ?",
        reason,
        at,
        at,
        id,
      );
      audit("webhook_endpoint.disable", id, { reason });
    });
    return true;
  }

  delete(id: string, audit: Audit): boolean {
    const row = this.row(id);
    if (!row) return false;
    this.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM webhook_endpoint WHERE id = ?", id);
      audit("webhook_endpoint.delete", id, { url: row.url });
    });
    return true;
  }

  /** A new current secret; the previous ones still sign for 24 hours (at most 5 kept). */
  async rotate(account: string, id: string, fresh: string, audit: Audit): Promise<EndpointInfo | null> {
    const row = this.row(id);
    if (!row) return null;
    const now = Date.now();
    const secrets = rotateSecrets(await this.openSecrets(account, row), fresh, now);
    const sealed = await this.sealSecrets(account, id, secrets);
    const at = new Date(now).toISOString();
    // Another rotation may have committed while this one sealed: the later write must include it.
    if (this.row(id)?.sealed !== row.sealed) return this.rotate(account, id, fresh, audit);
    this.storage.transactionSync(() => {
      this.sql.exec("UPDATE webhook_endpoint SET sealed = ?, rotated_at = ?, updated_at = ? WHERE id = ?", sealed, at, at, id);
      audit("webhook_endpoint.rotate_secret", id, { oldSecretsKept: secrets.length - 1 });
    });
    return this.get(id);
  }
}

function info(row: Row): EndpointInfo {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types ? (JSON.parse(row.event_types) as string[]) : null,
    channels: row.channels ? (JSON.parse(row.channels) as Channel[]) : null,
    rateLimitPerSecond: row.rate,
    enabled: row.enabled === 1,
    disabledReason: row.disabled_reason,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    secretRotatedAt: row.rotated_at,
  };
}

/** The fields of `before` a patch names, for the audit entry. */
function pick(before: EndpointInfo, patch: EndpointPatch): Record<string, unknown> {
  return Object.fromEntries(Object.keys(patch).map((k) => [k, before[k as keyof EndpointInfo]]));
}
