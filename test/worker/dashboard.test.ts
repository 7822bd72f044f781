/**
 * The dashboard inside workerd: sign-in and its cookie, sessions that do not open (none,
 * tampered, expired), CSRF (token and Origin), sign-out, page sizes, and that it shows only
 * what the signed-in key's API shows (another account's message is not found).
 */
import { env, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sealSession, SESSION_COOKIE } from "../../src/dashboard/session.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { adminAccount, api, BASE, json, send, unique, type AdminAccount } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

const PAGES = [
  "/dashboard",
  "/dashboard/messages",
  "/dashboard/suppressions",
  "/dashboard/webhooks",
  "/dashboard/settings",
  "/dashboard/suppressions/remove?channel=email&recipient=a%40b.example",
];

function page(path: string, cookie?: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (cookie) headers.set("cookie", `${SESSION_COOKIE}=${cookie}`);
  return SELF.fetch(`${BASE}${path}`, { redirect: "manual", ...init, headers });
}

/** A form POST as a browser on the dashboard's own origin sends it. */
function post(path: string, form: Record<string, string>, cookie?: string, origin = BASE): Promise<Response> {
  return page(path, cookie, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin },
    body: new URLSearchParams(form).toString(),
  });
}

function cookieOf(res: Response): string {
  const header = res.headers.get("set-cookie") ?? "";
  const match = new RegExp(`${SESSION_COOKIE}=([^;]*)`).exec(header);
  if (!match) throw new Error(`no session cookie in ${header}`);
  return match[1]!;
}

async function signIn(key: string): Promise<string> {
  const res = await post("/dashboard/sign-in", { key, next: "/dashboard" });
  expect(res.status, await res.clone().text()).toBe(303);
  return cookieOf(res);
}

async function csrfOf(cookie: string): Promise<string> {
  const html = await (await page("/dashboard/suppressions", cookie)).text();
  const match = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error("no CSRF field on the page");
  return match[1]!;
}

async function emailAccount(name: string): Promise<AdminAccount> {
  const account = await adminAccount(name);
  const res = await api("/v1/email/settings", {
    method: "PUT",
    key: account.key,
    json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["dash.example"], relay: { mode: "direct" } },
  });
  expect(res.status).toBe(200);
  return account;
}

async function suppressed(account: AdminAccount, address: string): Promise<number> {
  return (await api(`/v1/suppressions/email/${encodeURIComponent(address)}`, { key: account.key })).status;
}

