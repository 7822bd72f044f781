/**
 * SMTP replies (RFC 5321 §4.2) and enhanced status codes (RFC 3463) to outcomes, shared by
 * the bridge (relay answers) and the edge. The class decides suppression: only a dead
 * mailbox or domain is `hard`; a 5xx policy or spam block (5.7.x) ends this message but
 * does not condemn the address.
 */
import type { BounceClass } from "./model.ts";
import type { SendOutcome } from "./outcome.ts";

export type SmtpReply = { code: number; enhancedCode?: string; text: string; remoteMta?: string };

/** Finds the RFC 3463 code at the start of a reply's text ("5.1.1 User unknown"). */
export function enhancedCodeOf(text: string): string | undefined {
  return /(?:^|\s)([245]\.\d{1,3}\.\d{1,3})(?=\s|$|[.,;:])/.exec(text)?.[1];
}

/**
 * Class and reason (Sisimai's vocabulary) from the enhanced code, then the reply code.
 * The table is by RFC 3463 subject.detail; the feedback-path parser refines this with
 * diagnostic text patterns.
 */
export function classifyReply(reply: SmtpReply): { class: BounceClass; reason: string } {
  const enhanced = reply.enhancedCode ?? enhancedCodeOf(reply.text);
  const permanent = reply.code >= 500 || enhanced?.startsWith("5.") === true;
  const detail = enhanced?.split(".").slice(1).join(".");
  const byDetail: Record<string, [BounceClass, string]> = {
    "1.1": ["hard", "userunknown"], // bad destination mailbox address
    "1.2": ["hard", "hostunknown"], // bad destination system address
    "1.3": ["soft", "syntaxerror"],
    "1.6": ["hard", "hasmoved"], // destination mailbox has moved
    "1.10": ["hard", "notaccept"], // RFC 7505 null MX
    "2.1": ["soft", "suspend"], // mailbox disabled
    "2.2": ["soft", "mailboxfull"],
    "2.3": ["soft", "mesgtoobig"],
    "3.4": ["soft", "mesgtoobig"],
    "4.1": ["soft", "networkerror"],
    "4.4": ["soft", "networkerror"],
    "4.7": ["soft", "expired"],
    "7.1": ["soft", "rejected"], // delivery not authorized, message refused (policy, spam)
    "7.26": ["soft", "authfailure"],
    "7.25": ["soft", "requireptr"],
  };
  const hit = detail ? byDetail[detail] : undefined;
  if (hit) return { class: permanent || hit[0] === "soft" ? hit[0] : "soft", reason: hit[1] };
  if (!permanent) return { class: "soft", reason: "undefined" };
  return { class: "undetermined", reason: "undefined" };
}

/**
 * RFC 3463 / IANA enhanced status codes to the reason in Sisimai's vocabulary, class-aware
 * (4.2.1 and 5.2.1 do not mean the same thing in practice). This is the finer table the
 * feedback path (src/core/bounce) starts from; `classifyReply` above keeps its coarser
 * subject.detail mapping for relay answers. Codes absent here (x.0.0, 4.4.0, 5.5.1, ...)
 * say too little: the diagnostic text decides.
 */
const statusReasons: Readonly<Record<string, string>> = {
  "2.1.5": "delivered",
  "4.1.6": "hasmoved",
  "4.1.7": "rejected",
  "4.1.8": "rejected",
  "4.1.9": "systemerror",
  "4.2.1": "blocked",
  "4.2.2": "mailboxfull",
  "4.2.3": "exceedlimit",
  "4.2.4": "filtered",
  "4.3.1": "systemfull",
  "4.3.2": "notaccept",
  "4.3.3": "systemerror",
  "4.3.5": "systemerror",
  "4.4.1": "expired",
  "4.4.2": "networkerror",
  "4.4.3": "systemerror",
  "4.4.4": "networkerror",
  "4.4.5": "systemfull",
  "4.4.6": "networkerror",
  "4.4.7": "expired",
  "4.4.8": "networkerror",
  "4.5.3": "systemerror",
  "4.5.5": "systemerror",
  "4.6.0": "contenterror",
  "4.6.2": "contenterror",
  "4.6.5": "contenterror",
  "4.7.1": "blocked",
  "4.7.2": "blocked",
  "4.7.5": "securityerror",
  "4.7.6": "securityerror",
  "4.7.7": "securityerror",
  "4.7.12": "securityerror",
  "4.7.15": "securityerror",
  "4.7.16": "mesgtoobig",
  "4.7.24": "authfailure",
  "4.7.25": "requireptr",
  "4.7.26": "authfailure",
  "5.1.0": "userunknown",
  "5.1.1": "userunknown",
  "5.1.2": "hostunknown",
  "5.1.3": "userunknown",
  "5.1.4": "filtered",
  "5.1.6": "hasmoved",
  "5.1.7": "rejected",
  "5.1.8": "rejected",
  "5.1.9": "systemerror",
  "5.1.10": "notaccept",
  "5.2.0": "filtered",
  "5.2.1": "filtered",
  "5.2.2": "mailboxfull",
  "5.2.3": "exceedlimit",
  "5.2.4": "filtered",
  "5.3.0": "systemerror",
  "5.3.1": "systemfull",
  "5.3.2": "notaccept",
  "5.3.3": "systemerror",
  "5.3.4": "mesgtoobig",
  "5.3.5": "systemerror",
  "5.4.0": "networkerror",
  "5.4.3": "systemerror",
  "5.4.4": "hostunknown",
  "5.5.2": "syntaxerror",
  "5.5.3": "toomanyconn",
  "5.5.4": "systemerror",
  "5.5.5": "systemerror",
  "5.5.6": "syntaxerror",
  "5.6.0": "contenterror",
  "5.6.1": "contenterror",
  "5.6.2": "contenterror",
  "5.6.3": "contenterror",
  "5.6.5": "contenterror",
  "5.6.6": "contenterror",
  "5.6.7": "contenterror",
  "5.6.8": "contenterror",
  "5.6.9": "contenterror",
  "5.7.0": "securityerror",
  "5.7.1": "securityerror",
  "5.7.2": "securityerror",
  "5.7.3": "securityerror",
  "5.7.4": "securityerror",
  "5.7.5": "securityerror",
  "5.7.6": "securityerror",
  "5.7.7": "securityerror",
  "5.7.8": "securityerror",
  "5.7.9": "securityerror",
  "5.7.10": "securityerror",
  "5.7.11": "securityerror",
  "5.7.13": "suspend",
  "5.7.14": "securityerror",
  "5.7.15": "securityerror",
  "5.7.16": "mesgtoobig",
  "5.7.17": "hasmoved",
  "5.7.18": "hasmoved",
  "5.7.19": "securityerror",
  "5.7.20": "authfailure",
  "5.7.21": "authfailure",
  "5.7.22": "authfailure",
  "5.7.23": "authfailure",
  "5.7.24": "authfailure",
  "5.7.25": "requireptr",
  "5.7.26": "authfailure",
  "5.7.27": "notaccept",
  "5.7.28": "spamdetected",
  "5.7.29": "authfailure",
  "5.7.30": "failedstarttls",
};

