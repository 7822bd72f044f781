import { DurableObject } from "cloudflare:workers";
import { sendBatchToBridge } from "../channels/bridge.ts";
import { BRIDGE_SMTP_PATH, type SmtpBatch, type TlsSessionReport } from "../core/bridge.ts";
import type { SendOutcome } from "../core/outcome.ts";
import { lookup } from "../core/doh.ts";
import type { CachedStsPolicy } from "../core/mta-sts.ts";
import {
  buildReport,
  emptyTally,
  gzipJson,
  parseTlsRptRecord,
  recordSession,
  reportEmail,
  reportFileName,
  reportPost,
  tlsRptTally,
  type TlsRptUri,
} from "../core/tls-rpt.ts";
import {
  DAY_MS,
  REPORT_RETRY_WINDOW_MS,
  dayStart,
  reportDueAt,
  reportIdOf,
  retryDelay,
  tallySession,
  utcDay,
} from "../core/tls-report-schedule.ts";
import { checkEndpointUrl, parseDevHosts } from "../core/webhook-url.ts";
import { meterAlarm, metered, meteredSql } from "./meter.ts";
import { Meta } from "./meta.ts";

/** How long an https rua may take to answer before the attempt counts as failed. */
const POST_TIMEOUT_MS = 30_000;

type DeliveryRow = { report_id: string; rua: string; attempts: number; created_at: number };
type ReportRow = { id: string; day: string; json: string };

/** Who sends the reports: the platform's From address, its domain (the submitter) and its DKIM key. */
export type Reporter = { from: string; submitter: string; organization: string; dkim?: SmtpBatch["items"][number]["dkim"] };

/** The reporter from the environment: TLSRPT_FROM (default tlsrpt@<host of PUBLIC_URL>), TLSRPT_DKIM_PRIVATE_KEY (PEM) and TLSRPT_DKIM_SELECTOR. */
export function reporterOf(env: Env): Reporter {
  const host = (() => {
    try {
      return new URL(env.PUBLIC_URL).hostname;
    } catch {
      return "localhost";
    }
  })();
  const from = env.TLSRPT_FROM || `tlsrpt@${host}`;
  const submitter = from.slice(from.lastIndexOf("@") + 1).toLowerCase();
  const key = env.TLSRPT_DKIM_PRIVATE_KEY;
  return {
    from,
    submitter,
    organization: env.TLSRPT_ORGANIZATION || submitter,
    ...(key
      ? { dkim: { domain: submitter, selector: env.TLSRPT_DKIM_SELECTOR || "tlsrpt", privateKey: key, algorithm: "rsa-sha256" as const } }
      : {}),
  };
}

/**
 * One policy domain's TLS-RPT reporting (RFC 8460), platform-wide (named `platform:tls:<domain>`):
 * the reporting organisation is the MTA operator, and a report holds counts, MX hosts and IPs,
 * never account data. It keeps the tally of each UTC day as sessions arrive (a batch counted once
 * per day, by its id) and, on an alarm after the day ends, builds the day's report, asks
 * `_smtp._tls.<domain>` where it goes, and delivers it to each rua: https POST (the SSRF rules of
 * webhook-url.ts) or a report mail through the bridge's relay (direct, DKIM-signed by the bridge
 * with the platform key). A failed delivery is retried with backoff for 24 hours (§5.5), each rua
 * on its own, and a delivered one is never sent again. `run(at)` is the alarm with the clock as a
 * parameter.
 */
