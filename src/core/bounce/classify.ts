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
  /** A reason the reporting MTA's reader found in that MTA's own messages (lhost/). */
  mtaReason?: string;
  /** That reader's name, for the rule that records the decision. */
  mta?: string;
  /** The report says outright the failure is temporary (a delay notice) or permanent. */
  temporary?: boolean;
};

/** `rule` names the step that decided the reason (see reasonOf), so a wrong result can be traced. */
export type Classification = { class: BounceClass; reason: string; rule: string };

const HARD = new Set(["userunknown", "hostunknown", "hasmoved"]);
const NOT_BOUNCES = new Set(["delivered", "feedback", "vacation"]);
/** Reasons a first reading may get wrong: evidence found later still counts (Sisimai's "retry" set). */
const TENTATIVE = new Set(["undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror", "hostunknown", "userunknown"]);
/** Commands before the message content: a refusal there cannot be about the content. */
const BEFORE_DATA = new Set<SmtpCommand | undefined>(["CONN", "EHLO", "HELO", "MAIL", "RCPT"]);

export function classifyBounce(facts: BounceFacts): Classification {
  const { reason, rule } = reasonOf(facts);
  return { class: classOf(reason, isPermanent(facts)), reason, rule };
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

type Decision = { reason: string; rule: string };

/**
 * The decision order, each step named in `rule`:
 * - `action`: not a failure (delivered, relayed, a 2.x.x status);
 * - `reporting-mta`: the reporting MTA's own summary names a final reason;
 * - `mta:<name>`: that MTA's reader found the reason in the MTA's own messages (lhost/);
 * - `provider:<host>`: a remote provider's code book (its codes mean something of their own);
 * - `status-code`: the enhanced status code, where the words do not contradict it;
 * - `phrase`: the phrase tables over the diagnostic;
 * - `command`: the SMTP command decided (a refusal at RCPT is about the address, after DATA the content);
 * - `status-class`, `reply-code`, `diagnostic-type`: what a bare code or type says;
 * - `onhold` (nothing applies to words that exist) or `undefined` (no words at all).
 * The MTA's own statements come before the code because codes are misused widely (5.1.1 for a
 * full mailbox, 550 5.7.1 for an unknown user), and a code is only taken when the words agree.
 */
function reasonOf(facts: BounceFacts): Decision {
  if (facts.action === "delivered" || facts.action === "relayed" || facts.action === "expanded")
    return { reason: "delivered", rule: "action" };
  if (facts.enhancedCode?.startsWith("2.")) return { reason: "delivered", rule: "action" };
  // A diagnosis is a few lines; past 16 KB it is not one, and bounded input keeps matching linear.
  const text = normalizeText(facts.diagnostic?.slice(0, 16 * 1024));
  if (facts.hint && !TENTATIVE.has(facts.hint)) return { reason: facts.hint, rule: "reporting-mta" };
  if (facts.mtaReason && !TENTATIVE.has(facts.mtaReason)) return { reason: facts.mtaReason, rule: `mta:${facts.mta ?? "?"}` };
  const byProvider = providerReason(facts, text);
  if (byProvider) return { reason: byProvider.reason, rule: `provider:${byProvider.provider}` };

  const smtpLike = !facts.diagnosticType || facts.diagnosticType === "smtp";
  const byCode = statusReason(facts.enhancedCode);
  const says = saysOf(text);
  const probed = smtpLike ? probe(facts, says, byCode) : undefined;
  if (probed && probed.reason !== "undefined") return probed;
  const second = secondLook(facts, says, byCode, smtpLike);
  if (second && second.reason !== "undefined") return second;
  if (facts.mtaReason) return { reason: facts.mtaReason, rule: `mta:${facts.mta ?? "?"}` };
  if (facts.action === "delayed") return { reason: "expired", rule: "action" };
  if (says("vacation")) return { reason: "vacation", rule: "phrase" };
  return text ? { reason: "onhold", rule: "onhold" } : { reason: "undefined", rule: "undefined" };
}

/** The provider's own code book. */
function providerReason(facts: BounceFacts, text: string): { reason: string; provider: string } | undefined {
  const provider = providerOf(facts.recipientDomain, facts.hosts ?? []);
  if (!provider) return undefined;
  const reason = providerRule(provider, facts, text);
  return reason ? { reason, provider: provider.hosts[0] ?? "?" } : undefined;
}

function providerRule(provider: RemoteHost, facts: BounceFacts, text: string): string | undefined {
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

/** Whether a text says a reason: the probes ask about the same reasons several times, so each is read once. */
type Says = (reason: string) => boolean;

/** Whether `text` says `reason`; "rejected" words about the recipient address are not about the sender. */
function saysOf(text: string): Says {
  const known = new Map<string, boolean>();
  return (reason) => {
    let said = known.get(reason);
    if (said === undefined) {
      said = matchesAny(text, reasonPhrases[reason]) && (reason !== "rejected" || !matchesAny(text, notRejected));
      known.set(reason, said);
    }
    return said;
  };
}

/**
 * Rules 3 and 4: each reason in turn, the first that holds wins. The order matters: a full
 * mailbox often comes with 5.1.1, a relay refusal with "user unknown".
 */
function probe(facts: BounceFacts, has: Says, byCode: string | undefined): Decision | undefined {
  const { hint, command } = facts;
  const is = (reason: string) => hint === reason;
  const order: Array<[string, () => boolean]> = [
    ["mailboxfull", () => byCode === "mailboxfull" || has("mailboxfull")],
    // 5.2.3 is the per-mailbox limit (exceedlimit), whatever the words say about the size.
    ["mesgtoobig", () => byCode === "mesgtoobig" || (byCode !== "exceedlimit" && has("mesgtoobig"))],
    ["exceedlimit", () => byCode === "exceedlimit" || has("exceedlimit")],
    ["suspend", () => facts.smtpCode === 525 || has("suspend")],
    ["hasmoved", () => has("hasmoved")],
    ["norelaying", () => command !== "CONN" && command !== "EHLO" && command !== "HELO" && has("norelaying")],
    ["authfailure", () => byCode === "authfailure" || has("authfailure")],
    [
      "userunknown",
      () => {
        if (byCode === "suspend") return false;
        if (byCode === "userunknown") {
          // 5.1.1 is also what many servers send for a relay refusal, a block or a full mailbox.
          return !["norelaying", "blocked", "mailboxfull", "hasmoved", "rejected", "notaccept"].some((r) => has(r));
        }
        return command === "RCPT" && has("userunknown");
      },
    ],
    [
      "filtered",
      () => {
        if (byCode === "suspend") return false;
        if (byCode === "filtered") return has("userunknown") || has("filtered");
        // "User unknown" once the content was sent (or when nobody says when) is a filter's excuse.
        if (BEFORE_DATA.has(command)) return false;
        return has("filtered") || has("userunknown");
      },
    ],
    ["requireptr", () => byCode === "requireptr" || has("requireptr")],
    ["notcompliantrfc", () => has("notcompliantrfc")],
    ["badreputation", () => has("badreputation")],
    ["contenterror", () => !spamDetected(facts, has, byCode) && (byCode === "contenterror" || has("contenterror"))],
    [
      "rejected",
      () => {
        if (byCode === "rejected") return true;
        const words = has("rejected");
        if (command === "MAIL") return words;
        if (command === "DATA" && byCode !== "userunknown") return words;
        if (!byCode || byCode === "securityerror" || byCode === "systemerror") return words;
        return false;
      },
    ],
    ["hostunknown", () => (byCode === "hostunknown" ? !has("networkerror") : has("hostunknown"))],
    ["spamdetected", () => spamDetected(facts, has, byCode)],
    ["speeding", () => has("speeding")],
    ["toomanyconn", () => byCode === "toomanyconn" || has("toomanyconn")],
    ["blocked", () => byCode === "blocked" || has("blocked")],
  ];
  for (const [reason, holds] of order) {
    if (is(reason)) return { reason, rule: "reporting-mta" };
    if (!holds()) continue;
    if (byCode === reason) return { reason, rule: "status-code" };
    // The words alone were not enough where the command decides (RCPT: the address; after DATA: the content).
    const byCommand = (reason === "userunknown" || reason === "filtered" || reason === "rejected") && facts.command !== undefined;
    return { reason, rule: byCommand ? "command" : "phrase" };
  }
  return undefined;
}

function spamDetected(facts: BounceFacts, has: Says, byCode: string | undefined): boolean {
  if (!facts.enhancedCode) return false;
  if (facts.hint === "spamdetected" || byCode === "spamdetected") return true;
  if (BEFORE_DATA.has(facts.command)) return false;
  return has("spamdetected");
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

function secondLook(facts: BounceFacts, has: Says, byCode: string | undefined, smtpLike: boolean): Decision | undefined {
  if (facts.hint && facts.hint !== "undefined" && facts.hint !== "onhold") return { reason: facts.hint, rule: "reporting-mta" };
  if (byCode && !TENTATIVE.has(byCode) && smtpLike) return { reason: byCode, rule: "status-code" };
  for (const reason of SECOND_LOOK) if (has(reason)) return { reason, rule: "phrase" };
  if (byCode) return { reason: byCode, rule: "status-code" };
  const subject = facts.enhancedCode?.slice(1, 3);
  if (subject === ".6") return { reason: "contenterror", rule: "status-class" };
  if (subject === ".7") return { reason: "securityerror", rule: "status-class" };
  if (facts.diagnosticType?.startsWith("x-unix")) return { reason: "mailererror", rule: "diagnostic-type" };
  const code = facts.smtpCode ?? 0;
  if ((code > 400 && code < 408) || (code > 500 && code < 508)) return { reason: "syntaxerror", rule: "reply-code" };
  if (facts.action === "delayed") return { reason: "expired", rule: "action" };
  if (facts.command === "EHLO" || facts.command === "HELO") return { reason: "blocked", rule: "command" };
  return undefined;
}
