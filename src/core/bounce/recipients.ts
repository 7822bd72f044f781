/**
 * The recipients of a bounce, each with the facts the classifier needs: the DSN's fields
 * where there are some, the prose about that address (its "segment"), the whole report
 * when there is a single recipient. Standard and non-standard bounces meet here.
 */
import { addressIn, addressesIn } from "./address.ts";
import type { SesNotification } from "./arf.ts";
import { classifyBounce, type BounceFacts } from "./classify.ts";
import { bestEnhancedCode, commandIn, enhancedCodesIn, replyCodeIn } from "./codes.ts";
import { parseDeliveryStatus, type DsnFields, type DsnRecipientFields } from "./dsn.ts";
import { header, type Headers } from "./headers.ts";
import type { MimeView } from "./mime.ts";
import { lhostOf } from "./lhost/index.ts";
import type { LhostRecipient } from "./lhost/types.ts";
import { explicitReason, hostsIn, looksDelayed, looksLikeBounce, reportText, textRecipients, type TextRecipient } from "./report.ts";
import type { DsnAction, RecipientReport, SmtpCommand } from "./types.ts";

export function sesRecipients(ses: Exclude<SesNotification, { type: "complaint" }>): RecipientReport[] {
  return ses.recipients
    .filter((r) => addressIn(r.recipient))
    .map((r) => {
      const action =
        normalizeAction(r.action) ?? (ses.type === "delivery" ? "delivered" : ses.bounceType === "Transient" ? "delayed" : "failed");
      return recipientReport(addressIn(r.recipient)!, {
        action,
        status: r.status,
        diagnostic: r.diagnostic,
        remoteMta: r.remoteMta,
        temporary: ses.type === "bounce" && ses.bounceType === "Transient",
      });
    });
}

type RecipientInput = {
  action: DsnAction;
  status?: string;
  diagnostic?: string;
  diagnosticType?: string;
  remoteMta?: string;
  segment?: string;
  context?: string;
  reportingMta?: string;
  temporary?: boolean;
  lastAttemptDate?: string;
  willRetryUntil?: string;
  /** What the reporting MTA's reader (lhost/) found: its name, the command and its own reason. */
  mta?: string;
  command?: SmtpCommand;
  mtaReason?: string;
};

function recipientReport(recipient: string, input: RecipientInput): RecipientReport {
  const diagnostic = (input.diagnostic ?? "").trim();
  const segment = input.segment ?? "";
  const smtpCode = replyCodeIn(diagnostic) ?? replyCodeIn(segment);
  const inText = enhancedCodesIn(diagnostic);
  const codes = inText.length ? inText : enhancedCodesIn(segment || input.context || "");
  const enhancedCode = bestEnhancedCode(input.status, codes, smtpCode);
  const command = input.command ?? commandIn(segment) ?? commandIn(diagnostic) ?? (input.context ? commandIn(input.context) : undefined);
  const hint = explicitReason(`${diagnostic}\n${segment}`) ?? (input.context ? explicitReason(input.context) : undefined);
  const domain = recipient.split("@")[1];
  const facts: BounceFacts = {
    action: input.action,
    ...(enhancedCode ? { enhancedCode } : {}),
    ...(smtpCode ? { smtpCode } : {}),
    diagnostic: fullerReply(diagnostic, segment) || segment,
    ...(input.diagnosticType ? { diagnosticType: input.diagnosticType } : {}),
    ...(command ? { command } : {}),
    ...(domain ? { recipientDomain: domain } : {}),
    hosts: [input.remoteMta, ...hostsIn(`${diagnostic}\n${segment}`), input.reportingMta].filter((h): h is string => !!h),
    ...(hint ? { hint } : {}),
    ...(input.mtaReason ? { mtaReason: input.mtaReason } : {}),
    ...(input.mta ? { mta: input.mta } : {}),
    ...(input.temporary !== undefined ? { temporary: input.temporary } : {}),
  };
  let classified = classifyBounce(facts);
  if ((classified.reason === "onhold" || classified.reason === "undefined") && input.context && !diagnostic) {
    // The lines next to the address said nothing: the whole report speaks for its only recipient.
    const wider = classifyBounce({ ...facts, diagnostic: input.context });
    if (wider.reason !== "onhold" && wider.reason !== "undefined") classified = wider;
  }
  const shown = (diagnostic || segment.trim()).replace(/\s+/g, " ").slice(0, 1000);
  return {
    recipient,
    action: input.action,
    status: input.status ?? enhancedCode ?? "",
    ...(smtpCode ? { smtpCode } : {}),
    ...(enhancedCode ? { enhancedCode } : {}),
    ...(shown ? { diagnostic: shown } : {}),
    ...(input.remoteMta ? { remoteMta: input.remoteMta } : {}),
    ...(command ? { command } : {}),
    ...(input.lastAttemptDate ? { lastAttemptDate: input.lastAttemptDate } : {}),
    ...(input.willRetryUntil ? { willRetryUntil: input.willRetryUntil } : {}),
    ...(input.mta ? { mta: input.mta } : {}),
    class: classified.class,
    reason: classified.reason,
    rule: classified.rule,
  };
}

