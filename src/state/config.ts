import { DurableObject } from "cloudflare:workers";
import type { KeyGrant, Scope } from "../core/config/keys.ts";
import { DEFAULT_RATE_PER_SECOND } from "../core/config/keys.ts";
import type { AccountRuntime, DomainKeys } from "../core/config/runtime.ts";
import { masked } from "../core/config/sections.ts";
import { MAX_DOMAINS_PER_ACCOUNT, type DomainInfo, type DomainPublicKey, type DomainRecord, type DomainStatus } from "../core/domains.ts";
import { keyRing, open, seal, sealedWith, type KeyRing } from "../core/config/secrets.ts";
import { seedAccounts } from "../core/config/seed.ts";
import type { DisabledReason, EndpointCreate, EndpointInfo, EndpointPatch, EndpointTarget } from "../core/webhook-endpoint.ts";
import { WebhookEndpoints } from "./webhook-endpoints.ts";
import { metered, meteredSql } from "./meter.ts";

export type AccountInfo = { id: string; name: string; createdAt: string; disabled: boolean };
export type KeyRecord = {
  id: string;
  name: string;
  prefix: string;
  scopes: Scope[];
  ratePerSecond: number;
  createdAt: string;
  lastUsedAt: string | null;
};
export type AuditEntry = { seq: number; at: string; actor: string; action: string; target: string; change: unknown };
export type AuditPage = { items: AuditEntry[]; nextCursor: string | null };
/** Who made a change: a key id, `admin` (the platform key) or `seed`. */
export type Actor = string;
export type Grant = Omit<KeyGrant, "account"> | { disabled: true } | null;

/** The domain row's `record` column: everything but the private keys (those are in `sealed`). */
type DomainRecordColumn = { keys: DomainPublicKey[]; records: DomainRecord[]; status: DomainStatus; checkedAt: string | null };
type DomainRow = { domain: string; record: string; sealed: string; verified_at: string | null; created_at: string };

type KeyRow = {
  id: string;
  hash: string;
  name: string;
  prefix: string;
  scopes: string;
  rate: number;
  created_at: string;
  last_used_at: string | null;
};

/** Seeded keys are the deployment's own: every scope. */
const ALL_SCOPES: Scope[] = ["send", "read", "suppressions:write", "config:write", "keys:write"];

/**
 * One account's configuration (named by the account id): the account row, its API keys (as
 * SHA-256), its configuration sections (sealed with AES-GCM, a masked copy kept for reads) and
 * the audit log of every change, each change and its audit entry in one transaction.
 *
 * Why a Durable Object per account rather than D1: every read on the hot path is one account's
 * (a key, a section), every write is one account's and must be ordered with its audit entry,
 * and a DO per account gives both, strongly consistent and close to the caller, with no shared
 * database for all tenants to contend on. The few cross-account lookups (key hash → account,
 * bounce domain and SMS sender → account, the admin list) live in DirectoryDO.
 */
