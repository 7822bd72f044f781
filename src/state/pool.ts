import { DurableObject } from "cloudflare:workers";
import type { PoolView } from "../core/api-responses.ts";
import type { DeliverySection } from "../core/ip-pools.ts";
import { grant, rateNow, release, slowDown, throttleFor, type ThrottleState } from "../core/throttle.ts";
import { assignAddresses, dailyCap, msToNextDay, utcDay } from "../core/warmup.ts";
import { reputationAlert, type PoolCounts } from "../core/pool-reputation.ts";
import { emitEvents } from "./emit.ts";
import { metered, meteredSql } from "./meter.ts";

/** What the pool needs of the account's `delivery` section, sent with each call (the runtime is cached per isolate). */
export type PoolConfig = {
  account: string;
  pool: string;
  /** The pool's addresses; empty for the bridge's own address (`default`). */
  addresses: DeliverySection["pools"][number]["addresses"];
  overflow: boolean;
  destinations: Record<string, { perMinute: number; concurrency?: number | undefined }>;
  reputation: DeliverySection["reputation"];
};

/** Each message of a batch: the destination it belongs to, if a throttled one. */
export type AdmitItem = { destination?: string | undefined };
export type Admission =
  | { go: true; sourceAddress?: string; holdMs?: number }
  | { go: false; reason: "throttled" | "warmup"; limit: string; retryAfter: number };

/** How a sent message ended at the relay, for the counters and the destination's throttle. */
export type Settled = {
  destination?: string | undefined;
  sourceAddress?: string | undefined;
  kind: "accepted" | "retry" | "bounced" | "failed";
  throttled?: boolean;
};

type DayRow = { ip: string; used: number; sent: number; deferred: number; bounced: number; complaints: number };

const KEEP_DAYS = 35;

/** The key of the bridge's own address in the counters. */
const OWN = "";

/**
 * One account's IP pool (`account:pool:<name>`): which address each message leaves from (the
 * warm-up caps of the UTC day, in turn over the pool), the per-destination throttles (rate,
 * concurrency, adaptive), and the counters of each address per day that raise
 * `pool.reputation_alert`. The send consumer asks once per pool per batch (`admit`) and reports
 * once after the bridge answered (`report`), as with circuits: two requests per batch, never a
 * lock per message. Throttles live in memory (a restart forgets at most a second of schedule);
 * the day's counts are rows, because a warm-up cap must hold across restarts.
 */
