// After the webhook load: did every event the edge answered 202 for reach its MessageDO?
// Reads the messages' timelines through the API, for a bounded time.
import { sleep } from "./net.ts";

export type Applied = { expected: number; applied: number; seconds: number };

export async function waitForAppliedEvents(
  workerUrl: string,
  apiKey: string,
  messageIds: string[],
  accepted: Set<string>,
  timeoutMs: number,
): Promise<Applied> {
  const started = Date.now();
  let applied = 0;
  for (;;) {
    applied = 0;
    for (const id of messageIds) {
      const response = await fetch(`${workerUrl}/v1/messages/${id}`, { headers: { authorization: `Bearer ${apiKey}` } });
      if (!response.ok) continue;
      const message = (await response.json()) as { events: Array<{ id: string }> };
      applied += message.events.filter((event) => accepted.has(event.id)).length;
    }
    if (applied >= accepted.size || Date.now() - started > timeoutMs) break;
    await sleep(1_000);
  }
  return { expected: accepted.size, applied, seconds: (Date.now() - started) / 1000 };
}
