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
  if (reply.code >= 400 && reply.code < 500) return { kind: "retry", detail: { ...detail, reason: "deferred" } };
  const { class: bounceClass, reason } = classifyReply({ ...reply, enhancedCode });
  return { kind: "bounced", detail: { ...detail, class: bounceClass, reason, diagnostic: reply.text.slice(0, 512) } };
}

/** The queue id most MTAs print in their 250 after DATA ("250 2.0.0 Ok: queued as 4Bx…"). */
export function queueIdOf(text: string): string | undefined {
  return /queued as ([A-Za-z0-9._-]+)/i.exec(text)?.[1] ?? /\bid[=: ]+([A-Za-z0-9._-]{6,})/i.exec(text)?.[1];
}
