/**
 * Message search: the query `GET /v1/messages` takes, the row each message keeps in its account's
 * index, the cursor, and the merge of the index shards' pages. Pure; the index itself lives in the
 * account's counter shards (state/account.ts), written by the same outbox call that counts a
 * state change, so indexing costs no Durable Object request of its own.
 */
import { z } from "zod";
import { fromBase64, sha256Hex, toBase64Url, utf8 } from "./bytes.ts";
import { channels, deliveryStates, tokenChannels, type Channel } from "./model.ts";
import { recipientKey } from "./recipient.ts";

/** One message as its index row keeps it (what a search filters on and answers with). */
export type IndexRow = {
  id: string;
  createdAt: string;
  updatedAt: string;
  channel: Channel;
  status: string;
  /** The recipient's key (an address, a number, or a token's SHA-256): what `recipient` matches. */
  recipientKey: string;
  /** The recipient as the API shows it (tokens and endpoints redacted). */
  to: string;
  tags: string[];
  route?: string;
  /** The route's type (sendgrid, smpp, relay…) or, for mail lasthop did not send, the provider that reported it. */
  provider?: string;
  providerMessageId?: string;
};

export const MAX_SEARCH_LIMIT = 100;

export const messageSearchQuery = z.strictObject({
  /** An address or number as sent, or the SHA-256 hex of a push token or endpoint. */
  recipient: z.string().trim().min(1).max(2048).optional(),
  channel: z.enum(channels).optional(),
  status: z.enum(deliveryStates).optional(),
  tag: z.string().min(1).max(64).optional(),
  route: z.string().min(1).max(32).optional(),
  provider: z.string().min(1).max(32).optional(),
  providerMessageId: z.string().min(1).max(256).optional(),
  /** Created at or after. */
  from: z.iso.datetime({ offset: true }).optional(),
  /** Created before. */
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_SEARCH_LIMIT).default(50),
  cursor: z.string().max(512).optional(),
});
export type MessageSearchQuery = z.infer<typeof messageSearchQuery>;

/** What one index shard is asked: the filters resolved (recipient keys, times in ISO), the page position and size. */
export type ShardQuery = {
  recipientKeys?: string[];
  channel?: Channel;
  status?: string;
  tag?: string;
  route?: string;
  provider?: string;
  providerMessageId?: string;
  from?: string;
  until?: string;
  /** Rows strictly older than this (createdAt, id) position. */
  before?: [string, string];
  limit: number;
};

/** The position after a row, opaque to the client. */
export function encodeCursor(row: Pick<IndexRow, "createdAt" | "id">): string {
  return toBase64Url(utf8(JSON.stringify([row.createdAt, row.id])));
}

export function decodeCursor(cursor: string): [string, string] | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromBase64(cursor)));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string")) return value as [string, string];
  } catch {
    // not ours
  }
  return null;
}

/**
 * The keys a `recipient` may be stored under: as the channel keys it when the channel is given
 * or plain from its shape (an address is email, +digits SMS), a 64-hex value as the hashed token
 * it is, else a raw push token under each token channel's key.
 */
export async function recipientKeysFor(recipient: string, channel?: Channel): Promise<string[]> {
  if (/^[0-9a-f]{64}$/i.test(recipient)) return [recipient.toLowerCase(), ...(channel ? [await recipientKey(channel, recipient)] : [])];
  if (channel) return [await recipientKey(channel, recipient)];
  if (recipient.includes("@")) return [await recipientKey("email", recipient)];
  if (/^\+[1-9]\d{6,14}$/.test(recipient)) return [await recipientKey("sms", recipient)];
  const keys = await Promise.all([...tokenChannels].map((c) => recipientKey(c, recipient)));
  return [...new Set([...keys, await sha256Hex(recipient)])];
}

/** Newest first: createdAt, then id, both descending. */
export function newerFirst(a: Pick<IndexRow, "createdAt" | "id">, b: Pick<IndexRow, "createdAt" | "id">): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * One page from the shards' pages (each newest first, each asked for `limit + 1`): the newest
 * `limit`, and a cursor when there is more.
 */
export function mergePages(pages: IndexRow[][], limit: number): { data: IndexRow[]; nextCursor: string | null } {
  const all = pages.flat().sort(newerFirst);
  const data = all.slice(0, limit);
  return { data, nextCursor: all.length > limit && data.length > 0 ? encodeCursor(data[data.length - 1]!) : null };
}
