/**
 * One inbound feedback message → a FeedbackReport: what kind it is (DSN, ARF complaint,
 * auto-reply, unknown), which recipients it is about with their classification, and
 * which lasthop message it links to. Never throws: garbage is `kind: "unknown"`.
 */
import { messageIdFromVerp } from "../email.ts";
import { addressIn, addressesIn } from "./address.ts";
import { complainedRecipient, isAppleUnsubscribe, isComplaintForward, parseFeedbackReport, sesNotification } from "./arf.ts";
import { isAutoReply } from "./autoreply.ts";
import { parseDeliveryStatus } from "./dsn.ts";
import { header, headerMap, leadingHeaders, type Headers } from "./headers.ts";
import { linkMessage } from "./link.ts";
import { readMessage, toBytes, type MimeView } from "./mime.ts";
import { bounceRecipients, sesRecipients, systemSender } from "./recipients.ts";
import type { ComplaintDetail, DsnAction, FeedbackReport, RecipientReport } from "./types.ts";

export type ParseOptions = {
  /** The envelope recipient (RCPT TO) the report arrived for: the VERP address when it is ours. */
  envelopeTo?: string;
  /** The envelope sender (MAIL FROM): empty or "<>" for a bounce (RFC 5321 §4.5.5). */
  envelopeFrom?: string;
};

export async function parseFeedbackMessage(raw: string | ArrayBuffer | Uint8Array, options: ParseOptions = {}): Promise<FeedbackReport> {
  return parseAt(raw, options, 0);
}

async function parseAt(raw: string | ArrayBuffer | Uint8Array, options: ParseOptions, depth: number): Promise<FeedbackReport> {
  let view: MimeView;
  try {
    view = await readMessage(toBytes(raw));
  } catch {
    return { kind: "unknown", messageId: null, recipients: [] };
  }
  const headers = view.headers;
  const returned = view.returned.map(leadingHeaders);
  const base = baseReport(view, options);
  const ses = sesNotification(view.text) ?? (view.text ? undefined : sesNotification(view.body));
  const sesHeaders = ses ? headerMap(ses.headers.map((h) => ({ key: h.name, value: h.value }))) : undefined;
  // A complaint names our VERP return-path as Original-Mail-From: as good as the envelope.
  const arfMailFrom = view.feedbackReport.length ? parseFeedbackReport(view.feedbackReport.join("\n\n")).originalMailFrom : undefined;
  const link = linkMessage({
    envelopeTo: [
      base.envelopeTo,
      ...envelopeHeaders(headers),
      arfMailFrom,
      ses?.type === "complaint" ? ses.complaint.originalMailFrom : undefined,
    ].filter((a): a is string => !!a),
    returned: sesHeaders ? [sesHeaders, ...returned] : returned,
    body: view.body,
    originalEnvelopeId: base.originalEnvelopeId,
    reportHeaders: headers,
  });
  const linked = { messageId: link?.messageId ?? null, ...(link ? { linkedBy: link.linkedBy } : {}) };

  // 1. Complaints (RFC 5965 and the formats that say the same without it).
  const complaint = complaintOf(view, headers, returned[0], ses);
  if (complaint) {
    return {
      ...base,
      ...linked,
      kind: "arf",
      feedback: complaint,
      recipients: complaint.originalRcptTo.map((recipient) => notABounce(recipient, "feedback")),
    };
  }

  // 2. Delivery reports, standard or not.
  const from = addressIn(header(headers, "from") ?? "") ?? addressIn(header(headers, "return-path") ?? "");
  const autoReply = isAutoReply(headers, from);
  let recipients =
    ses && ses.type !== "complaint"
      ? sesRecipients(ses)
      : bounceRecipients(view, headers, returned[0], options.envelopeTo, options.envelopeFrom, autoReply);
  if (
    depth === 0 &&
    view.attachedMessage &&
    recipients.every((r) => r.reason === "undefined" || r.reason === "onhold") &&
    forwardedBounce(returned[0])
  ) {
    // A bounce forwarded as an attachment (a gateway relaying the real MTA's report).
    const inner = await parseAt(view.attachedMessage, options, depth + 1);
    if (inner.kind === "dsn" && inner.recipients.length) recipients = inner.recipients;
  }
  if (recipients.length) {
    return {
      ...base,
      ...linked,
      kind: "dsn",
      recipients,
      ...(ses && ses.type !== "complaint" && ses.reportingMta ? { reportingMta: ses.reportingMta } : {}),
    };
  }

  // 3. Auto-replies: the recipient's mailbox answered, so it exists.
  if (autoReply) {
    return { ...base, ...linked, kind: "autoreply", recipients: from ? [notABounce(from, "vacation")] : [] };
  }
  return { ...base, ...linked, kind: "unknown", recipients: [] };
}

