/**
 * Bounce classification: `{class, reason}` with the reason in Sisimai's vocabulary and
 * Sisimai's hard rule (userunknown, hostunknown, hasmoved, and notaccept with a permanent
 * code are hard; everything else, undefined and onhold included, is soft).
 *
 * Order of evidence, strongest first:
 * 1. the reporting MTA's own summary wording (`hint`, from report.ts), when it names a
 *    final reason;
 * 2. providers whose codes mean something of their own (patterns.ts `remoteHosts`);
 * 3. the enhanced status code (smtp.ts `statusReason`), checked against the diagnostic
 *    text, in a fixed order of reasons: many servers send 5.1.1 for a full mailbox or
 *    550 5.7.1 for an unknown user, so a code only wins when the words do not contradict it;
 * 4. the diagnostic words alone, where the command matters: "user unknown" in answer to
 *    RCPT TO is a dead address, the same words after DATA are a content filter talking;
 * 5. what is left: the code's subject, the reply code, the action.
 */
import type { BounceClass } from "../model.ts";
import { statusReason } from "../smtp.ts";
import { matchesAny, notRejected, reasonPhrases, remoteHosts, type RemoteHost } from "./patterns.ts";
import type { DsnAction, SmtpCommand } from "./types.ts";

export type BounceFacts = {
  action: DsnAction;
  /** The most specific RFC 3463 code known for this recipient. */
  enhancedCode?: string;
  smtpCode?: number;
  /** The remote server's reply, or the reporting MTA's words when there is none. */
  diagnostic?: string;
  /** RFC 3464 diagnostic-type: "smtp" (or absent) for a remote SMTP reply, "x-unix", "x-postfix"... */
  diagnosticType?: string;
  command?: SmtpCommand;
  /** Host names that may identify the provider: remote MTA, hosts named in the text, reporting MTA. */
  hosts?: readonly string[];
  /** The recipient's domain: a provider's own domain names it as surely as its MX does. */
  recipientDomain?: string;
  /** A reason the reporting MTA's own wording states (report.ts). */
  hint?: string;
  /** The report says outright the failure is temporary (a delay notice) or permanent. */
  temporary?: boolean;
};

export type Classification = { class: BounceClass; reason: string };

const HARD = new Set(["userunknown", "hostunknown", "hasmoved"]);
const NOT_BOUNCES = new Set(["delivered", "feedback", "vacation"]);
/** Reasons a first reading may get wrong: evidence found later still counts (Sisimai's "retry" set). */
const TENTATIVE = new Set(["undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror", "hostunknown", "userunknown"]);
/** Commands before the message content: a refusal there cannot be about the content. */
const BEFORE_DATA = new Set<SmtpCommand | undefined>(["CONN", "EHLO", "HELO", "MAIL", "RCPT"]);

export function classifyBounce(facts: BounceFacts): Classification {
  const reason = reasonOf(facts);
  return { class: classOf(reason, isPermanent(facts)), reason };
}

/** Sisimai's hard rule. */
export function classOf(reason: string, permanent: boolean): BounceClass {
  if (NOT_BOUNCES.has(reason)) return "undetermined";
  if (HARD.has(reason)) return "hard";
  if (reason === "notaccept") return permanent ? "hard" : "soft";
  return "soft";
}

/** Permanent unless a code or the report says otherwise. */
export function isPermanent(facts: BounceFacts): boolean {
  if (facts.action === "delayed") return false;
  if (facts.enhancedCode) return facts.enhancedCode.startsWith("5");
  if (facts.smtpCode) return facts.smtpCode >= 500;
  return facts.temporary !== true;
}

/**
 * Lower case, one space, and a multi-line SMTP reply made one line again: "550-5.2.1 The user
 * ... at a 550-5.2.1 rate that" reads "550-5.2.1 the user ... at a rate that". This is the
 * form patterns.ts is written for.
 */