/**
 * A DSN's Diagnostic-Code often keeps only the first line of a multi-line reply; the
 * transcript in the prose ("<<< 550-5.7.1 ...", "<<< 550 5.7.1 ...") has all of it.
 */
function fullerReply(diagnostic: string, segment: string): string {
  if (!diagnostic) return "";
  const replies = segment
    .split("\n")
    .filter((l) => /^\s*<<< /.test(l))
    .map((l) => l.replace(/^\s*<<< /, ""))
    .join(" ");
  const flat = (s: string) => s.toLowerCase().replace(/\s+/g, " ").trim();
  return replies.length > diagnostic.length && flat(replies).includes(flat(diagnostic)) ? replies : diagnostic;
}

function normalizeAction(action: string | undefined): DsnAction | undefined {
  const a = action?.toLowerCase();
  if (a === "failed" || a === "delayed" || a === "delivered" || a === "relayed" || a === "expanded") return a;
  if (a === "failure" || a === "expired") return "failed";
  return undefined;
}

/** Recipients of a bounce: DSN fields first, then what the prose says, then the returned message. */
export function bounceRecipients(
  view: MimeView,
  h: Headers,
  returned: Headers | undefined,
  envelopeTo: string | undefined,
  envelopeFrom: string | undefined,
  autoReply: boolean,
): RecipientReport[] {
  const dsn = mergeDsn(view.deliveryStatus.map(parseDeliveryStatus));
  const report = reportText(view.text);
  if (!dsn.recipients.length) {
    // A DSN inside the prose (WorkMail), or a report whose MIME structure is broken.
    const start = report.search(/^(?:reporting-mta|final-recipient|original-recipient)[ \t]*:/im);
    const inline = start >= 0 ? parseDeliveryStatus(report.slice(start)) : undefined;
    if (inline?.recipients.length) Object.assign(dsn, { ...inline, recipients: inline.recipients });
  }
  const own = new Set(
    ["from", "to", "reply-to", "return-path", "sender", "cc"]
      .flatMap((name) => h.get(name) ?? [])
      .concat(envelopeTo ?? [])
      .concat(returned ? ["from", "sender", "return-path", "reply-to"].flatMap((n) => returned.get(n) ?? []) : [])
      .flatMap((v) => addressesIn(v))
      .map((a) => a.toLowerCase()),
  );
  const isDsn = dsn.recipients.length > 0 || /report-type\s*=\s*"?delivery-status/i.test(header(h, "content-type") ?? "");
  const failedHeader = (h.get("x-failed-recipients") ?? []).flatMap((v) => addressesIn(v));
  // A person's reply that mentions a failed delivery must not bounce anyone: prose alone
  // counts only next to a bounce-like subject. A null sender says "automatic", which
  // auto-replies (RFC 3834 §3.3) say too.
  const nullSender = envelopeFrom !== undefined ? /^<?\s*>?$/.test(envelopeFrom.trim()) : (header(h, "return-path") ?? "").trim() === "<>";
  const surely = isDsn || failedHeader.length > 0 || systemSender(h) || explicitReason(report) !== undefined;
  const maybe = nullSender || (looksLikeBounce(header(h, "subject") ?? "") && looksLikeBounce(report));
  if (!surely && (!maybe || autoReply)) return [];

  const delayed = looksDelayed(report, header(h, "subject"));
  const reportingMta = dsn.reportingMta;
  // The MTA that wrote the report, when lasthop has its reader: it knows where its facts are.
  const lhost = lhostOf({ headers: h, subject: header(h, "subject") ?? "", from: header(h, "from") ?? "", report });
  const read = lhost ? lhost.read({ headers: h, subject: header(h, "subject") ?? "", from: header(h, "from") ?? "", report }) : [];
  const readFor = (address: string | undefined): LhostRecipient | undefined =>
    address ? read.find((r) => r.recipient.toLowerCase() === address.toLowerCase()) : undefined;

  if (dsn.recipients.length) {
    const single = dsn.recipients.length === 1;
    // Any address the DSN names is a recipient, role addresses included (postmaster@ bounces too).
    const mentioned = textRecipients(report, (a) => own.has(a));
    return dsn.recipients.map((r) => {
      const segment = segmentFor(r, mentioned, single);
      const mine = readFor(r.recipient) ?? readFor(r.originalRecipient) ?? (single && read.length === 1 ? read[0] : undefined);
      return recipientReport(r.recipient, {
        action: normalizeAction(r.action) ?? (delayed ? "delayed" : "failed"),
        status: r.status ?? mine?.status,
        diagnostic: r.diagnostic || mine?.diagnostic,
        ...(mine && lhost
          ? { mta: lhost.name, ...(mine.command ? { command: mine.command } : {}), ...(mine.reason ? { mtaReason: mine.reason } : {}) }
          : {}),
        diagnosticType: r.diagnosticType,
        remoteMta: r.remoteMta,
        segment,
        ...(single ? { context: report } : {}),
        reportingMta,
        temporary: delayed,
        lastAttemptDate: r.lastAttemptDate,
        willRetryUntil: r.willRetryUntil,
      });
    });
  }

  const fromReader = read.filter((r) => !own.has(r.recipient.toLowerCase()));
  if (lhost && fromReader.length) {
    const single = fromReader.length === 1;
    return fromReader.map((r) =>
      recipientReport(r.recipient, {
        action: r.action ?? (delayed ? "delayed" : "failed"),
        ...(r.status ? { status: r.status } : {}),
        diagnostic: r.diagnostic,
        segment: r.diagnostic,
        ...(single ? { context: report } : {}),
        ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}),
        temporary: (r.action ?? (delayed ? "delayed" : "failed")) === "delayed",
        mta: lhost.name,
        ...(r.command ? { command: r.command } : {}),
        ...(r.reason ? { mtaReason: r.reason } : {}),
      }),
    );
  }

  // The report's own addresses (its sender, the original sender it is addressed to) are
  // named in the prose too; they are recipients only when nothing else is (a self-sent message).
  const others = textRecipients(report, (a) => own.has(a) || ROLE_ADDRESS.test(a));
  const everyone = others.length ? others : textRecipients(report, () => false);
  // The prose names the recipients with their errors; X-Failed-Recipients (Exim, Gmail) when it does not.
  let named: TextRecipient[] = others.length
    ? others
    : failedHeader.length
      ? failedHeader.map(
          (address) => everyone.find((m) => m.address.toLowerCase() === address.toLowerCase()) ?? { address, line: -1, segment: "" },
        )
      : everyone;
  if (!named.length && returned) {
    // Nothing in the prose names an address: the returned message's To: does (Postfix "report unavailable", Google Groups).
    const to = addressesIn(header(returned, "to") ?? "").filter((a) => !own.has(a.toLowerCase()) || isDsn);
    named = to.slice(0, 1).map((address) => ({ address, line: -1, segment: "" }));
  }
  if (!named.length) return [];
  const single = named.length === 1;
  return named.map((m) =>
    recipientReport(m.address, {
      action: delayed ? "delayed" : "failed",
      segment: m.segment,
      ...(single ? { context: report } : {}),
      temporary: delayed,
    }),
  );
}