function baseReport(view: MimeView, options: ParseOptions): FeedbackReport {
  const h = view.headers;
  const dsn = view.deliveryStatus.map(parseDeliveryStatus);
  const first = dsn.find((d) => d.reportingMta || d.arrivalDate || d.originalEnvelopeId);
  const candidates = envelopeHeaders(h).flatMap((v) => addressesIn(v));
  const envelopeTo = options.envelopeTo ?? candidates.find((a) => messageIdFromVerp(a)) ?? candidates[0];
  const date = header(h, "date");
  const reportId = header(h, "message-id");
  const subject = header(h, "subject");
  return {
    kind: "unknown",
    messageId: null,
    recipients: [],
    ...(envelopeTo ? { envelopeTo: addressIn(envelopeTo) ?? envelopeTo } : {}),
    ...(first?.reportingMta ? { reportingMta: first.reportingMta } : {}),
    ...(first?.arrivalDate ? { arrivalDate: first.arrivalDate } : {}),
    ...(first?.originalEnvelopeId ? { originalEnvelopeId: first.originalEnvelopeId } : {}),
    ...(date ? { date } : {}),
    ...(reportId ? { reportId } : {}),
    ...(subject ? { subject } : {}),
  };
}

/** Where the report was delivered: the VERP address survives here when every other header is stripped. */
function envelopeHeaders(h: Headers): string[] {
  return ["delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to"].flatMap((name) => [...(h.get(name) ?? [])]);
}

function complaintOf(
  view: MimeView,
  h: Headers,
  returned: Headers | undefined,
  ses: ReturnType<typeof sesNotification>,
): ComplaintDetail | undefined {
  if (view.feedbackReport.length) {
    const report = parseFeedbackReport(view.feedbackReport.join("\n\n"));
    const recipient = report.originalRcptTo.length ? undefined : addressIn(header(returned ?? new Map(), "to") ?? "");
    return recipient ? { ...report, originalRcptTo: [recipient] } : report;
  }
  const contentType = header(h, "content-type") ?? "";
  if (/report-type\s*=\s*"?feedback-report/i.test(contentType)) {
    // The report part did not parse (wrong boundaries): read its fields from the raw body.
    const report = parseFeedbackReport(view.body.slice(0, 256 * 1024));
    if (report.feedbackType !== "other" || report.originalRcptTo.length) return report;
  }
  if (ses?.type === "complaint") return ses.complaint;
  if (isComplaintForward(h, returned)) {
    const recipient = complainedRecipient(returned);
    return { feedbackType: "abuse", originalRcptTo: recipient ? [recipient] : [] };
  }
  if (isAppleUnsubscribe(h)) {
    const from = addressIn(header(h, "from") ?? "");
    return { feedbackType: "opt-out", userAgent: "Apple Mail", originalRcptTo: from ? [from] : [] };
  }
  return undefined;
}

/** A recipient named by a report that is not a bounce (a complaint, an auto-reply, a success DSN). */
function notABounce(recipient: string, reason: string, action: DsnAction = "delivered"): RecipientReport {
  return { recipient, action, status: "", class: "undetermined", reason, rule: "not-a-bounce" };
}

function forwardedBounce(h: Headers | undefined): boolean {
  if (!h) return false;
  return /report-type\s*=\s*"?delivery-status/i.test(header(h, "content-type") ?? "") || systemSender(h);
}
