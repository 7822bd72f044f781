import { sha256Hex, toHex, utf8 } from "./bytes.ts";

/**
 * Message ids are UUIDs, so they fit `apns-id` and every provider's custom-arg field.
 * With an Idempotency-Key the id is derived from account + key (an RFC 9562 version 8
 * UUID over SHA-256), so a retried POST lands on the same MessageDO and sends nothing twice.
 */
export async function messageIdFor(account: string, idempotencyKey?: string): Promise<string> {
  if (!idempotencyKey) return crypto.randomUUID();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(`${account}\0${idempotencyKey}`)));
  digest[6] = (digest[6] & 0x0f) | 0x80; // version 8
  digest[8] = (digest[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = toHex(digest.subarray(0, 16));
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An event id for providers that give none: SHA-256 over their stable fields. */
export function derivedEventId(...fields: Array<string | number | undefined>): Promise<string> {
  return sha256Hex(fields.map((f) => f ?? "").join("\u001f"));
}

/** A stable hash of a request body, for Idempotency-Key conflict detection. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
