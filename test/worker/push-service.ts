/**
 * A fake push service for the Worker tests, answering like the real ones by endpoint
 * path (`bounce` → 410, `slow` → 429 then 201, `toobig` → 413, `down` → 503 always,
 * `vapid` → 403, anything else 201). The end-to-end tests use the real sandbox instead,
 * which verifies VAPID and decrypts; here the point is our state machine.
 */
import { vi } from "vitest";
import { TEST_PUSH_HOST } from "../fixtures.ts";

export type PushRequest = { path: string; headers: Record<string, string>; bytes: number };

export function installPushService() {
  const requests: PushRequest[] = [];
  const seen = new Map<string, number>();
  const realFetch = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.hostname !== TEST_PUSH_HOST) return realFetch(input as RequestInfo, init);
    const body = await request.arrayBuffer();
    const path = url.pathname.slice(1);
    requests.push({ path, headers: Object.fromEntries(request.headers), bytes: body.byteLength });
    const count = (seen.get(path) ?? 0) + 1;
    seen.set(path, count);
    if (path.includes("bounce")) return new Response('{"reason":"expired"}', { status: 410 });
    if (path.includes("toobig")) return new Response("payload too large", { status: 413 });
    if (path.includes("down")) return new Response("unavailable", { status: 503 });
    if (path.includes("vapid")) return new Response('{"reason":"bad jwt"}', { status: 403 });
    if (path.includes("slow") && count === 1) return new Response("slow down", { status: 429, headers: { "retry-after": "0" } });
    return new Response(null, { status: 201, headers: { location: `https://${TEST_PUSH_HOST}/m/${crypto.randomUUID()}` } });
  });
  return {
    requests,
    to: (path: string) => requests.filter((r) => r.path === path),
    restore: () => spy.mockRestore(),
  };
}
