/** Header lists as postal-mime and fields.ts give them, looked up case-insensitively. */
import { fieldBlocks } from "./fields.ts";

export type Headers = ReadonlyMap<string, readonly string[]>;

export function headerMap(pairs: Iterable<{ key: string; value: string }>): Headers {
  const map = new Map<string, string[]>();
  for (const { key, value } of pairs) {
    const name = key.toLowerCase();
    const values = map.get(name);
    if (values) values.push(value);
    else map.set(name, [value]);
  }
  return map;
}

export function header(headers: Headers, name: string): string | undefined {
  return headers.get(name)?.[0];
}

/** The header block at the top of a returned message (message/rfc822, text/rfc822-headers, or quoted text). */
export function leadingHeaders(text: string): Headers {
  const head = text.slice(0, 256 * 1024).replace(/^\s*\n/, "");
  const block = fieldBlocks(head.split(/\r?\n\r?\n/, 1)[0] ?? "")[0] ?? [];
  return headerMap(block.map((f) => ({ key: f.name, value: f.value })));
}