export function normalizeText(text: string | undefined): string {
  let t = (text ?? "").toLowerCase().replace(/\s+/g, " ").trim();
  const lead = /(?:^|\s)([245]\d\d)[- ](?:([245]\.\d{1,3}\.\d{1,3})\s)?/.exec(t);
  if (lead) {
    const end = lead.index + lead[0].length;
    const prefix = new RegExp(`\\s${lead[1]}[- ]${lead[2] ? `(?:${lead[2].replace(/\./g, "\\.")}\\s?)?` : ""}`, "g");
    t = t.slice(0, end) + t.slice(end).replace(prefix, " ");
  }
  return t.replace(/\s+/g, " ");
}

function reasonOf(facts: BounceFacts): string {
  if (facts.action === "delivered" || facts.action === "relayed" || facts.action === "expanded") return "delivered";
  if (facts.enhancedCode?.startsWith("2.")) return "delivered";
  // A diagnosis is a few lines; past 16 KB it is not one, and bounded input keeps matching linear.
  const text = normalizeText(facts.diagnostic?.slice(0, 16 * 1024));
  if (facts.hint && !TENTATIVE.has(facts.hint)) return facts.hint;
  const byProvider = providerReason(facts, text);
  if (byProvider) return byProvider;

  const smtpLike = !facts.diagnosticType || facts.diagnosticType === "smtp";
  const byCode = statusReason(facts.enhancedCode);
  let reason = smtpLike ? probe(facts, text, byCode) : undefined;
  if (!reason || reason === "undefined") {
    reason = secondLook(facts, text, byCode, smtpLike);
    if (reason === "undefined") reason = undefined;
    if (!reason && facts.action === "delayed") reason = "expired";
    if (!reason) reason = matchesAny(text, reasonPhrases.vacation) ? "vacation" : text ? "onhold" : "undefined";
  }
  return reason;
}

/** Rule 2: the provider's own code book. */
function providerReason(facts: BounceFacts, text: string): string | undefined {
  const provider = providerOf(facts.recipientDomain, facts.hosts ?? []);
  if (!provider) return undefined;
  const klass = facts.enhancedCode?.[0] ?? (facts.smtpCode ? String(facts.smtpCode)[0] : undefined);
  for (const rule of provider.rules) {
    if (rule.code !== undefined && facts.enhancedCode !== rule.code) continue;
    if (rule.klass && klass !== rule.klass) continue;
    if (rule.command && facts.command !== rule.command) continue;
    if (rule.phrase === "") return rule.reason;
    if (!text) continue;
    if (typeof rule.phrase === "string" ? text.includes(rule.phrase) : rule.phrase.test(text)) return rule.reason;
  }
  return undefined;
}

function providerOf(domain: string | undefined, hosts: readonly string[]): RemoteHost | undefined {
  if (domain) {
    // user@icloud.com is Apple's whatever MX answered: the provider's hosts live under the domain.
    const d = domain.toLowerCase();
    const found = remoteHosts.find((p) => p.hosts.some((h) => h === d || h.endsWith(`.${d}`) || d.endsWith(`.${h}`)));
    if (found) return found;
  }
  for (const raw of hosts) {
    const host = raw.toLowerCase().replace(/\.$/, "");
    const found = remoteHosts.find((p) => p.hosts.some((h) => host === h || host.endsWith(`.${h}`)));
    if (found) return found;
  }
  return undefined;
}

/** Whether the text says `reason`; "rejected" words about the recipient address are not about the sender. */
const has = (text: string, reason: string) =>
  matchesAny(text, reasonPhrases[reason]) && (reason !== "rejected" || !matchesAny(text, notRejected));

/**
 * Rules 3 and 4: each reason in turn, the first that holds wins. The order matters: a full
 * mailbox often comes with 5.1.1, a relay refusal with "user unknown".
 */
