/**
 * The human-readable part of a bounce: where it ends (the returned message follows),
 * which addresses it names as failed recipients, and which lines speak about each one.
 * Non-standard bounces (qmail, Exim, old Sendmail, Exchange, provider texts) carry all
 * their information here; standard DSNs often carry the command and the real diagnostic
 * here too (Postfix "in reply to RCPT TO command", OpenSMTPD's per-recipient lines).
 */
import { addressesIn } from "./address.ts";
import { enhancedCodesIn } from "./codes.ts";
import { anyPhrase, explicitPhrases, returnedMessageMarkers, type Phrase } from "./patterns.ts";

/** The report reads at most this much prose: a bounce's own text is short, the rest is quoted mail. */
const MAX_REPORT_CHARS = 64 * 1024;

/**
 * Each marker on its own at the very start (a marker whose first match is at 0 cuts nothing),
 * and all of them as one alternation: one pass over the text finds the earliest marker,
 * where one pass per marker cost a scan of the whole body each.
 */
const markersAtStart = returnedMessageMarkers.map(([marker]) => new RegExp(marker.source, `${marker.flags}y`));
const anyMarker = (markers: readonly RegExp[]) => new RegExp(markers.map((m) => `(?:${m.source})`).join("|"), "im");
const allMarkers = anyMarker(returnedMessageMarkers.map(([marker]) => marker));

/** The report's own text: line breaks normalized, cut where the returned message begins. */
export function reportText(text: string): string {
  let body = text.length > MAX_REPORT_CHARS * 4 ? text.slice(0, MAX_REPORT_CHARS * 4) : text;
  body = body.replace(/\r\n?/g, "\n");
  const atStart = markersAtStart.filter((m) => {
    m.lastIndex = 0;
    return m.test(body);
  });
  const markers = atStart.length
    ? anyMarker(returnedMessageMarkers.flatMap(([m], k) => (atStart.includes(markersAtStart[k]!) ? [] : [m])))
    : allMarkers;
  const cut = markers.exec(body)?.index ?? body.length;
  return body.slice(0, Math.min(cut, MAX_REPORT_CHARS));
}

export type TextRecipient = { address: string; line: number; segment: string };

/** Lines naming the sender or the returned message, not a failed recipient. */
const NOT_RECIPIENT_LINE =
  /^\s*(?:from|reply-to|return-path|sender|received|message-id|date|subject|cc|in-reply-to|references|x-[\w-]+|dkim-signature|authentication-results|delivered-to)\s*:/i;
/** Addresses in these contexts are the envelope sender, whatever the line. */
const SENDER_CONTEXT = /(?:mail from|envelope-from|mail\s+from)\s*:?\s*<?[^\s<>]*@[^\s<>]*>?|\bfrom <[^>]*>/gi;
/** Sendmail's per-recipient summary, which follows the transcript it sums up: "554 <rcpt>... Remote protocol error". */
const SENDMAIL_SUMMARY = /^\s*\d{3}[ -]<?[^\s<>]+@[^\s<>]+>?\.\.\./;
/** A transcript or section heading: what comes after it belongs to the next recipient. */
const SECTION = /^\s*(?:-{3,}|\.\.\. while talking to|while talking to|={5,}|\*{5,})/i;

/**
 * Addresses the report text names as failed recipients, in order of first mention, each
 * with the lines that speak about it. `isExcluded` drops the report's own addresses.
 */
export function textRecipients(report: string, isExcluded: (address: string) => boolean): TextRecipient[] {
  const lines = report.split("\n");
  const found: Array<{ address: string; line: number }> = [];
  const seen = new Set<string>();
  lines.forEach((line, index) => {
    // A line without "@" names no address: most lines, and the cheapest test.
    if (!line.includes("@") || NOT_RECIPIENT_LINE.test(line)) return;
    for (const address of addressesIn(line.replace(SENDER_CONTEXT, " "))) {
      const key = address.toLowerCase();
      if (seen.has(key) || isExcluded(key)) continue;
      seen.add(key);
      found.push({ address, line: index });
    }
  });
  return found.map((mention, k) => {
    let j = k + 1;
    while (j < found.length && found[j]!.line === mention.line) j++;
    const next = found[j]?.line ?? lines.length;
    return { ...mention, segment: segmentOf(lines, mention, found[k - 1]?.line, next) };
  });
}

