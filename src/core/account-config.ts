import { z } from "zod";

/**
 * Per-account configuration held in one secret (JSON of account id → settings). A missing,
 * unparsable or invalid secret configures nobody: the channel then answers 422
 * channel_not_configured rather than guessing.
 */
export function accountConfigs<T extends z.ZodType>(json: string | undefined, schema: T): Record<string, z.infer<T>> {
  if (!json) return {};
  try {
    const parsed = z.record(z.string(), schema).safeParse(JSON.parse(json));
    return parsed.success ? (parsed.data as Record<string, z.infer<T>>) : {};
  } catch {
    return {};
  }
}
