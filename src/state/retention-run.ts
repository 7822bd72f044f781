/**
 * The `scheduled` handler's retention run: every account's policy (its `retention` section,
 * else the default) handed to each of its index shards, which then expire in bounded batches
 * by their own alarms. The run itself is a few calls per account, whatever the volume.
 */
import { DEFAULT_RETENTION, retentionSection, type Retention } from "../core/retention.ts";
import { configStub, counterStubs, directoryStub } from "./stubs.ts";

export async function retainAll(env: Env): Promise<number> {
  let cursor: string | null = null;
  let accounts = 0;
  do {
    const page = await directoryStub(env).listAccounts(cursor, 100);
    for (const { id } of page.items) {
      const stored = await configStub(env, id).sectionOpened(id, "retention");
      const parsed = retentionSection.safeParse(stored ?? undefined);
      const policy: Retention = stored && parsed.success ? parsed.data : DEFAULT_RETENTION;
      await Promise.all(counterStubs(env, id).map((shard) => shard.retain(id, policy)));
      accounts++;
    }
    cursor = page.nextCursor;
  } while (cursor);
  return accounts;
}
