/**
 * What one inbound feedback message (a DSN, an ARF complaint, an auto-reply, or anything
 * else that reached the bounce address) says, after parsing and classification.
 */
import type { BounceClass } from "../model.ts";

export type FeedbackKind = "dsn" | "arf" | "autoreply" | "unknown";

/** RFC 3464 §2.3.3 actions. Only `failed` is a bounce; `delayed` is a deferral. */
export type DsnAction = "failed" | "delayed" | "delivered" | "relayed" | "expanded";

/** The SMTP command a remote server was answering when it refused (CONN: the greeting). */
export type SmtpCommand = "CONN" | "HELO" | "EHLO" | "STARTTLS" | "AUTH" | "MAIL" | "RCPT" | "DATA";

export type RecipientReport = {
  recipient: string;
  action: DsnAction;
  /** The `Status:` field as reported (or the code the text carries when there is no DSN part). */
  status: string;
  smtpCode?: number;
  /** The most specific RFC 3463 code found in Status and diagnostic together. */
  enhancedCode?: string;
  diagnostic?: string;
  remoteMta?: string;
  command?: SmtpCommand;
  lastAttemptDate?: string;
  willRetryUntil?: string;
  /** The MTA whose reader (lhost/) found this recipient's facts. */
  mta?: string;
  class: BounceClass;
  /** Sisimai's vocabulary: userunknown, mailboxfull, ..., delivered for non-bounce actions. */
  reason: string;
  /** Which rule of the classifier decided the reason (classify.ts): a wrong result can be traced. */
  rule: string;
};

/** RFC 5965 §3.1/3.2 fields (and their equivalents in SES JSON and Microsoft JMRP reports). */
export type ComplaintDetail = {
  feedbackType: string;
  userAgent?: string;
  version?: string;
  originalRcptTo: string[];
  originalMailFrom?: string;
  arrivalDate?: string;
  sourceIp?: string;
  reportedDomain?: string;
};

/**
 * `recipients`: for a DSN, one entry per recipient it reports on; for a complaint or an
 * auto-reply, the addresses it names, as `action: "delivered"` (the message arrived, then
 * was complained about or answered) with `class: "undetermined"` and reason `feedback` or
 * `vacation`. Only DSN entries with `failed` or `delayed` become bounce events (events.ts).
 */
export type FeedbackReport = {
  kind: FeedbackKind;
  /** The envelope recipient the report was addressed to (given, or read from its headers). */
  envelopeTo?: string;
  /** The lasthop message this report is about, or null when nothing links it. */
  messageId: string | null;
  /** How `messageId` was found. */
  linkedBy?: "verp" | "x-lasthop-message-id" | "message-id" | "original-envelope-id" | "in-reply-to";
  recipients: RecipientReport[];
  feedback?: ComplaintDetail;
  reportingMta?: string;
  arrivalDate?: string;
  originalEnvelopeId?: string;
  /** The report's own Date and Message-ID: they tell two reports about the same message apart. */
  date?: string;
  reportId?: string;
  subject?: string;
};