describe("dashboard sign-in", () => {
  it("a key with read scope signs in: the cookie is HttpOnly, SameSite=Strict, Path=/dashboard, Secure on https", async () => {
    const account = await adminAccount("Dash Co");
    const form = await page("/dashboard/sign-in");
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('name="key"');
    const res = await post("/dashboard/sign-in", { key: account.key, next: "/dashboard/messages?channel=email" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard/messages?channel=email");
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=v1\\.`));
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/dashboard");
    expect(cookie).toContain("Secure");
    // The key itself is not in the cookie: it is sealed.
    expect(cookie).not.toContain(account.key);
    const home = await page("/dashboard", cookieOf(res));
    expect(home.status).toBe(200);
    expect(await home.text()).toContain("Accepted is not delivered");
  });

  it("charts each channel's counts, hard bounces apart from soft ones, accepted apart from delivered", async () => {
    const account = await emailAccount("Overview Co");
    const res = await send(
      { channel: "email", from: "news@dash.example", to: `bounce-${unique()}@example.net`, subject: "s", text: "t" },
      { key: account.key },
    );
    expect(res.status).toBe(202);
    const cookie = await signIn(account.key);
    const html = await waitFor(async () => {
      const text = await (await page("/dashboard", cookie)).text();
      return text.includes("Hard bounces: 1 in 24 hours") ? text : null;
    }, "the overview to chart the hard bounce");
    expect(html).toContain("Soft bounces: 0 in 24 hours");
    expect(html).toContain("Accepted (next hop took it): 0 in 24 hours");
  });

  it("refuses a wrong key and a key without read scope, with the API's error shown and no cookie", async () => {
    const bad = await post("/dashboard/sign-in", { key: "lh_not-a-key" });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();
    expect(await bad.text()).toContain("the API key is not valid");

    const account = await adminAccount("Dash Scopes");
    const made = await json(await api("/v1/api-keys", { method: "POST", key: account.key, json: { name: "sender", scopes: ["send"] } }));
    expect(made.status).toBe(201);
    const noRead = await post("/dashboard/sign-in", { key: made.body.key });
    expect(noRead.status).toBe(401);
    expect(noRead.headers.get("set-cookie")).toBeNull();
    expect(await noRead.text()).toContain("lacks the read scope");
  });

  it("does not redirect outside the dashboard after sign-in", async () => {
    const account = await adminAccount("Dash Next");
    for (const next of ["https://evil.example/", "//evil.example/dashboard", "/v1/stats"]) {
      const res = await post("/dashboard/sign-in", { key: account.key, next });
      expect(res.headers.get("location")).toBe("/dashboard");
    }
  });

  it("every page sends a visitor without a session to sign-in, and so do a tampered and an expired cookie", async () => {
    const account = await adminAccount("Dash Gate");
    const good = await signIn(account.key);
    const tampered = `${good.slice(0, -4)}${good.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    const expired = (await sealSession(env, account.key, Date.now() - 13 * 3_600_000)).value;
    const more = [
      `/dashboard/messages/${crypto.randomUUID()}`,
      "/dashboard/webhooks/whe_0123456789abcdef01234567",
      "/dashboard/suppressions.csv?channel=email",
      "/dashboard/settings/keys/key_x/revoke",
      "/dashboard/nowhere",
    ];
    for (const path of [...PAGES, ...more]) {
      for (const cookie of [undefined, tampered, expired, "garbage"]) {
        const res = await page(path, cookie);
        expect(res.status, `${path} with ${cookie?.slice(0, 12)}`).toBe(303);
        expect(res.headers.get("location")).toBe(`/dashboard/sign-in?next=${encodeURIComponent(path)}`);
      }
      expect((await page(path, good)).status, path).not.toBe(303);
    }
  });

  it("sign-out clears the cookie", async () => {
    const account = await adminAccount("Dash Out");
    const cookie = await signIn(account.key);
    const res = await post("/dashboard/sign-out", { _csrf: await csrfOf(cookie) }, cookie);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard/sign-in?signed-out");
    const cleared = res.headers.get("set-cookie")!;
    expect(cleared).toMatch(new RegExp(`^${SESSION_COOKIE}=;`));
    expect(cleared).toContain("Max-Age=0");
    expect(cleared).toContain("Path=/dashboard");
  });
});

describe("dashboard forms", () => {
  it("a POST without, or with a wrong, CSRF token is refused (403) and changes nothing; so is one from another origin", async () => {
    const account = await adminAccount("Dash CSRF");
    const cookie = await signIn(account.key);
    const token = await csrfOf(cookie);
    const other = await signIn(account.key);
    const address = `csrf-${unique()}@dash.example`;
    const form = { channel: "email", recipient: address };
    for (const attempt of [
      post("/dashboard/suppressions/add", form, cookie),
      post("/dashboard/suppressions/add", { ...form, _csrf: "wrong" }, cookie),
      // Another session's token is not this one's.
      post("/dashboard/suppressions/add", { ...form, _csrf: await csrfOf(other) }, cookie),
      post("/dashboard/suppressions/add", { ...form, _csrf: token }, cookie, "https://evil.example"),
    ]) {
      expect((await attempt).status).toBe(403);
    }
    expect(await suppressed(account, address)).toBe(404);
    // Without a session a POST goes to sign-in and changes nothing either.
    const anonymous = await post("/dashboard/suppressions/add", { ...form, _csrf: token });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/dashboard/sign-in");
    expect(await suppressed(account, address)).toBe(404);

    const ok = await post("/dashboard/suppressions/add", { ...form, _csrf: token }, cookie);
    expect(ok.status).toBe(303);
    expect(await suppressed(account, address)).toBe(200);
    const listed = await (await page("/dashboard/suppressions?channel=email", cookie)).text();
    expect(listed).toContain(address);

    const confirm = await page(`/dashboard/suppressions/remove?${new URLSearchParams({ channel: "email", recipient: address })}`, cookie);
    expect(await confirm.text()).toContain("Remove");
    expect((await post("/dashboard/suppressions/remove", { channel: "email", recipient: address }, cookie)).status).toBe(403);
    expect(await suppressed(account, address)).toBe(200);
    const removed = await post("/dashboard/suppressions/remove", { channel: "email", recipient: address, _csrf: token }, cookie);
    expect(removed.status).toBe(303);
    expect(await suppressed(account, address)).toBe(404);
    expect(await (await page("/dashboard/suppressions?channel=email", cookie)).text()).not.toContain(`>${address}<`);
  });

  it("shows an API error on the page, not a blank one", async () => {
    const account = await adminAccount("Dash Errors");
    const cookie = await signIn(account.key);
    const res = await page("/dashboard/messages?status=nonsense", cookie);
    expect(res.status).toBe(400);
    const html = await res.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain("400 validation_failed");
    const missing = await page("/dashboard/nowhere", cookie);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("text/html");
    expect(await missing.text()).toContain("404: there is no dashboard page /dashboard/nowhere");
    const crossSite = await post("/dashboard/sign-out", { _csrf: await csrfOf(cookie) }, cookie, "https://evil.example");
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get("content-type")).toContain("text/html");
    expect(crossSite.headers.get("set-cookie")).toBeNull();
    const webhook = await post("/dashboard/webhooks", { url: "http://127.0.0.1/hook", _csrf: await csrfOf(cookie) }, cookie);
    expect(webhook.status).toBe(422);
    expect(await webhook.text()).toContain('role="alert"');
  });

  it("creates a webhook endpoint and shows its secret once", async () => {
    const account = await adminAccount("Dash Hooks");
    const cookie = await signIn(account.key);
    const res = await post(
      "/dashboard/webhooks",
      { url: "https://hooks.dash.example/in", description: "ours", _csrf: await csrfOf(cookie) },
      cookie,
    );
    expect(res.status).toBe(201);
    expect(await res.text()).toMatch(/<code>whsec_[^<]+<\/code>/);
    const list = await json(await api("/v1/webhook-endpoints", { key: account.key }));
    expect(list.body.data).toEqual([expect.objectContaining({ url: "https://hooks.dash.example/in", description: "ours" })]);
    const listed = await (await page("/dashboard/webhooks", cookie)).text();
    expect(listed).toContain("https://hooks.dash.example/in");
    expect(listed).not.toContain("whsec_");
  });

  it("exports suppressions as CSV, filtered by channel and reason", async () => {
    const account = await adminAccount("Dash CSV");
    const cookie = await signIn(account.key);
    const addresses = [`one-${unique()}@dash.example`, `two-${unique()}@dash.example`];
    for (const address of addresses) {
      expect((await api(`/v1/suppressions/email/${encodeURIComponent(address)}`, { method: "PUT", key: account.key })).status).toBe(200);
    }
    const res = await page("/dashboard/suppressions.csv?channel=email", cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/csv");
    expect(res.headers.get("content-disposition")).toContain("suppressions.csv");
    const lines = (await res.text()).trim().split("\r\n");
    expect(lines[0]).toBe("channel,recipient,reason,at,messageId");
    expect(lines.slice(1).sort()).toEqual(
      addresses.sort().map((a) => expect.stringMatching(new RegExp(`^"email","${a.replace(".", "\\.")}","manual","[^"]+",""$`))),
    );
    const none = await (await page("/dashboard/suppressions.csv?channel=email&reason=hard_bounce", cookie)).text();
    expect(none.trim()).toBe("channel,recipient,reason,at,messageId");
    expect((await page("/dashboard/suppressions?reason=manual", cookie).then((r) => r.text())).includes(addresses[0]!)).toBe(true);
  });

  it("disables, enables and rotates an endpoint, lists its attempts and recovers a window", async () => {
    const account = await adminAccount("Dash Endpoint");
    const cookie = await signIn(account.key);
    const token = await csrfOf(cookie);
    const made = await json(
      await api("/v1/webhook-endpoints", { method: "POST", key: account.key, json: { url: "https://hooks.dash.example/e" } }),
    );
    const id = made.body.id as string;
    const endpoint = async () => (await json(await api(`/v1/webhook-endpoints/${id}`, { key: account.key }))).body;

    const disabled = await post(`/dashboard/webhooks/${id}/enabled`, { enabled: "false", _csrf: token }, cookie);
    expect(disabled.status).toBe(303);
    expect(disabled.headers.get("location")).toBe(`/dashboard/webhooks/${id}?done=disabled`);
    expect(await endpoint()).toMatchObject({ enabled: false, disabledReason: "manual" });
    const shown = await (await page(`/dashboard/webhooks/${id}?done=disabled`, cookie)).text();
    expect(shown).toContain("disabled (manual)");
    expect(shown).toContain("nothing is delivered to it");
    expect((await post(`/dashboard/webhooks/${id}/enabled`, { enabled: "true", _csrf: token }, cookie)).status).toBe(303);
    expect(await endpoint()).toMatchObject({ enabled: true });

    const rotated = await post(`/dashboard/webhooks/${id}/rotate`, { _csrf: token }, cookie);
    expect(rotated.status).toBe(200);
    const secret = /<code>(whsec_[^<]+)<\/code>/.exec(await rotated.text())?.[1];
    expect(secret).toBeDefined();
    expect(secret).not.toBe(made.body.secret);
    expect((await endpoint()).secretRotatedAt).not.toBeNull();

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const recovered = await post(`/dashboard/webhooks/${id}/recover`, { since, until: "", _csrf: token }, cookie);
    expect(recovered.status).toBe(303);
    expect(recovered.headers.get("location")).toBe(`/dashboard/webhooks/${id}?done=recovered`);
    const bad = await post(`/dashboard/webhooks/${id}/recover`, { since: "yesterday", _csrf: token }, cookie);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("400 validation_failed");
    const attempts = await page(`/dashboard/webhooks/${id}?status=failed`, cookie);
    expect(attempts.status).toBe(200);
    expect(await attempts.text()).toContain("No attempts.");
    expect((await page("/dashboard/webhooks/whe_nope", cookie)).status).toBe(404);
  });

  it("creates an API key (shown once) and revokes it after a confirmation page", async () => {
    const account = await adminAccount("Dash Keys");
    const cookie = await signIn(account.key);
    const token = await csrfOf(cookie);
    const body = new URLSearchParams([
      ["name", "reporting"],
      ["scopes", "read"],
      ["scopes", "send"],
      ["_csrf", token],
    ]);
    const created = await page("/dashboard/settings/keys", cookie, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: body.toString(),
    });
    expect(created.status).toBe(201);
    const key = /<code>(lh_[^<]+)<\/code>/.exec(await created.text())?.[1];
    expect(key).toBeDefined();
    const keys = (await json(await api("/v1/api-keys", { key: account.key }))).body.data as Array<{
      id: string;
      name: string;
      scopes: string[];
    }>;
    const made = keys.find((k) => k.name === "reporting")!;
    expect(made.scopes).toEqual(["read", "send"]);
    expect((await api("/v1/stats", { key })).status).toBe(200);
    const settings = await (await page("/dashboard/settings", cookie)).text();
    expect(settings).toContain("reporting");
    expect(settings).not.toContain(key!);

    expect(await (await page(`/dashboard/settings/keys/${made.id}/revoke`, cookie)).text()).toContain("Revoke the key");
    // A session made with the key ends with it: the next page goes back to sign-in and clears the cookie.
    const theirs = await signIn(key!);
    const revoked = await post(`/dashboard/settings/keys/${made.id}/revoke`, { _csrf: token }, cookie);
    expect(revoked.status).toBe(303);
    expect((await api("/v1/stats", { key })).status).toBe(401);
    const ended = await page("/dashboard/messages", theirs);
    expect(ended.status).toBe(303);
    expect(ended.headers.get("location")).toBe("/dashboard/sign-in?expired");
    expect(ended.headers.get("set-cookie")).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`));
    expect(await (await page("/dashboard/sign-in?expired")).text()).toContain("Your session ended");
  });
});

describe("dashboard pages", () => {
  it("finds a message by recipient and shows its timeline; another account's message id is not found", async () => {
    const a = await emailAccount("Dash A");
    const b = await emailAccount("Dash B");
    const to = `reader-${unique()}@example.net`;
    const mail = (recipient: string, key: string) =>
      send({ channel: "email", from: "news@dash.example", to: recipient, subject: "Hi", text: "hi" }, { key });
    const mine = await mail(to, a.key);
    expect(mine.status).toBe(202);
    const theirs = await mail(to, b.key);
    expect(theirs.status).toBe(202);

    const cookie = await signIn(a.key);
    const found = await page(`/dashboard/messages?${new URLSearchParams({ recipient: to, channel: "", status: "" })}`, cookie);
    expect(found.status).toBe(200);
    const list = await found.text();
    expect(list).toContain(`/dashboard/messages/${mine.body.id}`);
    expect(list).not.toContain(theirs.body.id);

    const timeline = await page(`/dashboard/messages/${mine.body.id}`, cookie);
    expect(timeline.status).toBe(200);
    const html = await timeline.text();
    expect(html).toContain(to);
    expect(html).toContain(">queued<");

    const other = await page(`/dashboard/messages/${theirs.body.id}`, cookie);
    expect(other.status).toBe(404);
    expect(await other.text()).toContain("404 not_found");
  });

  it("every page, with its stylesheet, is under 100 KB", async () => {
    const account = await adminAccount("Dash Size");
    const cookie = await signIn(account.key);
    const css = await page("/dashboard/static/app.css");
    expect(css.headers.get("content-type")).toContain("text/css");
    const cssBytes = (await css.arrayBuffer()).byteLength;
    for (const path of [...PAGES, "/dashboard/sign-in"]) {
      const res = await page(path, cookie);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
      const bytes = (await res.arrayBuffer()).byteLength + cssBytes;
      expect(bytes, path).toBeLessThan(100 * 1024);
    }
  });
});
