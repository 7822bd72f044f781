/**
 * A parsed report → canonical events (schema.ts) for the events queue:
 * - a DSN recipient that `failed` → `bounced` (class, reason, codes, diagnostic);
 * - `delayed` → `deferred` (the sender's MTA is still trying; nothing to suppress);
 * - `delivered`/`relayed`/`expanded` → nothing (not a bounce, and not proof of delivery to
 *   the inbox either);
 * - an ARF complaint → `complained` (abuse suppresses; fraud, virus, auth-failure, other
 *   are recorded only, see suppression.ts); Apple Mail's opt-out → `unsubscribed`;
 * - auto-replies and unknown messages → nothing.
 * A report that links to no lasthop message gives no event: the caller keeps it in the
 * unlinked log. Event ids are SHA-256 over stable fields, so a redelivered report dedupes.
 */
import { derivedEventId } from "../ids.ts";
import { canonicalEvent, type CanonicalEvent } from "../schema.ts";
import type { FeedbackReport, RecipientReport } from "./types.ts";

export type FeedbackEventOptions = {
  account: string;
  /** When lasthop received the report (ISO 8601). */
  receivedAt: string;
  /** The `provider` of the events; "email" unless the caller says otherwise. */
  provider?: string;
};

export async function feedbackEvents(report: FeedbackReport, options: FeedbackEventOptions): Promise<CanonicalEvent[]> {
  const messageId = report.messageId;
  if (!messageId) return [];
  const provider = options.provider ?? "email";
  const events: CanonicalEvent[] = [];
  const base = { account: options.account, messageId, receivedAt: options.receivedAt, provider };

  if (report.kind === "dsn") {
    for (const r of report.recipients) {
      const type = r.action === "failed" ? "bounced" : r.action === "delayed" ? "deferred" : undefined;
      if (!type) continue;
      const id = await derivedEventId(
        "mail-feedback",
        options.account,
        messageId,
        type,
        r.recipient.toLowerCase(),
        report.reportId,
        report.date,
        r.status,
        r.enhancedCode,
        r.lastAttemptDate,
      );
      events.push(
        canonicalEvent.parse({
          ...base,
          id,
          type,
          occurredAt: when(r.lastAttemptDate ?? report.date, options.receivedAt),
          detail: bounceDetail(r),
        }),
      );
    }
  } else if (report.kind === "arf" && report.feedback) {
    const f = report.feedback;
    const type = f.feedbackType === "opt-out" ? "unsubscribed" : "complained";
    const id = await derivedEventId(
      "mail-feedback",
      options.account,
      messageId,
      type,
      f.feedbackType,
      report.reportId,
      report.date,
      f.originalRcptTo.join(","),
    );
    const detail = {
      feedbackType: field(f.feedbackType),
      ...(f.userAgent ? { userAgent: field(f.userAgent) } : {}),
      ...(f.sourceIp ? { sourceIp: field(f.sourceIp) } : {}),
      ...(f.arrivalDate ? { arrivalDate: field(f.arrivalDate) } : {}),
      ...(f.originalMailFrom ? { originalMailFrom: field(f.originalMailFrom) } : {}),
      originalRcptTo: f.originalRcptTo.slice(0, MAX_LISTED).map(field),
    };
    events.push(canonicalEvent.parse({ ...base, id, type, occurredAt: when(report.date, options.receivedAt), detail }));
  }
  return events;
}

/**
 * Report fields are whatever the sender wrote. Each is kept to 512 characters and lists to 20
 * entries, so an event stays far under a queue message's 128 KB (even at 6 JSON bytes a
 * character) however large the report.
 */
const MAX_FIELD = 512;
const MAX_LISTED = 20;

function field(text: string): string {
  return text.length > MAX_FIELD ? text.slice(0, MAX_FIELD) : text;
}

/** The bounce detail of the canonical model (ARCHITECTURE.md), plus who and what the DSN said. */
function bounceDetail(r: RecipientReport): Record<string, unknown> {
  return {
    class: r.class,
    reason: field(r.reason),
    // Which classifier rule decided, and which MTA's reader found the facts: a wrong result can be traced.
    rule: r.rule,
    ...(r.mta ? { mta: r.mta } : {}),
    ...(r.smtpCode ? { smtpCode: r.smtpCode } : {}),
    ...(r.enhancedCode ? { enhancedCode: field(r.enhancedCode) } : {}),
    ...(r.diagnostic ? { diagnostic: field(r.diagnostic) } : {}),
    ...(r.remoteMta ? { remoteMta: field(r.remoteMta) } : {}),
    recipient: field(r.recipient),
    action: r.action,
    status: field(r.status),
  };
}

/** An RFC 5322 / RFC 3339 date as ISO 8601, or the fallback when it does not parse. */
function when(date: string | undefined, fallback: string): string {
  const ms = date ? Date.parse(date.replace(/\s*\([^)]*\)\s*$/, "")) : Number.NaN;
  return Number.isNaN(ms) ? fallback : new Date(ms).toISOString();
}
