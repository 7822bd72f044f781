/** Reports wrap a diagnostic over indented lines; a reader gives it back on one line. */
import type { Lhost } from "./types.ts";

export function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** The same reader, its diagnostics on one line. */
export function tidy(lhost: Lhost): Lhost {
  return { ...lhost, read: (input) => lhost.read(input).map((r) => ({ ...r, diagnostic: oneLine(r.diagnostic) })) };
}
