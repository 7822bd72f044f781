/**
 * The bridge's two read-only answers (/healthz, /metrics) as bridge/src/server.ts gives them,
 * for GET /v1/bridge/health; and its row of the isolation table (isolation-table.ts).
 */
import { expect, vi } from "vitest";
import { TEST_BRIDGE_HOST } from "../fixtures.ts";
import { api, json } from "./helpers.ts";
import type { Row } from "./isolation-table.ts";

export const HEALTHZ = {
  ok: true,
  apns: { enabled: true, sessions: { "https://api.push.apple.com": 2, "https://api.sandbox.push.apple.com": 1 } },
  smtp: { connections: { "mx.other-tenant.example": 3, "mx.example.net": 1 } },
  smpp: {
    enabled: true,
    routes: {
      carrier: { binds: [{ state: "up" }, { state: "binding" }], up: 1 },
      backup: { binds: [{ state: "up" }], up: 1 },
    },
  },
};
export const METRICS = "# HELP bridge_in_flight Batch requests\n# TYPE bridge_in_flight gauge\nbridge_in_flight 4\n";

/** Answers the fake bridge host's requests with `answer(path)`; restore with vi.restoreAllMocks(). */
export function fakeBridgeHealth(
  answer: (path: string) => Response = (p) => (p === "/healthz" ? Response.json(HEALTHZ) : new Response(METRICS)),
) {
  const realFetch = globalThis.fetch;
  return vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = new URL(new Request(input as RequestInfo, init).url);
    return url.hostname === TEST_BRIDGE_HOST ? answer(url.pathname) : realFetch(input as RequestInfo, init);
  });
}

/** The bridge is the platform's: every account reads the same totals, and no host another account sends to. */
export function bridgeHealthRows(): Record<string, Row> {
  return {
    "GET /v1/bridge/health": async ({ a, b, ready }) => {
      const spy = fakeBridgeHealth();
      try {
        await ready();
        const [seenByA, seenByB] = [
          await json(await api("/v1/bridge/health", { key: a.key })),
          await json(await api("/v1/bridge/health", { key: b.key })),
        ];
        expect(seenByA.status).toBe(200);
        expect(seenByB.body).toEqual(seenByA.body);
        expect(JSON.stringify(seenByA.body)).not.toMatch(/other-tenant|example\.net|apple\.com/);
      } finally {
        spy.mockRestore();
      }
    },
  };
}
