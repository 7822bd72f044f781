import { DurableObject } from "cloudflare:workers";
import { seedAccounts } from "../core/config/seed.ts";
import { smsClaims } from "../core/sms/account.ts";
import { metered, meteredSql } from "./meter.ts";

export type DirectoryAccount = { id: string; name: string; createdAt: string; disabled: boolean };
export type AccountList = { items: DirectoryAccount[]; nextCursor: string | null };
/** `return_path`: `lh-bounces.<domain>` of each of the account's verified sending domains (`/v1/domains`). */
export type ClaimKind = "bounce_domain" | "return_path" | "sms_sender" | "sms_bridge_route";
export type Claim = { kind: ClaimKind; value: string };

/**
 * The platform's few cross-account lookups, as one class in two roles by name:
 * - `accounts`: the admin's list of accounts, and the claims that route feedback naming no
 *   account (a bounce domain, a verified domain's return-path host, an SMS sender, an SMPP bridge
 *   route) to the accounts that own them;
 * - `keys:<h>` (16 shards by the first hex digit of the key hash): key hash → account, so
 *   authenticating a key asks one small shard, then that account's ConfigDO for the grant.
 * Each account's truth stays in its ConfigDO; these are indexes written after it.
 */
export class DirectoryDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private seeded = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS account (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE IF NOT EXISTS claim (kind TEXT NOT NULL, value TEXT NOT NULL, account TEXT NOT NULL, PRIMARY KEY (kind, value, account));
      CREATE INDEX IF NOT EXISTS claim_by_account ON claim (account, kind);
      CREATE TABLE IF NOT EXISTS claim_version (account TEXT NOT NULL, kind TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (account, kind));
      CREATE TABLE IF NOT EXISTS key_index (hash TEXT PRIMARY KEY, account TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS seeded (account TEXT PRIMARY KEY);
    `);
  }

  /** Seed accounts appear in the list and claim their bounce domain and senders, once each. */
  private seed(): void {
    if (this.seeded) return;
    this.seeded = true;
    for (const seed of seedAccounts(this.env).values()) {
      if (this.sql.exec("SELECT 1 FROM seeded WHERE account = ?", seed.account).toArray().length > 0) continue;
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(
          "INSERT OR IGNORE INTO account (id, name, created_at) VALUES (?, ?, ?)",
          seed.account,
          seed.account,
          new Date().toISOString(),
        );
        const claims: Claim[] = [...smsClaims(seed.sms)];
        if (seed.email) claims.push({ kind: "bounce_domain", value: seed.email.bounceDomain.toLowerCase() });
        for (const claim of claims) this.sql.exec("INSERT OR IGNORE INTO claim VALUES (?, ?, ?)", claim.kind, claim.value, seed.account);
        this.sql.exec("INSERT INTO seeded (account) VALUES (?)", seed.account);
      });
    }
  }

  async addAccount(account: DirectoryAccount): Promise<void> {
    this.seed();
    this.sql.exec(
      "INSERT OR IGNORE INTO account (id, name, created_at, disabled) VALUES (?, ?, ?, ?)",
      account.id,
      account.name,
      account.createdAt,
      account.disabled ? 1 : 0,
    );
  }

  async updateAccount(id: string, patch: { name?: string; disabled?: boolean }): Promise<void> {
    this.seed();
    if (patch.name !== undefined) this.sql.exec("UPDATE account SET name = ? WHERE id = ?", patch.name, id);
    if (patch.disabled !== undefined) this.sql.exec("UPDATE account SET disabled = ? WHERE id = ?", patch.disabled ? 1 : 0, id);
  }

  async hasAccount(id: string): Promise<boolean> {
    this.seed();
    return this.sql.exec("SELECT 1 FROM account WHERE id = ?", id).toArray().length > 0;
  }

  async listAccounts(cursor: string | null, limit: number): Promise<AccountList> {
    this.seed();
    const rows = this.sql
      .exec<{ id: string; name: string; created_at: string; disabled: number }>(
        "SELECT * FROM account WHERE id > ? ORDER BY id LIMIT ?",
        cursor ?? "",
        limit + 1,
      )
      .toArray();
    const items = rows.slice(0, limit).map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at, disabled: r.disabled === 1 }));
    return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.id : null };
  }

  /**
   * Replaces what one account claims of these kinds (its section changed). With a version (the
   * account's own counter for the set), a write older than one already applied changes nothing:
   * two requests that each read the set and write it may arrive in either order.
   */
  async setClaims(account: string, kinds: ClaimKind[], claims: Claim[], version?: number): Promise<void> {
    this.seed();
    this.ctx.storage.transactionSync(() => {
      if (version !== undefined) {
        for (const kind of kinds) {
          const applied = this.sql
            .exec<{ version: number }>("SELECT version FROM claim_version WHERE account = ? AND kind = ?", account, kind)
            .toArray()[0]?.version;
          if (applied !== undefined && applied > version) return;
        }
        for (const kind of kinds) this.sql.exec("INSERT OR REPLACE INTO claim_version VALUES (?, ?, ?)", account, kind, version);
      }
      for (const kind of kinds) this.sql.exec("DELETE FROM claim WHERE account = ? AND kind = ?", account, kind);
      for (const claim of claims) this.sql.exec("INSERT OR IGNORE INTO claim VALUES (?, ?, ?)", claim.kind, claim.value, account);
    });
  }

  /** The accounts that claim this value, in name order. */
  async claimants(kind: ClaimKind, value: string): Promise<string[]> {
    this.seed();
    return this.sql
      .exec<{ account: string }>("SELECT account FROM claim WHERE kind = ? AND value = ? ORDER BY account", kind, value)
      .toArray()
      .map((r) => r.account);
  }

  async indexKey(hash: string, account: string): Promise<void> {
    this.sql.exec("INSERT OR REPLACE INTO key_index (hash, account) VALUES (?, ?)", hash, account);
  }

  async unindexKey(hash: string): Promise<void> {
    this.sql.exec("DELETE FROM key_index WHERE hash = ?", hash);
  }

  async keyAccount(hash: string): Promise<string | null> {
    return this.sql.exec<{ account: string }>("SELECT account FROM key_index WHERE hash = ?", hash).toArray()[0]?.account ?? null;
  }
}
