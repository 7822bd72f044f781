/**
 * Complaints: RFC 5965 ARF reports (message/feedback-report), and the formats that carry
 * the same facts without it: Amazon SES/SNS JSON notifications delivered by mail (which
 * also carry bounces and deliveries), Microsoft's JMRP reports (the complained message
 * attached, no report part), Apple Mail's one-click unsubscribe notice.
 */
import { addressIn, addressesIn } from "./address.ts";
import { fieldBlocks, fieldValue, fieldValues, typedValue } from "./fields.ts";
import { header, type Headers } from "./headers.ts";
import type { ComplaintDetail } from "./types.ts";

/** RFC 5965 §3.1/3.2 fields of a message/feedback-report part. */
export function parseFeedbackReport(text: string): ComplaintDetail {
  const fields = fieldBlocks(text).flat();
  const get = (name: string) => fieldValue(fields, name);
  const rcpts = [...fieldValues(fields, "original-rcpt-to"), ...fieldValues(fields, "removal-recipient")];
  const mailFrom = get("original-mail-from");
  return {
    feedbackType: (get("feedback-type") ?? "other").toLowerCase(),
    ...(get("user-agent") ? { userAgent: get("user-agent") } : {}),
    ...(get("version") ? { version: get("version") } : {}),
    originalRcptTo: rcpts.map((r) => addressIn(r)).filter((a): a is string => !!a),
    ...(mailFrom ? { originalMailFrom: addressIn(mailFrom) ?? mailFrom } : {}),
    ...((get("arrival-date") ?? get("received-date")) ? { arrivalDate: get("arrival-date") ?? get("received-date") } : {}),
    ...(get("source-ip") ? { sourceIp: get("source-ip") } : {}),
    ...(get("reported-domain") ? { reportedDomain: get("reported-domain") } : {}),
  };
}

/** Microsoft JMRP and Amazon SES forward complaints as "complaint about message from <ip>". */
export function isComplaintForward(headers: Headers, returned: Headers | undefined): boolean {
  const subject = header(headers, "subject") ?? "";
  if (/complaint about message from/i.test(subject) && returned) return true;
  return returned?.has("x-hmxmroriginalrecipient") === true;
}

/** The recipient a JMRP report is about: Microsoft names it in a header of the attached message. */
export function complainedRecipient(returned: Headers | undefined): string | undefined {
  const named = header(returned ?? new Map(), "x-hmxmroriginalrecipient");
  return (named && addressIn(named)) ?? addressIn(header(returned ?? new Map(), "to") ?? "");
}

/** Apple Mail's "unsubscribe" notice (X-Apple-Unsubscribe: true), sent from the recipient's own address. */
export function isAppleUnsubscribe(headers: Headers): boolean {
  return (header(headers, "x-apple-unsubscribe") ?? "").trim().toLowerCase() === "true";
}

export type SesNotification =
  | { type: "complaint"; complaint: ComplaintDetail; headers: Array<{ name: string; value: string }>; timestamp?: string }
  | {
      type: "bounce" | "delivery";
      recipients: Array<{ recipient: string; action?: string; status?: string; diagnostic?: string; remoteMta?: string }>;
      bounceType?: string;
      headers: Array<{ name: string; value: string }>;
      reportingMta?: string;
      timestamp?: string;
    };

/**
 * An Amazon SES notification (SNS → email subscription): a JSON object in the body,
 * followed by SNS's unsubscribe footer. Undefined when the body holds no such object.
 */
export function sesNotification(body: string): SesNotification | undefined {
  const start = body.search(/\{\s*"(?:notificationType|eventType)"/);
  if (start < 0) return undefined;
  const json = balancedObject(body, start);
  if (!json) return undefined;
  let value: Record<string, unknown>;
  try {
    // Sendmail splits lines over 990 octets with "!\n " (the SNS JSON is one long line).
    value = record(JSON.parse(json.replace(/!\r?\n /g, "").replace(/\r?\n/g, "")));
  } catch {
    return undefined;
  }
  const mail = record(value.mail);
  const headers = list(mail.headers)
    .map(record)
    .filter((h) => typeof h.name === "string" && typeof h.value === "string")
    .map((h) => ({ name: String(h.name), value: String(h.value) }));
  const kind = (text(value.notificationType) ?? text(value.eventType) ?? "").toLowerCase();
  if (kind === "complaint") {
    const c = record(value.complaint);
    const arrival = text(c.arrivalDate) ?? text(c.timestamp);
    return {
      type: "complaint",
      complaint: {
        // SES leaves complaintFeedbackType out when the mailbox provider did not say which: a complaint is abuse.
        feedbackType: (text(c.complaintFeedbackType) ?? "abuse").toLowerCase(),
        ...(text(c.userAgent) ? { userAgent: text(c.userAgent) } : {}),
        originalRcptTo: list(c.complainedRecipients).flatMap((r) => addressesIn(text(record(r).emailAddress) ?? "")),
        ...(text(mail.source) ? { originalMailFrom: text(mail.source) } : {}),
        ...(arrival ? { arrivalDate: arrival } : {}),
        ...(text(mail.sourceIp) ? { sourceIp: text(mail.sourceIp) } : {}),
      },
      headers,
      ...(text(c.timestamp) ? { timestamp: text(c.timestamp) } : {}),
    };
  }
  if (kind === "bounce") {
    const b = record(value.bounce);
    const reporting = text(b.reportingMTA);
    return {
      type: "bounce",
      ...(text(b.bounceType) ? { bounceType: text(b.bounceType) } : {}),
      recipients: list(b.bouncedRecipients).map((entry) => {
        const r = record(entry);
        return {
          recipient: text(r.emailAddress) ?? "",
          ...(text(r.action) ? { action: text(r.action) } : {}),
          ...(text(r.status) ? { status: text(r.status) } : {}),
          ...(text(r.diagnosticCode) ? { diagnostic: text(r.diagnosticCode) } : {}),
        };
      }),
      ...(reporting ? { reportingMta: typedValue(reporting).value } : {}),
      headers,
      ...(text(b.timestamp) ? { timestamp: text(b.timestamp) } : {}),
    };
  }
  if (kind === "delivery") {
    const d = record(value.delivery);
    return {
      type: "delivery",
      recipients: list(d.recipients).map((r) => ({
        recipient: text(r) ?? "",
        action: "delivered",
        ...(text(d.smtpResponse) ? { diagnostic: text(d.smtpResponse) } : {}),
        ...(text(d.remoteMtaIp) ? { remoteMta: text(d.remoteMtaIp) } : {}),
      })),
      ...(text(d.reportingMTA) ? { reportingMta: text(d.reportingMTA) } : {}),
      headers,
      ...(text(d.timestamp) ? { timestamp: text(d.timestamp) } : {}),
    };
  }
  return undefined;
}

const record = (v: unknown): Record<string, unknown> =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const text = (v: unknown): string | undefined => (typeof v === "string" && v ? v : typeof v === "number" ? String(v) : undefined);

/** The JSON object starting at `start`, by brace counting (strings and escapes respected); bounded. */
function balancedObject(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  const limit = Math.min(text.length, start + 1024 * 1024);
  for (let i = start; i < limit; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{") depth++;
    else if (ch === "}" && --depth === 0) return text.slice(start, i + 1);
  }
  return undefined;
}
