/**
 * What every provider's normalize needs around its own mapping: the result of a body that is
 * not the provider's shape, recipients as providers print them, and small details.
 */
import type { z } from "zod";
import type { NormalizeResult } from "../core/provider-event.ts";

/** The schema's limit on a recipient. */
const MAX_RECIPIENT = 512;

/** An address as providers print it, bare or as `Name <address>`, trimmed; undefined when empty or too long. */
export function addressOf(raw: string): string | undefined {
  const address = (/<([^<>]*)>\s*$/.exec(raw)?.[1] ?? raw).trim();
  return address && address.length <= MAX_RECIPIENT ? address : undefined;
}

/** Detail without absent fields, long provider text clipped: detail is small. */
export function compact(detail: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(detail)) {
    if (value === undefined || value === null || value === "") continue;
    out[key] = typeof value === "string" ? value.slice(0, 1000) : value;
  }
  return out;
}

/** zod's issues as the result's: dotted paths, as src/core/http.ts zodDetails writes them. */
export function invalid(error: z.ZodError): NormalizeResult {
  return {
    ok: false,
    issues: error.issues.map((issue) => ({ path: issue.path.map(String).join(".") || "(body)", message: issue.message })),
  };
}
