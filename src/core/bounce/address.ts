/**
 * Email addresses as bounce texts print them: bare, in angle brackets, quoted, after a
 * `rfc822;` type, behind a source route, with a trailing dot or colon. Found by scanning
 * out from each "@" (linear time: a regular expression with a repeated local part
 * backtracks quadratically on a long line without one).
 */

const MAX_LOCAL = 64; // RFC 5321 §4.5.3.1.1
const MAX_DOMAIN = 255; // RFC 5321 §4.5.3.1.2

/** Local-part characters reports print unquoted (RFC 5322 atext and the dot). */
const LOCAL_CHARS = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+/=?^_`{|}~-");
const DOMAIN_CHARS = new Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-");
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$|^\[[0-9.:a-f]+\]$/i;

/** Every address in `text`, in order, domain lower-cased, without duplicates. */
export function addressesIn(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let at = text.indexOf("@"); at >= 0; at = text.indexOf("@", at + 1)) {
    let start = at;
    while (start > 0 && at - start < MAX_LOCAL && LOCAL_CHARS.has(text[start - 1]!)) start--;
    let end = at + 1;
    if (text[end] === "[") {
      const close = text.indexOf("]", end);
      end = close > end && close - end < 64 ? close + 1 : end;
    } else {
      while (end < text.length && end - at <= MAX_DOMAIN && DOMAIN_CHARS.has(text[end]!)) end++;
    }
    if (start === at || end === at + 1) continue;
    const address = normalizeAddress(text.slice(start, end));
    if (!address || seen.has(address)) continue;
    seen.add(address);
    out.push(address);
  }
  return out;
}

/** The first address in `text` (after stripping a source route `@relay:`), or undefined. */
export function addressIn(text: string): string | undefined {
  const routed = text.replace(/^\s*<?\s*@[^:<>\s]+:/, "");
  return addressesIn(routed)[0];
}

/** `<User@Example.COM>.` → `User@example.com`; undefined when it is not an address. */
export function normalizeAddress(raw: string): string | undefined {
  const trimmed = raw.trim().replace(/^[<("'\s]+|[>)"'.,;:\s-]+$/g, "");
  const at = trimmed.lastIndexOf("@");
  if (at < 1 || at === trimmed.length - 1) return undefined;
  // "/home/u/.forward/user@example.com": a file path that ends in an address is about that address.
  const local = trimmed.slice(0, at).replace(/^.*\//, "").replace(/^\.+/, "");
  const domain = trimmed.slice(at + 1).toLowerCase();
  if (!local || !DOMAIN.test(domain)) return undefined;
  return `${local}@${domain}`;
}
