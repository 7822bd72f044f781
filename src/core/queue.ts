/**
 * Cloudflare Queues' limits, applied before anything is sent: a message body is at most
 * 128 KB, a sendBatch at most 100 messages and 256 KB. Bodies are sent as JSON
 * (contentType "json"), so their size is exactly the UTF-8 of their JSON text, measured here;
 * the default (v8) serialization writes a string with any non-Latin-1 character at two bytes
 * a character, and could pass the limit where this measure does not.
 */
import { utf8 } from "./bytes.ts";

export const QUEUE_MESSAGE_MAX_BYTES = 128_000;
export const QUEUE_BATCH_MAX_MESSAGES = 100;
export const QUEUE_BATCH_MAX_BYTES = 256_000;
/** What the queue adds to each message of a batch (id, timestamp, type), counted generously. */
const MESSAGE_OVERHEAD_BYTES = 256;

export type QueuePlan<T> = { ok: true; batches: T[][] } | { ok: false; tooLarge: Array<{ index: number; bytes: number }> };

export function jsonBytes(value: unknown): number {
  return utf8(JSON.stringify(value)).length;
}

/**
 * The sendBatch calls that carry `bodies` in order, or every body too large for one message
 * (then nothing should be sent: one refused body refuses the request).
 */
export function planQueueBatches<T>(bodies: readonly T[]): QueuePlan<T> {
  const sizes = bodies.map(jsonBytes);
  const tooLarge = sizes.flatMap((bytes, index) => (bytes > QUEUE_MESSAGE_MAX_BYTES ? [{ index, bytes }] : []));
  if (tooLarge.length > 0) return { ok: false, tooLarge };
  const batches: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  bodies.forEach((body, i) => {
    const size = sizes[i]! + MESSAGE_OVERHEAD_BYTES;
    if (batch.length === QUEUE_BATCH_MAX_MESSAGES || (batch.length > 0 && bytes + size > QUEUE_BATCH_MAX_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(body);
    bytes += size;
  });
  if (batch.length > 0) batches.push(batch);
  return { ok: true, batches };
}

/** Queues bill a message per 64 KB: provider events travel packed up to that, one op for many. */
export const PACK_MAX_BYTES = 64_000;

/**
 * Items in order, grouped so each group's JSON array stays within `maxBytes` (an item larger
 * than that travels alone; planQueueBatches still refuses one over a queue message).
 */
export function packByBytes<T>(items: readonly T[], maxBytes = PACK_MAX_BYTES): T[][] {
  const packs: T[][] = [];
  let pack: T[] = [];
  let bytes = 2;
  for (const item of items) {
    const size = jsonBytes(item);
    // A comma before every item but a pack's first.
    if (pack.length > 0 && bytes + 1 + size > maxBytes) {
      packs.push(pack);
      pack = [];
      bytes = 2;
    }
    bytes += (pack.length > 0 ? 1 : 0) + size;
    pack.push(item);
  }
  if (pack.length > 0) packs.push(pack);
  return packs;
}