export class PoolDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly throttles = new Map<string, ThrottleState>();
  private rotation = 0;
  private leases = 0;
  private prunedOn = "";
  private configJson: string | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS address_day (day TEXT NOT NULL, ip TEXT NOT NULL, used INTEGER NOT NULL DEFAULT 0, sent INTEGER NOT NULL DEFAULT 0, deferred INTEGER NOT NULL DEFAULT 0, bounced INTEGER NOT NULL DEFAULT 0, complaints INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, ip)) WITHOUT ROWID`,
    );
    this.sql.exec(`CREATE TABLE IF NOT EXISTS alert (day TEXT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (day, kind)) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS feedback_seen (id TEXT PRIMARY KEY, day TEXT NOT NULL) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`);
  }

  /** Each item's admission, in order, and the lease that holds the admitted in flight until `report`. `now`: tests drive the clock. */
  async admit(config: PoolConfig, items: AdmitItem[], now = Date.now()): Promise<{ lease: string; admissions: Admission[] }> {
    const day = utcDay(now);
    this.remember(config);
    if (day !== this.prunedOn) {
      // Counts are kept for a month (the API shows today's; the rest is history for support).
      const before = utcDay(now - KEEP_DAYS * 86_400_000);
      this.sql.exec(`DELETE FROM address_day WHERE day < ?`, before);
      this.sql.exec(`DELETE FROM feedback_seen WHERE day < ?`, utcDay(now - 2 * 86_400_000));
      this.sql.exec(`DELETE FROM alert WHERE day < ?`, before);
      this.prunedOn = day;
    }
    const lease = `l${++this.leases}`;
    const admissions: Admission[] = new Array(items.length);
    // Addresses first: a warm-up cap refuses before a throttle token is spent.
    let chosen: Array<string | null>;
    const before = new Map(config.addresses.map((a) => [a.ip, this.row(day, a.ip).used]));
    let budgets = config.addresses.map((a) => ({ ip: a.ip, cap: dailyCap(a.warmup, day), used: before.get(a.ip)! }));
    if (budgets.length === 0) chosen = items.map(() => OWN);
    else {
      const assigned = assignAddresses(budgets, this.rotation, items.length, config.overflow);
      this.rotation = assigned.rotation;
      chosen = assigned.assigned;
      budgets = assigned.budgets;
    }
    const byDestination = new Map<string, number[]>();
    chosen.forEach((ip, i) => {
      if (ip === null) {
        admissions[i] = { go: false, reason: "warmup", limit: "daily_cap", retryAfter: Math.ceil(msToNextDay(now) / 1000) };
        return;
      }
      const destination = items[i]!.destination;
      const limits = destination === undefined ? undefined : config.destinations[destination];
      if (!limits) {
        admissions[i] = ip === OWN ? { go: true } : { go: true, sourceAddress: ip };
        return;
      }
      byDestination.set(destination!, [...(byDestination.get(destination!) ?? []), i]);
    });
    for (const [destination, indexes] of byDestination) {
      const limits = config.destinations[destination]!;
      const result = grant(throttleFor(this.throttles.get(destination), limits.perMinute), now, indexes.length, limits, lease);
      this.throttles.set(destination, result.state);
      indexes.forEach((i, k) => {
        const ip = chosen[i]!;
        if (k < result.granted) {
          const hold = result.holdMs[k]! > 0 ? { holdMs: Math.ceil(result.holdMs[k]!) } : {};
          admissions[i] = ip === OWN ? { go: true, ...hold } : { go: true, sourceAddress: ip, ...hold };
        } else {
          // Not sent: the address's place under its cap is given back.
          const budget = budgets.find((b) => b.ip === ip);
          if (budget) budget.used--;
          admissions[i] = {
            go: false,
            reason: "throttled",
            limit: result.limit ?? "rate",
            retryAfter: Math.max(1, Math.ceil(result.waitMs[k - result.granted]! / 1000)),
          };
        }
      });
    }
    for (const b of budgets) this.add(day, b.ip, { used: b.used - before.get(b.ip)! });
    return { lease, admissions };
  }

  /** What became of the admitted: the lease's in-flight count is given back, throttling replies slow their destination, counters move. */
  async report(config: PoolConfig, lease: string, settled: Settled[], now = Date.now()): Promise<void> {
    const day = utcDay(now);
    for (const [destination, state] of this.throttles) this.throttles.set(destination, release(state, lease));
    const slowed = new Set<string>();
    for (const s of settled) {
      if (s.throttled && s.destination !== undefined && !slowed.has(s.destination)) {
        const state = this.throttles.get(s.destination);
        if (state) this.throttles.set(s.destination, slowDown(state, now));
        slowed.add(s.destination);
      }
      const ip = s.sourceAddress ?? OWN;
      if (s.kind === "accepted") this.add(day, ip, { sent: 1 });
      else if (s.kind === "retry") this.add(day, ip, { deferred: 1 });
      // Refused in session: the receiver answered it (sent) and refused it (bounced).
      else if (s.kind === "bounced") this.add(day, ip, { sent: 1, bounced: 1 });
    }
    await this.alertIfDue(config, day, now);
  }

  /**
   * A bounce or complaint that came back later (a DSN, an FBL report) about mail this pool sent,
   * counted once by its event id (the message's outbox may perform it again), against the
   * configuration the pool last saw.
   */
  async feedback(eventId: string, sourceAddress: string | undefined, kind: "bounced" | "complained", now = Date.now()): Promise<void> {
    const day = utcDay(now);
    if (this.sql.exec(`INSERT OR IGNORE INTO feedback_seen (day, id) VALUES (?, ?)`, day, eventId).rowsWritten === 0) return;
    this.add(day, sourceAddress ?? OWN, kind === "bounced" ? { bounced: 1 } : { complaints: 1 });
    const config = this.lastConfig();
    if (config) await this.alertIfDue(config, day, now);
  }

  /** Keeps the configuration a call brought, for feedback that comes without one. */
  private remember(config: PoolConfig): void {
    const json = JSON.stringify(config);
    if (json === this.configJson) return;
    this.sql.exec(`INSERT INTO kv (key, value) VALUES ('config', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, json);
    this.configJson = json;
  }

  private lastConfig(): PoolConfig | undefined {
    this.configJson ??= this.sql.exec<{ value: string }>(`SELECT value FROM kv WHERE key = 'config'`).toArray()[0]?.value;
    return this.configJson ? (JSON.parse(this.configJson) as PoolConfig) : undefined;
  }

  /** The pool as `GET /v1/pools` shows it: each address's cap and counts today, each destination's rate in force. */
  async view(config: PoolConfig, now = Date.now()): Promise<PoolView> {
    const day = utcDay(now);
    const addresses = (config.addresses.length > 0 ? config.addresses.map((a) => a.ip) : [OWN]).map((ip) => {
      const row = this.row(day, ip);
      const warmup = config.addresses.find((a) => a.ip === ip)?.warmup;
      const cap = dailyCap(warmup, day);
      return {
        ip: ip === OWN ? null : ip,
        dailyCap: Number.isFinite(cap) ? cap : null,
        warming: warmup !== undefined && Number.isFinite(cap),
        today: { used: row.used, sent: row.sent, deferred: row.deferred, bounced: row.bounced, complaints: row.complaints },
      };
    });
    const destinations = Object.entries(config.destinations).map(([name, limits]) => {
      const state = this.throttles.get(name);
      return {
        name,
        perMinute: limits.perMinute,
        ratePerMinute: state && state.configured === limits.perMinute ? Math.round(rateNow(state, now) * 100) / 100 : limits.perMinute,
        concurrency: limits.concurrency ?? null,
      };
    });
    return { pool: config.pool, day, addresses, destinations };
  }

  private async alertIfDue(config: PoolConfig, day: string, now: number): Promise<void> {
    const totals = this.sql
      .exec<PoolCounts>(
        `SELECT COALESCE(SUM(sent), 0) AS sent, COALESCE(SUM(bounced), 0) AS bounced, COALESCE(SUM(complaints), 0) AS complaints FROM address_day WHERE day = ?`,
        day,
      )
      .one();
    const alert = reputationAlert(totals, config.reputation);
    if (!alert) return;
    if (this.sql.exec(`SELECT 1 FROM alert WHERE day = ? AND kind = ?`, day, alert.kind).toArray().length > 0) return;
    // The event first, then the mark: a crash between them sends it again (the stream is at least once, one id).
    await emitEvents(this.env, config.account, [
      {
        type: "pool.reputation_alert",
        timestamp: new Date(now).toISOString(),
        data: { id: `pool:${config.pool}:${day}:${alert.kind}`, pool: config.pool, day, ...alert, counts: totals },
      },
    ]);
    this.sql.exec(`INSERT OR IGNORE INTO alert (day, kind) VALUES (?, ?)`, day, alert.kind);
  }

  private row(day: string, ip: string): DayRow {
    return (
      this.sql
        .exec<DayRow>(`SELECT ip, used, sent, deferred, bounced, complaints FROM address_day WHERE day = ? AND ip = ?`, day, ip)
        .toArray()[0] ?? {
        ip,
        used: 0,
        sent: 0,
        deferred: 0,
        bounced: 0,
        complaints: 0,
      }
    );
  }

  private add(day: string, ip: string, delta: Partial<Omit<DayRow, "ip">>): void {
    const d = { used: 0, sent: 0, deferred: 0, bounced: 0, complaints: 0, ...delta };
    if (Object.values(d).every((v) => v === 0)) return;
    this.sql.exec(
      `INSERT INTO address_day (day, ip, used, sent, deferred, bounced, complaints) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (day, ip) DO UPDATE SET used = used + excluded.used, sent = sent + excluded.sent, deferred = deferred + excluded.deferred,
       bounced = bounced + excluded.bounced, complaints = complaints + excluded.complaints`,
      day,
      ip,
      d.used,
      d.sent,
      d.deferred,
      d.bounced,
      d.complaints,
    );
  }
}
