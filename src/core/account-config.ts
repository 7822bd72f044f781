import type { z } from "zod";

/**
 * Per-account configuration held in one secret (JSON of account id → settings). A missing,
 * unparsable or invalid secret configures nobody: the channel then answers 422
 * channel_not_configured rather than guessing.
 *
 * A Map, not an object: account ids come from requests (`?account=`), and `__proto__`,
 * `constructor` or `toString` must find nothing rather than Object.prototype's members.
 * (zod's record would also turn a `__proto__` key into a prototype, so entries are parsed one by one.)
 */
export function accountConfigs<T extends z.ZodType>(json: string | undefined, schema: T): ReadonlyMap<string, z.infer<T>> {
  const configs = new Map<string, z.infer<T>>();
  if (!json) return configs;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return configs;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return configs;
  // JSON.parse makes every key, `__proto__` included, an own property: Object.entries sees them all.
  for (const [account, entry] of Object.entries(value)) {
    const parsed = schema.safeParse(entry);
    if (!parsed.success) return new Map();
    configs.set(account, parsed.data as z.infer<T>);
  }
  return configs;
}