/** The reason an enhanced status code names on its own, if it names one ("5.2.2" → "mailboxfull"). */
export function statusReason(enhancedCode: string | undefined): string | undefined {
  return enhancedCode ? statusReasons[enhancedCode] : undefined;
}

/** The outcome of one RCPT/DATA answer from the next hop. */
export function smtpOutcome(reply: SmtpReply, queueId?: string): SendOutcome {
  const enhancedCode = reply.enhancedCode ?? enhancedCodeOf(reply.text);
  const detail: Record<string, unknown> = {
    smtpCode: reply.code,
    ...(enhancedCode ? { enhancedCode } : {}),
    response: reply.text.slice(0, 512),
    ...(reply.remoteMta ? { remoteMta: reply.remoteMta } : {}),
  };
  if (reply.code >= 200 && reply.code < 300) {
    // 250 after DATA is custody by the receiving MTA, not delivery to the mailbox.
    return { kind: "accepted", detail: { ...detail, ...(queueId ? { providerMessageId: queueId } : {}) } };
  }
  if (reply.code >= 400 && reply.code < 500)
    return {
      kind: "retry",
      detail: { ...detail, reason: "deferred", ...(throttlingReply({ ...reply, enhancedCode }) ? { throttled: true } : {}) },
    };
  const { class: bounceClass, reason } = classifyReply({ ...reply, enhancedCode });
  return { kind: "bounced", detail: { ...detail, class: bounceClass, reason, diagnostic: reply.text.slice(0, 512) } };
}

/** 4.7.x codes that name a security or authentication problem, not the sender's pace. */
const NOT_PACE = new Set(["4.7.5", "4.7.6", "4.7.7", "4.7.12", "4.7.15", "4.7.24", "4.7.25", "4.7.26"]);
const PACE_TEXT = /\b(rate|too many|throttl|volume|slow down|busy|TS0[1-4])/i;
const GREYLIST = /\b(grey|gray)[ -]?list/i;

/**
 * Whether a transient reply asks the sender to slow down, for the destination's adaptive
 * throttle: 421 (the service closes the channel: Yahoo's "[TSS04] temporarily deferred due to
 * unexpected volume", Gmail's "421-4.7.0 … unusual rate"), or a 4.7.x other than an
 * authentication or TLS problem, or a 4xx whose text speaks of rate or volume (Microsoft's
 * "451 4.7.500 Server busy", "4.7.650 … rate limited"). Not one: 454 (TLS not available, RFC
 * 3207, or a temporary AUTH failure, RFC 4954: the server's state), greylisting whatever code it
 * wears ("450 4.2.0", "451 4.7.1": it asks for a later retry of this message, not a slower pace),
 * and X.1.x / X.2.x (the address or the mailbox: full, or one recipient receiving too fast,
 * Gmail's "450-4.2.1 … at a rate": slowing the whole destination would not help).
 */
export function throttlingReply(reply: SmtpReply): boolean {
  if (reply.code < 400 || reply.code >= 500) return false;
  // A continuation line's code as well ("421-4.7.26 …" quoted alone), which enhancedCodeOf does not read.
  const enhanced = reply.enhancedCode ?? enhancedCodeOf(reply.text) ?? /^[45]\d\d-([45]\.\d{1,3}\.\d{1,3})\b/.exec(reply.text)?.[1];
  if (enhanced !== undefined && NOT_PACE.has(enhanced)) return false;
  if (reply.code === 454 || GREYLIST.test(reply.text)) return false;
  if (reply.code === 421) return true;
  if (enhanced?.startsWith("4.1.") || enhanced?.startsWith("4.2.")) return false;
  if (enhanced?.startsWith("4.7.")) return true;
  return PACE_TEXT.test(reply.text);
}

/** The queue id most MTAs print in their 250 after DATA ("250 2.0.0 Ok: queued as 4Bx…"). */
export function queueIdOf(text: string): string | undefined {
  return /queued as ([A-Za-z0-9._-]+)/i.exec(text)?.[1] ?? /\bid[=: ]+([A-Za-z0-9._-]{6,})/i.exec(text)?.[1];
}