export class ConfigDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private ring?: Promise<KeyRing>;
  private seeded = false;
  private readonly endpoints: WebhookEndpoints;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS account (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS api_key (
        id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, name TEXT NOT NULL, prefix TEXT NOT NULL, scopes TEXT NOT NULL,
        rate INTEGER NOT NULL, created_at TEXT NOT NULL, last_used_at TEXT);
      CREATE TABLE IF NOT EXISTS section (name TEXT PRIMARY KEY, sealed TEXT NOT NULL, masked TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS domain (
        domain TEXT PRIMARY KEY, record TEXT NOT NULL, sealed TEXT NOT NULL, verified_at TEXT, created_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, change TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS seeded (account TEXT PRIMARY KEY);
    `);
    this.endpoints = new WebhookEndpoints(ctx.storage, () => this.keys());
  }

  private keys(): Promise<KeyRing> {
    this.ring ??= keyRing(this.env.CONFIG_KEYS);
    return this.ring;
  }

  /**
   * The first call for a seeded account writes its seed through the same methods the API uses,
   * once: afterwards the store alone is the truth.
   */
  private async seed(account: string): Promise<void> {
    if (this.seeded) return;
    this.seeded = true;
    if (this.sql.exec("SELECT 1 FROM seeded WHERE account = ?", account).toArray().length > 0) return;
    const seed = seedAccounts(this.env).get(account);
    if (seed && this.sql.exec("SELECT 1 FROM account").toArray().length === 0) {
      this.insertAccount(account, account, "seed");
      for (const [n, hash] of seed.keyHashes.entries()) {
        this.insertKey(
          { id: `key_seed${n}`, hash, name: "seeded key", prefix: "…", scopes: ALL_SCOPES, ratePerSecond: DEFAULT_RATE_PER_SECOND },
          "seed",
        );
      }
      if (seed.email) await this.writeSection(account, "email", seed.email, "seed");
      if (seed.sms) await this.writeSection(account, "sms", seed.sms, "seed");
    }
    this.sql.exec("INSERT OR IGNORE INTO seeded (account) VALUES (?)", account);
  }

  private audit(actor: Actor, action: string, target: string, change: unknown): void {
    this.sql.exec(
      "INSERT INTO audit (at, actor, action, target, change) VALUES (?, ?, ?, ?, ?)",
      new Date().toISOString(),
      actor,
      action,
      target,
      JSON.stringify(change ?? null),
    );
  }

  private insertAccount(id: string, name: string, actor: Actor): void {
    const createdAt = new Date().toISOString();
    this.sql.exec("INSERT INTO account (id, name, created_at) VALUES (?, ?, ?)", id, name, createdAt);
    this.audit(actor, "account.create", id, { name });
  }

  private insertKey(key: Omit<KeyRecord, "createdAt" | "lastUsedAt"> & { hash: string }, actor: Actor): KeyRecord {
    const createdAt = new Date().toISOString();
    this.sql.exec(
      "INSERT INTO api_key (id, hash, name, prefix, scopes, rate, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      key.id,
      key.hash,
      key.name,
      key.prefix,
      JSON.stringify(key.scopes),
      key.ratePerSecond,
      createdAt,
    );
    this.audit(actor, "api_key.create", key.id, { name: key.name, scopes: key.scopes, ratePerSecond: key.ratePerSecond });
    return {
      id: key.id,
      name: key.name,
      prefix: key.prefix,
      scopes: key.scopes,
      ratePerSecond: key.ratePerSecond,
      createdAt,
      lastUsedAt: null,
    };
  }

  async create(account: string, name: string, actor: Actor): Promise<AccountInfo> {
    await this.seed(account);
    if (!this.info_()) this.ctx.storage.transactionSync(() => this.insertAccount(account, name, actor));
    return this.info_()!;
  }

  async info(account: string): Promise<AccountInfo | null> {
    await this.seed(account);
    return this.info_();
  }

  private info_(): AccountInfo | null {
    const row = this.sql.exec<{ id: string; name: string; created_at: string; disabled: number }>("SELECT * FROM account").toArray()[0];
    return row ? { id: row.id, name: row.name, createdAt: row.created_at, disabled: row.disabled === 1 } : null;
  }

  async update(account: string, patch: { name?: string; disabled?: boolean }, actor: Actor): Promise<AccountInfo | null> {
    await this.seed(account);
    const before = this.info_();
    if (!before) return null;
    this.ctx.storage.transactionSync(() => {
      if (patch.name !== undefined) this.sql.exec("UPDATE account SET name = ?", patch.name);
      if (patch.disabled !== undefined) this.sql.exec("UPDATE account SET disabled = ?", patch.disabled ? 1 : 0);
      this.audit(actor, "account.update", account, { before: { name: before.name, disabled: before.disabled }, after: patch });
    });
    return this.info_();
  }

  async addKey(
    account: string,
    key: Omit<KeyRecord, "createdAt" | "lastUsedAt"> & { hash: string },
    actor: Actor,
  ): Promise<KeyRecord | null> {
    await this.seed(account);
    if (!this.info_()) return null;
    return this.ctx.storage.transactionSync(() => this.insertKey(key, actor));
  }

  async listKeys(account: string): Promise<KeyRecord[]> {
    await this.seed(account);
    return this.sql.exec<KeyRow>("SELECT * FROM api_key ORDER BY created_at, id").toArray().map(keyRecord);
  }

  /** Deletes a key; answers its hash (the directory's index entry goes too), or null for no such key. */
  async revokeKey(account: string, id: string, actor: Actor): Promise<string | null> {
    await this.seed(account);
    const row = this.sql.exec<KeyRow>("SELECT * FROM api_key WHERE id = ?", id).toArray()[0];
    if (!row) return null;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM api_key WHERE id = ?", id);
      this.audit(actor, "api_key.revoke", id, { name: row.name });
    });
    return row.hash;
  }

  /** What a key hash may do here: its grant, `disabled` for a disabled account, null for no such key. */
  async grant(account: string, hash: string): Promise<Grant> {
    await this.seed(account);
    const info = this.info_();
    const row = this.sql.exec<KeyRow>("SELECT * FROM api_key WHERE hash = ?", hash).toArray()[0];
    if (!info || !row) return null;
    if (info.disabled) return { disabled: true };
    return { keyId: row.id, scopes: JSON.parse(row.scopes) as Scope[], ratePerSecond: row.rate };
  }

  /** Last use, written at most about once a minute per isolate (the caller throttles). */
  async touchKey(account: string, id: string, at: string): Promise<void> {
    await this.seed(account);
    this.sql.exec("UPDATE api_key SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)", at, id, at);
  }

  private async writeSection(account: string, name: string, value: unknown, actor: Actor): Promise<unknown> {
    const before = this.sql.exec<{ masked: string }>("SELECT masked FROM section WHERE name = ?", name).toArray()[0];
    const shown = masked(name, value);
    const sealed = await seal(await this.keys(), `${account}/${name}`, JSON.stringify(value));
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT OR REPLACE INTO section (name, sealed, masked, updated_at) VALUES (?, ?, ?, ?)",
        name,
        sealed,
        JSON.stringify(shown),
        new Date().toISOString(),
      );
      this.audit(actor, "config.put", name, { before: before ? JSON.parse(before.masked) : null, after: shown });
    });
    return shown;
  }

  /** Stores a section (validated by the route) and answers it masked. */
  async putSection(account: string, name: string, value: unknown, actor: Actor): Promise<unknown> {
    await this.seed(account);
    return this.writeSection(account, name, value, actor);
  }

  /** A section as reads show it: secrets masked. */
  async section(account: string, name: string): Promise<unknown> {
    await this.seed(account);
    const row = this.sql.exec<{ masked: string }>("SELECT masked FROM section WHERE name = ?", name).toArray()[0];
    return row ? JSON.parse(row.masked) : null;
  }

  /** A section opened, for a write that keeps the secrets a read showed masked. */
  async sectionOpened(account: string, name: string): Promise<unknown> {
    await this.seed(account);
    const row = this.sql.exec<{ sealed: string }>("SELECT sealed FROM section WHERE name = ?", name).toArray()[0];
    return row ? JSON.parse(await open(await this.keys(), `${account}/${name}`, row.sealed)) : null;
  }

  async deleteSection(account: string, name: string, actor: Actor): Promise<boolean> {
    await this.seed(account);
    const before = this.sql.exec<{ masked: string }>("SELECT masked FROM section WHERE name = ?", name).toArray()[0];
    if (!before) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM section WHERE name = ?", name);
      this.audit(actor, "config.delete", name, { before: JSON.parse(before.masked) });
    });
    return true;
  }

  /**
   * Everything the senders need, secrets opened. A section still sealed under an older key is
   * re-sealed under the current one here, so a rotation completes as accounts are used.
   */
  async runtime(account: string): Promise<AccountRuntime> {
    await this.seed(account);
    const ring = await this.keys();
    const info = this.info_();
    const sections: Record<string, unknown> = {};
    for (const row of this.sql.exec<{ name: string; sealed: string }>("SELECT name, sealed FROM section").toArray()) {
      const context = `${account}/${row.name}`;
      const plain = await open(ring, context, row.sealed);
      sections[row.name] = JSON.parse(plain);
      if (sealedWith(row.sealed) !== ring.current) {
        this.sql.exec(
          "UPDATE section SET sealed = ? WHERE name = ? AND sealed = ?",
          await seal(ring, context, plain),
          row.name,
          row.sealed,
        );
      }
    }
    const domains: DomainKeys[] = [];
    for (const row of this.sql
      .exec<{ domain: string; sealed: string }>("SELECT domain, sealed FROM domain WHERE verified_at IS NOT NULL ORDER BY domain")
      .toArray()) {
      const context = `${account}/domain:${row.domain}`;
      const plain = await open(ring, context, row.sealed);
      domains.push(JSON.parse(plain) as DomainKeys);
      if (sealedWith(row.sealed) !== ring.current) {
        this.sql.exec(
          "UPDATE domain SET sealed = ? WHERE domain = ? AND sealed = ?",
          await seal(ring, context, plain),
          row.domain,
          row.sealed,
        );
      }
    }
    return { account, disabled: info?.disabled ?? false, sections: sections as AccountRuntime["sections"], domains };
  }

  private domainCount(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM domain").one().n;
  }

  private domainInfo(domain: string): DomainInfo | null {
    const row = this.sql.exec<DomainRow>("SELECT * FROM domain WHERE domain = ?", domain).toArray()[0];
    return row ? domainInfo(row) : null;
  }

  /**
   * Adds a sending domain with its key pairs (the private halves sealed, never answered):
   * `exists` when the account has it already, `limit` at MAX_DOMAINS_PER_ACCOUNT, `no_account`
   * for an account that does not exist.
   * The row is this account's alone: another account may add the same name with its own keys.
   */
  async addDomain(
    account: string,
    domain: string,
    keys: Array<DomainPublicKey & { privateKey: string }>,
    records: DomainRecord[],
    actor: Actor,
  ): Promise<DomainInfo | "exists" | "limit" | "no_account"> {
    await this.seed(account);
    if (!this.info_()) return "no_account";
    if (this.domainInfo(domain)) return "exists";
    if (this.domainCount() >= MAX_DOMAINS_PER_ACCOUNT) return "limit";
    const privates: DomainKeys = {
      domain,
      keys: keys.map(({ selector, privateKey, algorithm }) => ({ selector, privateKey, algorithm })),
    };
    const sealed = await seal(await this.keys(), `${account}/domain:${domain}`, JSON.stringify(privates));
    const column: DomainRecordColumn = {
      keys: keys.map(({ selector, algorithm, publicKey }) => ({ selector, algorithm, publicKey })),
      records,
      status: "pending",
      checkedAt: null,
    };
    // A concurrent add may have won while this one sealed: check again before writing.
    if (this.domainInfo(domain)) return "exists";
    if (this.domainCount() >= MAX_DOMAINS_PER_ACCOUNT) return "limit";
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO domain (domain, record, sealed, verified_at, created_at) VALUES (?, ?, ?, NULL, ?)",
        domain,
        JSON.stringify(column),
        sealed,
        new Date().toISOString(),
      );
      this.audit(actor, "domain.create", domain, { selectors: column.keys.map((k) => `${k.selector} (${k.algorithm})`) });
    });
    return this.domainInfo(domain)!;
  }

  async listDomains(account: string): Promise<DomainInfo[]> {
    await this.seed(account);
    return this.sql.exec<DomainRow>("SELECT * FROM domain ORDER BY domain").toArray().map(domainInfo);
  }

  /**
   * The names of the account's verified domains, in order (their return-path hosts are claimed in
   * the directory), and the version of that set: the last audit entry's number. The set changes
   * only with an audited change (a domain's status, a deletion), so a later read has a version at
   * least as high; the directory keeps the highest it was given.
   */
  async verifiedDomains(account: string): Promise<{ domains: string[]; version: number }> {
    await this.seed(account);
    const domains = this.sql
      .exec<{ domain: string }>("SELECT domain FROM domain WHERE verified_at IS NOT NULL ORDER BY domain")
      .toArray()
      .map((r) => r.domain);
    return { domains, version: this.sql.exec<{ v: number }>("SELECT COALESCE(MAX(seq), 0) AS v FROM audit").one().v };
  }

  async getDomain(account: string, domain: string): Promise<DomainInfo | null> {
    await this.seed(account);
    return this.domainInfo(domain);
  }

  /**
   * Records a DNS check: each record's status and the domain's. A change of the domain's status
   * is audited (`domain.verify`); a check that changes nothing is not. Null: no such domain.
   */
  async saveVerification(
    account: string,
    domain: string,
    records: DomainRecord[],
    status: DomainStatus,
    actor: Actor,
  ): Promise<DomainInfo | null> {
    await this.seed(account);
    const row = this.sql.exec<DomainRow>("SELECT * FROM domain WHERE domain = ?", domain).toArray()[0];
    if (!row) return null;
    const before = JSON.parse(row.record) as DomainRecordColumn;
    const now = new Date().toISOString();
    const verifiedAt = status === "verified" ? (row.verified_at ?? now) : null;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "UPDATE domain SET record = ?, verified_at = ? WHERE domain = ?",
        JSON.stringify({ ...before, records, status, checkedAt: now } satisfies DomainRecordColumn),
        verifiedAt,
        domain,
      );
      if (before.status !== status) {
        this.audit(actor, "domain.verify", domain, {
          before: before.status,
          after: status,
          records: records.map((r) => `${r.purpose} ${r.type} ${r.name}: ${r.status}`),
        });
      }
    });
    return this.domainInfo(domain);
  }

  async deleteDomain(account: string, domain: string, actor: Actor): Promise<boolean> {
    await this.seed(account);
    const before = this.domainInfo(domain);
    if (!before) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM domain WHERE domain = ?", domain);
      this.audit(actor, "domain.delete", domain, { status: before.status, selectors: before.keys.map((k) => k.selector) });
    });
    return true;
  }

  // ── Webhook endpoints (webhook-endpoints.ts) ──

  /** An erasure is audited by the recipient's hash (the audit log keeps no address). */
  async auditErasure(account: string, actor: Actor, target: string, change: unknown): Promise<void> {
    await this.seed(account);
    this.audit(actor, "recipient.erase", target, change);
  }

  private auditBy(actor: Actor) {
    return (action: string, target: string, change: unknown) => this.audit(actor, action, target, change);
  }

  async createEndpoint(
    account: string,
    id: string,
    input: EndpointCreate,
    secret: string,
    actor: Actor,
  ): Promise<EndpointInfo | "limit" | "no_account"> {
    await this.seed(account);
    if (!this.info_()) return "no_account";
    return this.endpoints.create(account, id, input, secret, this.auditBy(actor));
  }

  async listEndpoints(account: string): Promise<EndpointInfo[]> {
    await this.seed(account);
    return this.endpoints.list();
  }

  async getEndpoint(account: string, id: string): Promise<EndpointInfo | null> {
    await this.seed(account);
    return this.endpoints.get(id);
  }

  /** Every endpoint's filter, for the fan-out of events (read fresh once per account per batch). */
  async endpointFilters(account: string) {
    await this.seed(account);
    return this.info_()?.disabled ? [] : this.endpoints.filters();
  }

  /** One endpoint with its secrets opened, for its EndpointDO; null when it is gone. */
  async endpointTarget(account: string, id: string): Promise<EndpointTarget | null> {
    await this.seed(account);
    return this.endpoints.target(account, id);
  }

  async updateEndpoint(account: string, id: string, patch: EndpointPatch, actor: Actor): Promise<EndpointInfo | null> {
    await this.seed(account);
    return this.endpoints.update(id, patch, this.auditBy(actor));
  }

  async disableEndpoint(account: string, id: string, reason: DisabledReason, at: string): Promise<boolean> {
    await this.seed(account);
    return this.endpoints.disable(id, reason, at, this.auditBy("webhooks"));
  }

  async deleteEndpoint(account: string, id: string, actor: Actor): Promise<boolean> {
    await this.seed(account);
    return this.endpoints.delete(id, this.auditBy(actor));
  }

  async rotateEndpointSecret(account: string, id: string, fresh: string, actor: Actor): Promise<EndpointInfo | null> {
    await this.seed(account);
    return this.endpoints.rotate(account, id, fresh, this.auditBy(actor));
  }

  async auditLog(account: string, cursor: number | null, limit: number): Promise<AuditPage> {
    await this.seed(account);
    const rows = this.sql
      .exec<{ seq: number; at: string; actor: string; action: string; target: string; change: string }>(
        "SELECT * FROM audit WHERE seq < ? ORDER BY seq DESC LIMIT ?",
        cursor ?? Number.MAX_SAFE_INTEGER,
        limit + 1,
      )
      .toArray();
    const items = rows.slice(0, limit).map((r) => ({ ...r, change: JSON.parse(r.change) as unknown }));
    return { items, nextCursor: rows.length > limit ? String(items[items.length - 1]!.seq) : null };
  }
}

function domainInfo(row: DomainRow): DomainInfo {
  const column = JSON.parse(row.record) as DomainRecordColumn;
  return {
    domain: row.domain,
    status: column.status,
    records: column.records,
    createdAt: row.created_at,
    verifiedAt: row.verified_at,
    checkedAt: column.checkedAt,
    keys: column.keys,
  };
}

function keyRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: JSON.parse(row.scopes) as Scope[],
    ratePerSecond: row.rate,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
  };
}
