import { sha256Hex, toHex, utf8 } from "./bytes.ts";

/**
 * Message ids are UUIDs, so they fit `apns-id` and every provider's custom-arg field.
 * With an Idempotency-Key the id is derived from account + key (an RFC 9562 version 8
 * UUID over SHA-256), so a retried POST lands on the same MessageDO and sends nothing twice.
 */
export async function messageIdFor(account: string, idempotencyKey?: string): Promise<string> {
  if (!idempotencyKey) return crypto.randomUUID();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8(`${account}\0${idempotencyKey}`)));
  digest[6] = (digest[6]! & 0x0f) | 0x80; // version 8
  digest[8] = (digest[8]! & 0x3f) | 0x80; // RFC 9562 variant
  const hex = toHex(digest.subarray(0, 16));
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An event id for providers that give none: SHA-256 over their stable fields. */
export function derivedEventId(...fields: Array<string | number | undefined>): Promise<string> {
  return sha256Hex(fields.map((f) => f ?? "").join("\u001f"));
}

/**
 * A stable hash of a request body, for Idempotency-Key conflict detection: keys sorted at
 * every level, undefined fields dropped. Iterative, with its own stack, so no nesting depth
 * can overflow the call stack (the API caps depth anyway: json-depth.ts).
 */
export function canonicalJson(value: unknown): string {
  let out = "";
  // Work items: a value still to write, or text to append as is.
  const work: Array<{ value: unknown } | string> = [{ value }];
  for (let item = work.pop(); item !== undefined; item = work.pop()) {
    if (typeof item === "string") {
      out += item;
      continue;
    }
    const v = item.value;
    if (Array.isArray(v)) {
      work.push("]");
      for (let i = v.length - 1; i >= 0; i--) work.push({ value: v[i] }, ...(i > 0 ? [","] : []));
      out += "[";
    } else if (v && typeof v === "object") {
      const entries = Object.entries(v as Record<string, unknown>)
        .filter(([, child]) => child !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      work.push("}");
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        work.push({ value: child }, `${JSON.stringify(key)}:`, ...(i > 0 ? [","] : []));
      }
      out += "{";
    } else {
      // What JSON.stringify writes for a scalar (nothing for undefined, as before in arrays).
      out += JSON.stringify(v) ?? "";
    }
  }
  return out;
}