function probe(facts: BounceFacts, text: string, byCode: string | undefined): string | undefined {
  const { hint, command } = facts;
  const is = (reason: string) => hint === reason;
  const order: Array<[string, () => boolean]> = [
    ["mailboxfull", () => byCode === "mailboxfull" || has(text, "mailboxfull")],
    // 5.2.3 is the per-mailbox limit (exceedlimit), whatever the words say about the size.
    ["mesgtoobig", () => byCode === "mesgtoobig" || (byCode !== "exceedlimit" && has(text, "mesgtoobig"))],
    ["exceedlimit", () => byCode === "exceedlimit" || has(text, "exceedlimit")],
    ["suspend", () => facts.smtpCode === 525 || has(text, "suspend")],
    ["hasmoved", () => has(text, "hasmoved")],
    ["norelaying", () => command !== "CONN" && command !== "EHLO" && command !== "HELO" && has(text, "norelaying")],
    ["authfailure", () => byCode === "authfailure" || has(text, "authfailure")],
    [
      "userunknown",
      () => {
        if (byCode === "suspend") return false;
        if (byCode === "userunknown") {
          // 5.1.1 is also what many servers send for a relay refusal, a block or a full mailbox.
          return !["norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept"].some((r) => has(text, r));
        }
        return command === "RCPT" && has(text, "userunknown");
      },
    ],
    [
      "filtered",
      () => {
        if (byCode === "suspend") return false;
        if (byCode === "filtered") return has(text, "userunknown") || has(text, "filtered");
        // "User unknown" once the content was sent (or when nobody says when) is a filter's excuse.
        if (BEFORE_DATA.has(command)) return false;
        return has(text, "filtered") || has(text, "userunknown");
      },
    ],
    ["requireptr", () => byCode === "requireptr" || has(text, "requireptr")],
    ["notcompliantrfc", () => has(text, "notcompliantrfc")],
    ["badreputation", () => has(text, "badreputation")],
    ["contenterror", () => !spamDetected(facts, text, byCode) && (byCode === "contenterror" || has(text, "contenterror"))],
    [
      "rejected",
      () => {
        if (byCode === "rejected") return true;
        const words = has(text, "rejected");
        if (command === "MAIL") return words;
        if (command === "DATA" && byCode !== "userunknown") return words;
        if (!byCode || byCode === "securityerror" || byCode === "systemerror") return words;
        return false;
      },
    ],
    ["hostunknown", () => (byCode === "hostunknown" ? !has(text, "networkerror") : has(text, "hostunknown"))],
    ["spamdetected", () => spamDetected(facts, text, byCode)],
    ["speeding", () => has(text, "speeding")],
    ["toomanyconn", () => byCode === "toomanyconn" || has(text, "toomanyconn")],
    ["blocked", () => byCode === "blocked" || has(text, "blocked")],
  ];
  for (const [reason, holds] of order) if (is(reason) || holds()) return reason;
  return undefined;
}

function spamDetected(facts: BounceFacts, text: string, byCode: string | undefined): boolean {
  if (!facts.enhancedCode) return false;
  if (facts.hint === "spamdetected" || byCode === "spamdetected") return true;
  if (BEFORE_DATA.has(facts.command)) return false;
  return has(text, "spamdetected");
}

/** What the probes could not settle: the words alone, then the code's subject, then the context. */
const SECOND_LOOK = [
  "mailboxfull",
  "authfailure",
  "badreputation",
  "speeding",
  "spamdetected",
  "virusdetected",
  "policyviolation",
  "norelaying",
  "systemerror",
  "networkerror",
  "suspend",
  "contenterror",
  "systemfull",
  "notaccept",
  "expired",
  "failedstarttls",
  "securityerror",
  "mailererror",
];

function secondLook(facts: BounceFacts, text: string, byCode: string | undefined, smtpLike: boolean): string | undefined {
  if (facts.hint && facts.hint !== "undefined" && facts.hint !== "onhold") return facts.hint;
  if (byCode && !TENTATIVE.has(byCode) && smtpLike) return byCode;
  for (const reason of SECOND_LOOK) if (has(text, reason)) return reason;
  if (byCode) return byCode;
  const subject = facts.enhancedCode?.slice(1, 3);
  if (subject === ".6") return "contenterror";
  if (subject === ".7") return "securityerror";
  if (facts.diagnosticType?.startsWith("x-unix")) return "mailererror";
  const code = facts.smtpCode ?? 0;
  if ((code > 400 && code < 408) || (code > 500 && code < 508)) return "syntaxerror";
  if (facts.action === "delayed") return "expired";
  if (facts.command === "EHLO" || facts.command === "HELO") return "blocked";
  return undefined;
}
