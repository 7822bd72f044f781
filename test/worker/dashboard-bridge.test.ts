/**
 * GET /v1/bridge/health and the overview's bridge section: totals of the bridge's /healthz and
 * /metrics (never its per-host counts: the bridge is shared), its unreachable state shown.
 */
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SESSION_COOKIE } from "../../src/dashboard/session.ts";
import { fakeBridgeHealth as fakeBridge } from "./bridge-health-fake.ts";
import { adminAccount, api, BASE, json } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

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
    fakeBridge();
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
