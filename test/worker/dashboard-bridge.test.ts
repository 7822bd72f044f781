/**
 * GET /v1/bridge/health and the overview's bridge section: totals of the bridge's /healthz and
 * /metrics (never its per-host counts: the bridge is shared), its unreachable state shown.
 */
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SESSION_COOKIE } from "../../src/dashboard/session.ts";
import { TEST_BRIDGE_HOST } from "../fixtures.ts";
import { adminAccount, api, BASE, json } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

/** The bridge's two read-only answers, as bridge/src/server.ts gives them. */
function fakeBridge(answer: (path: string) => Response) {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    return url.hostname === TEST_BRIDGE_HOST ? answer(url.pathname) : realFetch(input as RequestInfo, init);
  });
}

const HEALTHZ = {
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
const METRICS = "# HELP bridge_in_flight Batch requests\n# TYPE bridge_in_flight gauge\nbridge_in_flight 4\n";

async function signIn(key: string): Promise<string> {
  const res = await SELF.fetch(`${BASE}/dashboard/sign-in`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
    body: new URLSearchParams({ key }).toString(),
  });
  expect(res.status).toBe(303);
  return /lh_dash=([^;]*)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
}

describe("GET /v1/bridge/health", () => {
  it("answers the bridge's sessions, connections, binds and in-flight batches as totals", async () => {
    fakeBridge((path) => (path === "/healthz" ? Response.json(HEALTHZ) : new Response(METRICS)));
    const account = await adminAccount("Bridge Co");
    const res = await json(await api("/v1/bridge/health", { key: account.key }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      configured: true,
      reachable: true,
      apns: { enabled: true, sessions: 3 },
      smtp: { connections: 4 },
      smpp: { routes: 2, binds: 3, up: 2 },
      inFlight: 4,
    });
    expect(JSON.stringify(res.body)).not.toContain("other-tenant");
    const cookie = await signIn(account.key);
    const html = await (await SELF.fetch(`${BASE}/dashboard`, { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } })).text();
    expect(html).toContain("2 of 3 (2 routes)");
  });

  it("an unreachable bridge is a state, shown on the overview", async () => {
    fakeBridge(() => new Response("bad gateway", { status: 502 }));
    const account = await adminAccount("Bridge Down");
    const res = await json(await api("/v1/bridge/health", { key: account.key }));
    expect(res.body).toEqual({ configured: true, reachable: false, error: "GET /healthz answered 502" });
    const cookie = await signIn(account.key);
    const page = await SELF.fetch(`${BASE}/dashboard`, { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("The bridge is unreachable: GET /healthz answered 502");
  });

  it("needs a key with read scope", async () => {
    const account = await adminAccount("Bridge Scope");
    const made = await json(await api("/v1/api-keys", { method: "POST", key: account.key, json: { name: "s", scopes: ["send"] } }));
    expect((await api("/v1/bridge/health", { key: made.body.key })).status).toBe(403);
    expect((await api("/v1/bridge/health", { key: null })).status).toBe(401);
  });
});