function segmentOf(lines: string[], mention: { address: string; line: number }, previous: number | undefined, next: number): string {
  const line = lines[mention.line] ?? "";
  if (SENDMAIL_SUMMARY.test(line)) {
    // The transcript above it, back to the previous recipient, a blank line or a heading.
    let start = mention.line;
    while (start > 0) {
      const above = lines[start - 1] ?? "";
      if (above.trim() === "" || (previous !== undefined && start - 1 <= previous) || SECTION.test(above)) break;
      start--;
    }
    return lines.slice(start, mention.line + 1).join("\n");
  }
  const rest = line
    .replace(/[^\s<>()"',;:]+@[^\s<>()"',;:]+/g, " ")
    .replace(/[<>"'()[\]*:;,.]|mailto|rcpt to|recipient|to\b/gi, " ")
    .trim();
  let end = mention.line + 1;
  if (rest.length < 3) {
    // A bare address line: everything up to the next recipient is about it (Gmail and
    // Exim put a blank line between the address and its error).
    end = next;
  } else {
    while (end < next && (lines[end] ?? "").trim() !== "" && !SECTION.test(lines[end] ?? "")) end++;
  }
  return lines.slice(mention.line, end).join("\n");
}

/** Whether any explicit phrase is there at all: most texts have none, and one pass says so. */
const ANY_EXPLICIT = anyPhrase(explicitPhrases.map((entry) => entry.phrase));

/**
 * The reason the reporting MTA states in its own words, if any (patterns.ts
 * `explicitPhrases`). A weak phrase gives way to a specific enhanced code in `text`.
 */
export function explicitReason(text: string): string | undefined {
  const lower = text
    .slice(0, 32 * 1024)
    .toLowerCase()
    .replace(/[ \t]+/g, " ");
  if (!matchesSome(ANY_EXPLICIT, lower)) return undefined;
  // Read only when a weak phrase matched: most texts match none, and the codes cost a pass of their own.
  let specific: boolean | undefined;
  for (const entry of explicitPhrases) {
    if (!matches(lower, entry.phrase)) continue;
    if (entry.weak) {
      specific ??= enhancedCodesIn(lower).some((c) => !/\.0$|^\d\.0\./.test(c));
      if (specific) continue;
    }
    return entry.reason;
  }
  return undefined;
}

function matchesSome(patterns: readonly RegExp[], text: string): boolean {
  for (const re of patterns) if (re.test(text)) return true;
  return false;
}

function matches(text: string, phrase: Phrase): boolean {
  return typeof phrase === "string" ? text.includes(phrase) : phrase.test(text);
}

/** Where reports name the remote host (made once: matchAll reads a copy, so they keep no state). */
const HOST_PATTERNS: readonly RegExp[] = [
  /\bhost:? \[?([a-z0-9][a-z0-9.-]*\.[a-z]{2,})\]?/gi, // Postfix, Exim, GMX
  /while talking to ([a-z0-9][a-z0-9.-]*\.[a-z]{2,})\.?:/gi, // Sendmail
  /remote (?:system|server at|host|mta): ?(?:dns;)?\s*([a-z0-9][a-z0-9.-]*\.[a-z]{2,})/gi, // Sun ONE, Exchange
  /\b([a-z0-9][a-z0-9.-]*\.[a-z]{2,}) \[\d{1,3}(?:\.\d{1,3}){3}\]:/gi, // Courier
];

/** Host names a text mentions as the remote side ("host mx.example.jp[192.0.2.1] said"). */
export function hostsIn(text: string): string[] {
  const hosts = new Set<string>();
  const bounded = text.slice(0, 32 * 1024);
  for (const pattern of HOST_PATTERNS)
    for (const [, host = ""] of bounded.matchAll(pattern)) hosts.add(host.toLowerCase().replace(/\.$/, ""));
  return [...hosts];
}

/** A delay notice rather than a final failure: the MTA is still trying. */
const DELAY_WORDS: ReadonlyArray<readonly [Phrase, string]> = [
  [/this is a warning message only/i, "Gmail, Postfix"],
  [/delivery to the following recipient has been delayed/i, "Gmail"],
  [/\*\* delivery incomplete \*\*/i, "Gmail"],
  [/this is only a (?:temporary failure report|notification about a delay)/i, "OpenSMTPD, generic"],
  [/a message is delayed for more than/i, "OpenSMTPD"],
  [/has not yet been delivered to one or more of its\s+recipients/i, "Exim"],
  [/no action is required on your part\. delivery attempts will continue/i, "Exim"],
  [/delivery has been delayed/i, "Sun ONE"],
  [/you do not need to resend your message/i, "Postfix, Sendmail"],
];

export function looksDelayed(text: string, subject: string | undefined): boolean {
  if (subject && /\b(?:delay(?:ed)?|warning: message|still being retried|delivery status notification \(delay\))\b/i.test(subject))
    return true;
  return DELAY_WORDS.some(([phrase]) => (typeof phrase === "string" ? text.includes(phrase) : phrase.test(text)));
}

/** Words of a bounce (as opposed to a person's mail): a reporting MTA wrote this. */
const BOUNCE_WORDS: ReadonlyArray<readonly [RegExp, string]> = [
  [
    /could not be delivered|couldn't be delivered|was not delivered|wasn't delivered|not be delivered|undeliverable|undelivered/i,
    "most MTAs",
  ],
  [/delivery (?:has )?failed|delivery failure|failed permanently|permanent (?:fatal )?error|fatal errors/i, "most MTAs"],
  [/returned mail|mail delivery (?:failed|subsystem|system)|delivery status notification|failure notice|mail system error/i, "subjects"],
  [
    /unable to deliver|did not reach the following recipient|rejected your message|wasn't able to deliver|not able to be\s+delivered/i,
    "Exchange, qmail, SendGrid",
  ],
  [
    /delivery to the following recipient|the following addresses had|the following address(?:\(es\))? failed|following recipients/i,
    "Gmail, Sendmail, Exim",
  ],
  [/^error message below:/im, "Apache James"],
];

export function looksLikeBounce(text: string): boolean {
  return BOUNCE_WORDS.some(([re]) => re.test(text));
}