export class TlsDomainDO extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly meta: Meta;
  private running = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, metered(env));
    this.sql = meteredSql(env, ctx.storage.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS tally (day TEXT PRIMARY KEY, json TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS batch (id TEXT PRIMARY KEY, day TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS report (id TEXT PRIMARY KEY, day TEXT NOT NULL, json TEXT NOT NULL, created_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS delivery (
        report_id TEXT NOT NULL, rua TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER, created_at INTEGER NOT NULL, PRIMARY KEY (report_id, rua));
    `);
    this.meta = new Meta(this.sql);
  }

  /**
   * Counts a batch's sessions (all of this policy domain) in the tally of the UTC day of `now`.
   * A batch id already counted that day is ignored (the bridge retries a batch whose answer it
   * lost). Answers whether it counted.
   */
  async record(domain: string, batchId: string, sessions: TlsSessionReport[], now = Date.now()): Promise<boolean> {
    if (!this.meta.get("domain")) this.meta.set("domain", domain);
    const day = utcDay(now);
    const counted = this.ctx.storage.transactionSync(() => {
      if (this.sql.exec(`INSERT OR IGNORE INTO batch (id, day) VALUES (?, ?) RETURNING id`, batchId, day).toArray().length === 0)
        return false;
      const row = this.sql.exec<{ json: string }>(`SELECT json FROM tally WHERE day = ?`, day).toArray()[0];
      let tally = row ? tlsRptTally.parse(JSON.parse(row.json)) : emptyTally();
      for (const session of sessions) tally = recordSession(tally, tallySession(session));
      this.sql.exec(`INSERT OR REPLACE INTO tally (day, json) VALUES (?, ?)`, day, JSON.stringify(tally));
      return true;
    });
    if (counted && (await this.ctx.storage.getAlarm()) === null) await this.arm(now);
    return counted;
  }

  /** The shared MTA-STS policy of this domain while it lasts (RFC 8461 max_age), else null. */
  stsPolicy(now = Date.now()): CachedStsPolicy | null {
    const stored = this.meta.get("sts_policy");
    const cached = stored ? (JSON.parse(stored) as CachedStsPolicy) : null;
    return cached && cached.expiresAt > now ? cached : null;
  }

  /**
   * A bridge's freshly fetched policy: kept when it was fetched later than the one here (two
   * bridges racing after an id change agree on the newer fetch). Answers what is kept now.
   */
  offerStsPolicy(domain: string, offered: CachedStsPolicy, now = Date.now()): CachedStsPolicy | null {
    if (!this.meta.get("domain")) this.meta.set("domain", domain);
    const stored = this.meta.get("sts_policy");
    const current = stored ? (JSON.parse(stored) as CachedStsPolicy) : null;
    if (!current || offered.fetchedAt > current.fetchedAt) this.meta.set("sts_policy", JSON.stringify(offered));
    return this.stsPolicy(now);
  }

  override async alarm(): Promise<void> {
    meterAlarm(this.env, "TLS_DOMAINS");
    await this.run();
  }

  /**
   * At `at` (default now): turns every finished day's tally into a report addressed to the
   * domain's rua list, delivers what is due, forgets what is past the retry window, and arms the
   * next alarm. Answers the deliveries made (successful or not).
   */
  async run(at = Date.now()): Promise<number> {
    const domain = this.meta.get("domain");
    if (!domain || this.running) return 0;
    this.running = true;
    try {
      await this.closeDays(domain, at);
      const made = await this.deliver(domain, at);
      this.expire(at);
      await this.arm(at);
      return made;
    } finally {
      this.running = false;
    }
  }

  /** Finished days' tallies → reports with their deliveries; a domain without a TXT record gets none. */
  private async closeDays(domain: string, at: number): Promise<void> {
    const today = utcDay(at);
    const days = this.sql.exec<{ day: string; json: string }>(`SELECT day, json FROM tally WHERE day < ? ORDER BY day`, today).toArray();
    if (days.length === 0) return;
    const answer = await lookup(this.env.DOH_URL, `_smtp._tls.${domain}`, "TXT");
    if (answer.kind === "error") {
      // DNS could not say: try again on a later alarm, within the window (then the tally goes).
      for (const { day } of days) {
        if (at - (dayStart(day) + DAY_MS) > REPORT_RETRY_WINDOW_MS)
          this.dropDay(day, domain, `the TXT lookup kept failing: ${answer.message}`);
      }
      return;
    }
    const record = parseTlsRptRecord(answer.kind === "answer" ? answer.values : []);
    const reporter = reporterOf(this.env);
    for (const { day, json } of days) {
      if (record.kind !== "record") {
        this.dropDay(day, domain, record.kind === "none" ? "no v=TLSRPTv1 record" : record.reason);
        continue;
      }
      const start = dayStart(day);
      const report = buildReport({
        organizationName: reporter.organization,
        contactInfo: reporter.from,
        reportId: reportIdOf(day, domain, reporter.submitter),
        start: new Date(start),
        end: new Date(start + DAY_MS - 1000),
        tally: tlsRptTally.parse(JSON.parse(json)),
        policyDomain: domain,
      });
      this.ctx.storage.transactionSync(() => {
        this.sql.exec(
          `INSERT OR IGNORE INTO report (id, day, json, created_at) VALUES (?, ?, ?, ?)`,
          report["report-id"],
          day,
          JSON.stringify(report),
          at,
        );
        for (const rua of record.rua) {
          this.sql.exec(
            `INSERT OR IGNORE INTO delivery (report_id, rua, status, next_at, created_at) VALUES (?, ?, 'pending', ?, ?)`,
            report["report-id"],
            JSON.stringify(rua),
            at,
            at,
          );
        }
        this.sql.exec(`DELETE FROM tally WHERE day = ?`, day);
        this.sql.exec(`DELETE FROM batch WHERE day <= ?`, day);
      });
    }
  }

  private dropDay(day: string, domain: string, why: string): void {
    console.log(JSON.stringify({ msg: "tls-rpt: a day's tally dropped", domain, day, why }));
    this.sql.exec(`DELETE FROM tally WHERE day = ?`, day);
    this.sql.exec(`DELETE FROM batch WHERE day <= ?`, day);
  }

  /** Every pending delivery due at `at`, one rua at a time (a domain has a handful). */
  private async deliver(domain: string, at: number): Promise<number> {
    const due = this.sql
      .exec<DeliveryRow>(
        `SELECT report_id, rua, attempts, created_at FROM delivery WHERE status = 'pending' AND next_at <= ? ORDER BY next_at LIMIT 50`,
        at,
      )
      .toArray();
    for (const row of due) {
      const report = this.sql.exec<ReportRow>(`SELECT id, day, json FROM report WHERE id = ?`, row.report_id).toArray()[0];
      if (!report) continue;
      const rua = JSON.parse(row.rua) as TlsRptUri;
      const verdict = await this.send(domain, report, rua, at).catch((error: unknown) => ({ kind: "retry" as const, why: String(error) }));
      const attempts = row.attempts + 1;
      const target = rua.kind === "https" ? rua.url : `mailto:${rua.address}`;
      if (verdict.kind === "sent") {
        this.sql.exec(
          `UPDATE delivery SET status = 'sent', attempts = ?, next_at = NULL WHERE report_id = ? AND rua = ?`,
          attempts,
          row.report_id,
          row.rua,
        );
        continue;
      }
      const next = at + retryDelay(attempts);
      if (verdict.kind === "dropped" || next > row.created_at + REPORT_RETRY_WINDOW_MS) {
        console.log(
          JSON.stringify({
            msg: "tls-rpt: a report was not delivered",
            domain,
            report: report.id,
            rua: target,
            attempts,
            why: verdict.why,
          }),
        );
        this.sql.exec(
          `UPDATE delivery SET status = 'dropped', attempts = ?, next_at = NULL WHERE report_id = ? AND rua = ?`,
          attempts,
          row.report_id,
          row.rua,
        );
      } else {
        this.sql.exec(
          `UPDATE delivery SET attempts = ?, next_at = ? WHERE report_id = ? AND rua = ?`,
          attempts,
          next,
          row.report_id,
          row.rua,
        );
      }
    }
    return due.length;
  }

  private async send(
    domain: string,
    report: ReportRow,
    rua: TlsRptUri,
    at: number,
  ): Promise<{ kind: "sent" } | { kind: "retry" | "dropped"; why: string }> {
    const reporter = reporterOf(this.env);
    const parsed = JSON.parse(report.json) as Parameters<typeof gzipJson>[0];
    const gz = await gzipJson(parsed);
    if (rua.kind === "https") {
      // The URL came from DNS, which anyone can publish: the rules for every URL from input.
      const verdict = checkEndpointUrl(rua.url, parseDevHosts(this.env.WEBHOOK_DEV_HOSTS));
      if (!verdict.ok) return { kind: "dropped", why: verdict.message };
      const { url, init } = reportPost(verdict.url.href, gz);
      const response = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(POST_TIMEOUT_MS) });
      await response.body?.cancel();
      // §5.4: a 2xx is success; anything else may be retried.
      return response.ok ? { kind: "sent" } : { kind: "retry", why: `HTTP ${response.status}` };
    }
    if (!reporter.dkim)
      return { kind: "dropped", why: "no platform DKIM key (TLSRPT_DKIM_PRIVATE_KEY): a report mail must be DKIM-signed" };
    const start = dayStart(report.day);
    const id = crypto.randomUUID();
    const raw = reportEmail({
      from: reporter.from,
      to: rua.address,
      submitter: reporter.submitter,
      policyDomain: domain,
      reportId: report.id,
      gz,
      fileName: reportFileName({
        submitter: reporter.submitter,
        policyDomain: domain,
        start: new Date(start),
        end: new Date(start + DAY_MS - 1000),
      }),
      date: new Date(at),
      messageId: `${id}@${reporter.submitter}`,
    });
    const item: SmtpBatch["items"][number] = {
      id,
      account: "platform",
      mailFrom: reporter.from,
      rcptTo: rua.address,
      raw,
      dkim: reporter.dkim,
      relay: { mode: "direct" },
      tlsReport: true,
    };
    const outcome = await this.relay(item);
    if (outcome.kind === "accepted") return { kind: "sent" };
    const why = JSON.stringify(outcome.detail).slice(0, 300);
    return outcome.kind === "retry" ? { kind: "retry", why } : { kind: "dropped", why };
  }

  /** One report mail through the bridge's relay door: the edge's one bridge client, bounded. */
  private async relay(item: SmtpBatch["items"][number]): Promise<SendOutcome> {
    const [outcome] = await sendBatchToBridge(
      this.env,
      BRIDGE_SMTP_PATH,
      { items: [item] },
      [item.id],
      AbortSignal.timeout(POST_TIMEOUT_MS),
    );
    return outcome ?? { kind: "retry", detail: { reason: "bridge_error", error: "no result for this item" } };
  }

  /** Reports past the retry window go, with their deliveries (sent ones included: the day is over). */
  private expire(at: number): void {
    const before = at - REPORT_RETRY_WINDOW_MS - 60_000;
    this.sql.exec(`DELETE FROM delivery WHERE report_id IN (SELECT id FROM report WHERE created_at < ?)`, before);
    this.sql.exec(`DELETE FROM report WHERE created_at < ?`, before);
  }

  /** The next alarm: the next due delivery, else the report of a day being counted, else an expiry. */
  private async arm(at: number): Promise<void> {
    const candidates: number[] = [];
    const due = this.sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM delivery WHERE status = 'pending'`).one().t;
    if (due !== null) candidates.push(due);
    const day = this.sql.exec<{ d: string | null }>(`SELECT MIN(day) AS d FROM tally`).one().d;
    if (day !== null) {
      // A day still here after its report was due is one whose TXT lookup failed: ask again later, not at once.
      const due = reportDueAt(dayStart(day), Math.random());
      candidates.push(due > at ? due : at + retryDelay(1));
    }
    const oldest = this.sql.exec<{ t: number | null }>(`SELECT MIN(created_at) AS t FROM report`).one().t;
    if (oldest !== null) candidates.push(oldest + REPORT_RETRY_WINDOW_MS + 60_000);
    if (candidates.length === 0) return;
    const next = Math.max(at, Math.min(...candidates));
    // A test's clock may run ahead of the real one: an alarm is real time.
    await this.ctx.storage.setAlarm(Math.min(next, Date.now() + (next - at)));
  }
}
