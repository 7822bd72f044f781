/**
 * Most MTAs write a bounce the same way: a recognisable opening, then per recipient an
 * address line followed by the lines about it, until the returned message. A `BlockFormat`
 * describes where one MTA puts those things; `blockLhost` makes the reader. An MTA whose
 * format does not fit writes its own `read` (the Lhost type) instead.
 */
import { addressIn } from "../address.ts";
import { commandIn } from "../codes.ts";
import type { SmtpCommand } from "../types.ts";
import type { Lhost, LhostInput, LhostRecipient } from "./types.ts";

type Pattern = string | RegExp;

export type BlockFormat = {
  name: string;
  /** How its reports are recognised: every test given must hold (at least one must be given). */
  detect: {
    from?: RegExp;
    subject?: RegExp;
    /** A header name (lower case) and what its value matches. */
    header?: readonly [string, RegExp];
    /** A line or phrase of the report's text. */
    body?: RegExp;
  };
  /** The error section starts after the first match (default: the whole report). */
  begin?: RegExp;
  /** …and ends before the first match after it (default: the end of the report). */
  end?: RegExp;
  /** A line naming a failed recipient: the address in capture 1 (or anywhere in the line), its diagnostic in capture 2 when on the same line. */
  recipient: RegExp;
  /**
   * Which lines after a recipient line are about it: `paragraph` (up to a blank line, the default),
   * `block` (up to the next recipient line or the section's end), `none`.
   */
  following?: "paragraph" | "block" | "none";
  /** Lines of a recipient's block that carry a field: its value in capture 1. */
  fields?: { status?: RegExp; command?: RegExp; remoteMta?: RegExp; diagnostic?: RegExp };
  /** The MTA's own messages, each meaning a reason (Sisimai's vocabulary); the first that matches wins. */
  messages?: ReadonlyArray<readonly [reason: string, phrases: readonly Pattern[]]>;
  /** The whole report is a delay warning when this matches. */
  delayed?: RegExp;
};

export function blockLhost(format: BlockFormat): Lhost {
  return {
    name: format.name,
    detect: (input) => detects(format, input),
    read: (input) => readBlocks(format, input),
  };
}

function detects(format: BlockFormat, input: LhostInput): boolean {
  const { from, subject, header, body } = format.detect;
  if (!from && !subject && !header && !body) return false;
  // Every reader runs this on every bounce: the short header tests first, the scan of the whole report last.
  if (from && !from.test(input.from)) return false;
  if (subject && !subject.test(input.subject)) return false;
  if (header && !(input.headers.get(header[0]) ?? []).some((v) => header[1].test(v))) return false;
  return !body || body.test(input.report);
}

function section(format: BlockFormat, report: string): string {
  let text = report;
  if (format.begin) {
    const found = format.begin.exec(text);
    if (!found) return "";
    text = text.slice(found.index + found[0].length);
  }
  if (format.end) {
    const found = format.end.exec(text);
    if (found) text = text.slice(0, found.index);
  }
  return text;
}

function readBlocks(format: BlockFormat, input: LhostInput): LhostRecipient[] {
  const lines = section(format, input.report).split("\n");
  const starts: Array<{ line: number; address: string; inline: string }> = [];
  lines.forEach((line, index) => {
    const match = format.recipient.exec(line);
    if (!match) return;
    const address = addressIn(match[1] ?? line);
    if (address) starts.push({ line: index, address, inline: (match[2] ?? "").trim() });
  });
  const delayed = format.delayed?.test(input.report) ?? false;
  return starts.map((start, k) => {
    const next = starts[k + 1]?.line ?? lines.length;
    const block = [lines[start.line] ?? ""];
    if (format.following !== "none") {
      for (let i = start.line + 1; i < next; i++) {
        const line = lines[i] ?? "";
        if (format.following !== "block" && line.trim() === "" && block.length > 1) break;
        if (line.trim() !== "" || format.following === "block") block.push(line);
      }
    }
    const text = block.join("\n");
    const field = (re: RegExp | undefined) => (re ? re.exec(text)?.[1]?.trim() : undefined);
    const diagnostic = field(format.fields?.diagnostic) ?? [start.inline, ...block.slice(1)].join("\n").trim();
    const command = (field(format.fields?.command)?.toUpperCase() as SmtpCommand | undefined) ?? commandIn(text);
    const status = field(format.fields?.status);
    const remoteMta = field(format.fields?.remoteMta);
    const reason = reasonIn(format, `${diagnostic}\n${text}`);
    return {
      recipient: start.address,
      diagnostic,
      ...(command ? { command } : {}),
      ...(status ? { status } : {}),
      ...(remoteMta ? { remoteMta } : {}),
      ...(reason ? { reason } : {}),
      ...(delayed ? { action: "delayed" as const } : {}),
    };
  });
}

export function reasonIn(format: Pick<BlockFormat, "messages">, text: string): string | undefined {
  const lower = text.toLowerCase().replace(/\s+/g, " ");
  for (const [reason, phrases] of format.messages ?? []) {
    if (phrases.some((p) => (typeof p === "string" ? lower.includes(p.toLowerCase()) : p.test(text)))) return reason;
  }
  return undefined;
}
