/** Forged dashboard forms (forged-shared.ts). */
import { env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { csrfToken, sealSession, SESSION_COOKIE, SESSION_TTL_MS } from "../../../src/dashboard/session.ts";
import { api, BASE, json, unique } from "../helpers.ts";
import { pair, suppressedAmong, victims } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("the dashboard (sealed session cookie, CSRF token, Origin)", "dashboard", async () => {
  const [a, b] = await pair("Dashboard");
  const page = (path: string, cookie?: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (cookie) headers.set("cookie", `${SESSION_COOKIE}=${cookie}`);
    return SELF.fetch(`${BASE}${path}`, { redirect: "manual", ...init, headers });
  };
  const post = (form: Record<string, string>, cookie?: string, origin = BASE) =>
    page("/dashboard/suppressions/add", cookie, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: new URLSearchParams(form).toString(),
    });
  const signIn = async (key: string) => {
    const res = await page("/dashboard/sign-in", undefined, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: new URLSearchParams({ key, next: "/dashboard" }).toString(),
    });
    expect(res.status).toBe(303);
    return /lh_dash=([^;]*)/.exec(res.headers.get("set-cookie") ?? "")![1]!;
  };
  const csrfOf = async (cookie: string) =>
    /name="_csrf" value="([^"]+)"/.exec(await (await page("/dashboard/suppressions", cookie)).text())![1]!;
  const [cookieA, cookieA2, cookieB] = [await signIn(a.key), await signIn(a.key), await signIn(b.key)];
  const [csrfA, csrfA2, csrfB] = [await csrfOf(cookieA), await csrfOf(cookieA2), await csrfOf(cookieB)];
  const expired = await sealSession(env, a.key, Date.now() - SESSION_TTL_MS - 60_000);
  const csrfExpired = await csrfToken(expired.session);
  const form = (recipient: string, csrf?: string) => ({ channel: "email", recipient, ...(csrf ? { _csrf: csrf } : {}) });
  const witness = `dash-witness-${unique()}@example.com`;
  const ok = await post(form(witness, csrfA), cookieA);
  expect(ok.status).toBe(303);
  expect(ok.headers.get("location")).toContain("done=added");
  const hit = victims("dash");
  const refused = (res: Response) =>
    res.status === 403 || (res.status === 303 && res.headers.get("location")?.startsWith("/dashboard/sign-in") === true);

  return {
    makers: {
      // The CSRF token: none, a random one, one bit off, another session's of the same account.
      wrong_key: (i) => post(form(hit[i]!, [undefined, "forged", csrfA2][i % 3]), cookieA),
      // One bit off: of the CSRF token, or of the sealed cookie.
      bit_flip: (i) => (i % 2 ? post(form(hit[i]!, flipBase64(csrfA, i)), cookieA) : post(form(hit[i]!, csrfA), tamper(cookieA, i))),
      stale: (i) => post(form(hit[i]!, csrfExpired), expired.value),
      cross_account: (i) => (i % 2 ? post(form(hit[i]!, csrfB), cookieA) : post(form(hit[i]!, csrfA), cookieB)),
      cross_door: (i) =>
        post(
          form(hit[i]!, csrfA),
          cookieA,
          ["https://evil.example", "null", "http://lasthop.test", "https://lasthop.test.evil.example"][i % 4],
        ),
      replay: () => post(form(witness, csrfA), cookieA),
    },
    refused: (res, kind) => (kind === "replay" ? false : refused(res)),
    duplicates: ["replay"],
    verify: async () => {
      expect(await suppressedAmong(a, "email", [witness])).toEqual([witness]);
      expect(await suppressedAmong(a, "email", hit)).toEqual([]);
      expect(await suppressedAmong(b, "email", hit)).toEqual([]);
      const listed = await json(await api("/v1/suppressions?channel=email&limit=100", { key: a.key }));
      expect(listed.body.data.map((s: { recipient: string }) => s.recipient)).toEqual([witness]);
    },
  };
});

/** The sealed cookie with one bit of its last part flipped. */
function tamper(cookie: string, i: number): string {
  const parts = cookie.split(".");
  parts[parts.length - 1] = flipBase64(parts.at(-1)!, i);
  return parts.join(".");
}