function mergeDsn(parts: DsnFields[]): DsnFields {
  const merged: DsnFields = { recipients: [] };
  for (const part of parts) {
    merged.reportingMta ??= part.reportingMta;
    merged.arrivalDate ??= part.arrivalDate;
    merged.originalEnvelopeId ??= part.originalEnvelopeId;
    merged.recipients.push(...part.recipients);
  }
  return merged;
}

/** The prose about one DSN recipient: by address, or the only one there is. */
function segmentFor(r: DsnRecipientFields, mentioned: TextRecipient[], single: boolean): string {
  const keys = [r.recipient, r.originalRecipient].filter((a): a is string => !!a).map((a) => a.toLowerCase());
  const found = mentioned.find((m) => keys.includes(m.address.toLowerCase()));
  if (found) return found.segment;
  return single && mentioned.length === 1 ? (mentioned[0]?.segment ?? "") : "";
}

/** Addresses a report names to be contacted ("ask postmaster@..."), rarely the failed recipient. */
const ROLE_ADDRESS = /^(?:postmaster|mailer-daemon|abuse|hostmaster|webmaster|no-?reply|support|help|helpdesk|root)@/i;

export function systemSender(h: Headers): boolean {
  const from = (header(h, "from") ?? "").toLowerCase();
  return /mailer-daemon|post_?master|mail delivery|mail administrator|mail-daemon/.test(from);
}
