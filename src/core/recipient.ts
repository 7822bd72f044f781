import { sha256Hex } from "./bytes.ts";
import { tokenChannels, type Channel } from "./model.ts";
import type { SendRequest } from "./schema.ts";
import { isOptOutKey } from "./sms/account.ts";

/**
 * The key a recipient's suppression lives under. Email: trimmed, domain lower-cased
 * (the local part is the receiver's business, RFC 5321 §2.4). Phone: E.164 as given.
 * Push tokens and endpoints: SHA-256 hex, so a raw token never becomes a DO name.
 */
export async function recipientKey(channel: Channel, to: string): Promise<string> {
  if (channel === "email") return normalizeEmail(to);
  if (channel === "apns") return sha256Hex(to.toLowerCase());
  if (tokenChannels.has(channel)) return sha256Hex(to);
  return to.trim();
}

export function normalizeEmail(address: string): string {
  const trimmed = address.trim();
  const at = trimmed.lastIndexOf("@");
  return at < 0 ? trimmed : `${trimmed.slice(0, at)}@${trimmed.slice(at + 1).toLowerCase()}`;
}

/** The recipient as a string: a web push subscription is addressed by its endpoint. */
export function recipientOf(request: SendRequest): string {
  return request.channel === "webpush" ? request.to.endpoint : request.to;
}

/** What the API shows for `to`: addresses and numbers as is, tokens and endpoints redacted. */
export function redactRecipient(channel: Channel, to: string): string {
  if (channel === "webpush") {
    const url = new URL(to);
    return `${url.origin}/…${url.pathname.slice(-6)}`;
  }
  if (tokenChannels.has(channel)) return `${to.slice(0, 8)}…`;
  return to;
}

/**
 * The path form of a recipient in `/v1/suppressions/:channel/:recipient`: token channels
 * are addressed by the 64-hex SHA-256, others by the address or number.
 */
export function recipientKeyFromPath(channel: Channel, recipient: string): string | null {
  if (tokenChannels.has(channel)) return /^[0-9a-f]{64}$/i.test(recipient) ? recipient.toLowerCase() : null;
  // An SMS opt-out is kept per pair: `+recipient:sender` (see optOutKey).
  if (channel === "sms") return /^\+[1-9]\d{6,14}$/.test(recipient) || isOptOutKey(recipient) ? recipient : null;
  return /^[^@\s]+@[^@\s]+$/.test(recipient.trim()) ? normalizeEmail(recipient) : null;
}
