/**
 * The SMTP facts a diagnostic text carries: the reply code (RFC 5321 §4.2), the enhanced
 * status codes (RFC 3463), and the command the remote server was answering. Reports quote
 * them in every shape ("said: 550-5.1.1", "(#5.4.4)", "<<< 550", "[RCPT_TO]"), so these
 * readers are lenient about the surroundings and strict about the codes themselves.
 */
import type { SmtpCommand } from "./types.ts";

/** Reply codes servers actually send in refusals; a bare number elsewhere is not one of them. */
const REPLY_CODES = new Set([
  421, 422, 431, 432, 441, 442, 446, 447, 449, 450, 451, 452, 453, 454, 455, 458, 459, 500, 501, 502, 503, 504, 520, 521, 522, 523, 524,
  525, 530, 534, 535, 538, 541, 542, 550, 551, 552, 553, 554, 555, 556, 557, 571,
]);

/** The first plausible SMTP reply code in `text`: at a line start or after ":", "<<<", a quote... */
export function replyCodeIn(text: string): number | undefined {
  // "10060" or "192.0.2.250" hold no reply code: a digit or a dot may neither precede nor follow.
  for (const match of text.matchAll(/(?:^|[\s:('"[<>=])([2-5]\d\d)(?=[\s\-:,)\]]|\.(?!\d)|$)/gm)) {
    const code = Number(match[1]);
    if (REPLY_CODES.has(code)) return code;
  }
  return undefined;
}

const ENHANCED = /(?<![\d.A-Za-z])([245])\.([0-7])\.(\d{1,3})(?![\d]|\.\d)/g;

/** Every RFC 3463 code in `text`, in order (IP addresses and version numbers are not codes). */
export function enhancedCodesIn(text: string): string[] {
  return [...text.matchAll(ENHANCED)].map((m) => `${m[1]}.${m[2]}.${Number(m[3])}`);
}

/** x.0.0 and 4.4.7 say nothing precise. */
function vague(code: string): boolean {
  return /^\d\.0\.0$/.test(code) || code === "4.4.7";
}

/** "X.Y.0" or "X.0.Z": a class and one more hint, less than a full code. */
function partial(code: string): boolean {
  return /\.0(?:\.|$)/.test(code);
}

/**
 * Of two codes for the same failure, the one that says more. `given` is the better
 * witness unless it is vague, partial, or one of the codes that name a stage rather than a
 * cause (4.4.7 expired, 4.7.0, 5.3.x, x.5.x protocol). The reply code breaks class ties.
 */
function prefer(given: string | undefined, other: string | undefined, replyCode?: number): string | undefined {
  if (!given) return other;
  if (!other || other === given) return given;
  const reply = replyCode ? String(replyCode)[0] : "";
  if (reply && given[0] !== other[0]) {
    if (reply === given[0]) return given;
    if (reply === other[0]) return other;
  }
  if (/^\d\.0\.0$/.test(given)) return /^\d\.0\.0$/.test(other) ? given : other;
  if (partial(given) && !partial(other)) return other;
  if (/^\d\.0\.0$/.test(other)) return given;
  if (given === "4.4.7" || given === "4.7.0" || /^5\.3\.|^\d\.5\.[1245]$/.test(given)) return other;
  if (given === "5.1.1") return partial(other) || other.startsWith("5.5.") ? given : other;
  if (given === "5.1.3" && other.startsWith("5.7.")) return other;
  return given;
}

/**
 * The most specific code among the report's `Status:` and those in its diagnostic. A
 * `Status: 5.0.0` next to "550 5.7.1 Relay access denied" is the MTA admitting it did not
 * know; the remote server's code is the better witness. With a reply code, only codes of
 * its class count ("554 4.4.7 ..." is a permanent failure whatever the 4.4.7 says).
 */
export function bestEnhancedCode(status: string | undefined, inText: readonly string[], replyCode?: number): string | undefined {
  const klass = replyCode ? String(replyCode)[0] : undefined;
  const candidates = klass ? inText.filter((c) => c[0] === klass) : inText;
  const specific = candidates.filter((c) => !vague(c));
  const fallback = candidates.filter(vague).at(-1);
  let fromText: string | undefined;
  for (const code of fallback ? [...specific, fallback] : specific) fromText = fromText ? prefer(fromText, code) : code;
  const given = status && /^[245]\.\d{1,3}\.\d{1,3}$/.test(status) ? status : undefined;
  return prefer(given, fromText, replyCode);
}

/**
 * Where a report says which command was refused. Data, in the order tried; the last
 * mention wins within one pattern (a transcript ends with the refused command).
 */
const COMMAND_PATTERNS: readonly RegExp[] = [
  /\(in reply to (?:end of )?(MAIL FROM|RCPT TO|DATA|EHLO|HELO|STARTTLS|AUTH)\b[^)]*command\)/gi, // Postfix
  /in reply to (?:end of )?(MAIL FROM|RCPT TO|DATA|EHLO|HELO)\b/gi, // Postfix, folded across lines
  /^\s*>>> ?(MAIL|RCPT|DATA|EHLO|HELO|STARTTLS|AUTH)\b/gim, // Sendmail, Courier, au EZweb transcripts
  /\bafter (MAIL FROM|RCPT TO|RCPT|DATA|EHLO|HELO|end of data|initial connection|sending data block|STARTTLS)\b/gi, // Exim, GMX, Mail.ru
  /did not like our (MAIL FROM|RCPT TO|DATA|final DATA)/gi, // DragonFly Mail Agent
  /\bSMTP:(MAIL|RCPT|DATA|EHLO|HELO)\b/g, // unknown MTA "SMTP:RCPT host ..."
  /\[(RCPT_TO|MAIL_FROM|DATA)\]/g, // Yahoo! Mail
  /\bin (RCPT TO|MAIL FROM)\s*$/gim, // SendGrid "... User Unknown in RCPT TO"
  /^-+SMTP command\s*\n\s*(MAIL|RCPT|DATA|EHLO|HELO)\b/gim, // Digital Arts m-FILTER
  /refused to accept your message \((DATA|RCPT|MAIL)\)/gi, // unknown MTA #6
  /Sent <<< (MAIL|RCPT|DATA|EHLO|HELO)\b/gi, // Trend Micro InterScan
  /\bfor (TEXT|RCPT|MAIL) command\b/gi, // 1&1 / Nemesis ("for TEXT command" = the content)
  /\b(?:the )?(RCPT|MAIL|DATA) command (?:was )?(?:rejected|failed)/gi, // Exchange, generic
  / (does not like recipient\.|failed on DATA command|failed after I sent the message|but sender was rejected\.|but my name was rejected\.|but greeting failed\.)/g, // qmail-remote
  /\(state (6|8|9|12|13|14|15|17|18)\)/g, // Gmail relay stages
];

/** Words of qmail-remote and Gmail's stage numbers, as commands. */
const COMMAND_WORDS: Readonly<Record<string, SmtpCommand>> = {
  "does not like recipient.": "RCPT",
  "failed on data command": "DATA",
  "failed after i sent the message": "DATA",
  "but sender was rejected.": "MAIL",
  "but my name was rejected.": "EHLO",
  "but greeting failed.": "CONN",
  "6": "MAIL",
  "8": "AUTH",
  "9": "AUTH",
  "12": "AUTH",
  "13": "EHLO",
  "14": "RCPT",
  "15": "DATA",
  "17": "DATA",
  "18": "DATA",
};

function commandOf(word: string): SmtpCommand | undefined {
  const known = COMMAND_WORDS[word.toLowerCase()];
  if (known) return known;
  const w = word.toUpperCase().replace(/_/g, " ");
  if (w.startsWith("RCPT")) return "RCPT";
  if (w.startsWith("MAIL")) return "MAIL";
  if (w === "DATA" || w === "END OF DATA" || w === "FINAL DATA" || w === "TEXT" || w === "SENDING DATA BLOCK") return "DATA";
  if (w === "EHLO") return "EHLO";
  if (w === "HELO") return "HELO";
  if (w === "STARTTLS") return "STARTTLS";
  if (w === "AUTH") return "AUTH";
  if (w === "INITIAL CONNECTION") return "CONN";
  return undefined;
}

/**
 * All the patterns as one alternation per kind of input: most texts name no command, and one
 * pass that finds nothing rules out the patterns one by one (case-insensitive: a superset).
 */
const anyOf = (patterns: readonly RegExp[], flags: string) => new RegExp(patterns.map((p) => `(?:${p.source})`).join("|"), flags);
const ANY_COMMAND_LINE = anyOf(
  COMMAND_PATTERNS.filter((p) => p.multiline),
  "im",
);
const ANY_COMMAND_FLAT = anyOf(
  COMMAND_PATTERNS.filter((p) => !p.multiline),
  "i",
);

/** The refused command a text names, if it names one. */
export function commandIn(whole: string): SmtpCommand | undefined {
  // Line-anchored patterns read the lines; the others read across folded lines.
  const text = whole.slice(0, 32 * 1024);
  const flat = text.replace(/\s+/g, " ");
  if (!ANY_COMMAND_LINE.test(text) && !ANY_COMMAND_FLAT.test(flat)) return undefined;
  for (const pattern of COMMAND_PATTERNS) {
    let found: SmtpCommand | undefined;
    for (const match of (pattern.multiline ? text : flat).matchAll(pattern)) found = commandOf(match[1] ?? "") ?? found;
    if (found) return found;
  }
  return undefined;
}
