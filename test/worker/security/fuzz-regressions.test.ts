/**
 * What the fuzz (fuzz.test.ts) found, kept as a table: each row the request that broke a rule,
 * and the answer it must get now.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { adminAccount, api, BASE } from "../helpers.ts";
import { fuzzAccount, type FuzzAccount } from "./fuzz-auth.ts";
import { answerProblem } from "./fuzz-request.ts";
import { fuzzRoutes } from "./fuzz-routes.ts";
import { SESSION_COOKIE } from "../../../src/dashboard/session.ts";

let fuzz: FuzzAccount;
beforeAll(async () => {
  fuzz = await fuzzAccount();
});

const route = (method: string, path: string) => fuzzRoutes.find((r) => r.method === method && r.path === path)!;

describe("a dashboard form whose body is not the form its content type names", () => {
  // Found: `multipart/form-data; boundary=zzz` over a url-encoded body made parseBody throw, and the
  // dashboard answered 500 on every POST (sign-in included) instead of refusing the form.
  it.each([
    ["/dashboard/sign-in", false],
    ["/dashboard/sign-out", true],
    ["/dashboard/suppressions/add", true],
    ["/dashboard/webhooks/x/rotate", true],
    ["/dashboard/settings/keys", true],
  ])("POST %s (session: %s) → 400 page, nothing changed", async (path, withSession) => {
    const headers: Record<string, string> = { "content-type": "multipart/form-data; boundary=zzz", origin: BASE };
    if (withSession) headers.cookie = `${SESSION_COOKIE}=${fuzz.cookie}`;
    const body = `key=${encodeURIComponent(fuzz.account.key)}&channel=email&recipient=x%40example.com&_csrf=${encodeURIComponent(fuzz.csrf)}`;
    const res = await SELF.fetch(`${BASE}${path}`, { method: "POST", headers, body, redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(await answerProblem(route("POST", path.replace("/x/", "/{id}/")), res)).toBeNull();
    expect((await api("/v1/suppressions/email/x@example.com", { key: fuzz.account.key })).status).toBe(404);
  });

  it("the same form, well formed, still goes through", async () => {
    const other = await adminAccount("Regression Co");
    const res = await SELF.fetch(`${BASE}/dashboard/sign-in`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: new URLSearchParams({ key: other.key, next: "/dashboard" }).toString(),
    });
    expect(res.status).toBe(303);
  });
});
