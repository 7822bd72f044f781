/**
 * Several providers (Outlook.com, Amazon SES, WorkMail, SendGrid) write their failures as
 * RFC 3464 fields in the report's text. These are the block-format pieces that read them:
 * a `Final-Recipient:` line opens a recipient, its `Status:`, `Remote-MTA:` and
 * `Diagnostic-Code:` (with folded lines) follow up to the next `Final-Recipient:`.
 */
import type { BlockFormat } from "./block.ts";

export const dsnFields = {
  recipient: /^Final-Recipient:\s*rfc822\s*;\s*<?([^\s<>]+@[^\s<>]+)>?\s*$/i,
  following: "block",
  fields: {
    status: /^Status:\s*([245]\.\d{1,3}\.\d{1,3})/im,
    remoteMta: /^Remote-MTA:\s*dns\s*;\s*\[?([a-z0-9.:-]+?)\]?\s*$/im,
    diagnostic: /^Diagnostic-Code:\s*(?:[\w-]+\s*;\s*)?(.+(?:\n[ \t]+\S.*)*)/im,
  },
} as const satisfies Pick<BlockFormat, "recipient" | "following" | "fields">;

/** A diagnostic's folded lines joined into one. */
export function unfold(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}
