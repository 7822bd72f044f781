/**
 * The isolation table's rows for the dashboard (isolation.test.ts runs them with the API's rows):
 * B signed in, A's ids in the URL or the form. Every page reads and writes through the API as
 * the signed-in key, so each finds nothing of A's (a 404 page) and changes nothing (the runner's
 * snapshot of A); a list page shows none of A's things.
 */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { SESSION_COOKIE } from "../../../src/dashboard/session.ts";
import { api, BASE, json, unique, webpush, type AdminAccount } from "../helpers.ts";
import type { Pair, Row } from "../isolation-table.ts";
import { dashboardSession } from "./fuzz-auth.ts";

/** A's things, each with a text that would show if a page leaked it. */
type Things = { message: string; recipient: string; endpoint: string; endpointUrl: string; domain: string; keyId: string; keyName: string };

async function aThings(a: AdminAccount): Promise<Things> {
  const recipient = `iso-dash-${unique()}@example.com`;
  await api(`/v1/suppressions/email/${recipient}`, { method: "PUT", key: a.key });
  const message = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
  const endpointUrl = `https://hooks.example/iso-${unique()}`;
  const endpoint = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: endpointUrl }, key: a.key }));
  const domain = `iso-${unique()}.example`;
  await api("/v1/domains", { method: "POST", json: { domain }, key: a.key });
  const keyName = `iso-key-${unique()}`;
  const key = await json(await api("/v1/api-keys", { method: "POST", json: { name: keyName, scopes: ["read"] }, key: a.key }));
  for (const made of [message, endpoint, key]) expect(made.status, JSON.stringify(made.body)).toBeLessThan(300);
  return { message: message.body.id, recipient, endpoint: endpoint.body.id, endpointUrl, domain, keyId: key.body.id, keyName };
}

type Session = { cookie: string; csrf: string };

function page(session: Session, path: string): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { redirect: "manual", headers: { cookie: `${SESSION_COOKIE}=${session.cookie}` } });
}

function post(session: Session, path: string, form: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: `${SESSION_COOKIE}=${session.cookie}`, origin: BASE, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ ...form, _csrf: session.csrf }).toString(),
  });
}

/** No text of A's things in B's page (but what B typed itself, which a search form shows back). */
async function expectNothingOf(a: Things, res: Response, typed: string[] = []) {
  const text = await res.text();
  const things = [a.message, a.recipient, a.endpoint, a.endpointUrl, a.domain, a.keyId, a.keyName];
  for (const leak of things.filter((t) => !typed.includes(t))) {
    expect(text, `B's page shows ${leak}`).not.toContain(leak);
  }
}

/** A row: A's things made, the snapshot taken, B signed in and `call` made. */
const row =
  (call: (b: Session, a: Things) => Promise<void>): Row =>
  async ({ a, b, ready }: Pair) => {
    const things = await aThings(a);
    await ready([things.message]);
    await call(await dashboardSession(b.key), things);
  };

/** B's answer to a page naming A's thing: the API's 404, as a page. */
const notFound = async (res: Response) => expect(res.status).toBe(404);

export function dashboardRows(): Record<string, Row> {
  return {
    "GET /dashboard": row(async (b, a) => expectNothingOf(a, await page(b, "/dashboard"))),
    "GET /dashboard/messages": row(async (b, a) => {
      // B searches for A's recipient: the form shows the query back, and no message of A's.
      const res = await page(b, `/dashboard/messages?recipient=${encodeURIComponent(a.recipient)}`);
      expect(res.status).toBe(200);
      await expectNothingOf(a, res, [a.recipient]);
    }),
    "GET /dashboard/messages/:id": row(async (b, a) => notFound(await page(b, `/dashboard/messages/${a.message}`))),
    "GET /dashboard/suppressions": row(async (b, a) => expectNothingOf(a, await page(b, "/dashboard/suppressions"))),
    "GET /dashboard/suppressions.csv": row(async (b, a) => expectNothingOf(a, await page(b, "/dashboard/suppressions.csv"))),
    "POST /dashboard/suppressions/add": row(async (b, a) => {
      expect((await post(b, "/dashboard/suppressions/add", { channel: "email", recipient: a.recipient })).status).toBeLessThan(400);
    }),
    "GET /dashboard/suppressions/remove": row(async (b, a) => {
      await page(b, `/dashboard/suppressions/remove?channel=email&recipient=${encodeURIComponent(a.recipient)}`);
    }),
    "POST /dashboard/suppressions/remove": row(async (b, a) => {
      expect((await post(b, "/dashboard/suppressions/remove", { channel: "email", recipient: a.recipient })).status).toBe(404);
    }),
    "GET /dashboard/webhooks": row(async (b, a) => expectNothingOf(a, await page(b, "/dashboard/webhooks"))),
    "POST /dashboard/webhooks": row(async (b, a) => {
      expect((await post(b, "/dashboard/webhooks", { url: a.endpointUrl })).status).toBeLessThan(400);
    }),
    "GET /dashboard/webhooks/:id": row(async (b, a) => notFound(await page(b, `/dashboard/webhooks/${a.endpoint}`))),
    "POST /dashboard/webhooks/:id/enabled": row(async (b, a) => {
      await notFound(await post(b, `/dashboard/webhooks/${a.endpoint}/enabled`, { enabled: "false" }));
    }),
    "POST /dashboard/webhooks/:id/rotate": row(async (b, a) => notFound(await post(b, `/dashboard/webhooks/${a.endpoint}/rotate`))),
    "POST /dashboard/webhooks/:id/recover": row(async (b, a) => {
      await notFound(await post(b, `/dashboard/webhooks/${a.endpoint}/recover`, { since: new Date(Date.now() - 60_000).toISOString() }));
    }),
    "GET /dashboard/settings": row(async (b, a) => expectNothingOf(a, await page(b, "/dashboard/settings"))),
    "POST /dashboard/settings/keys": row(async (b) => {
      expect((await post(b, "/dashboard/settings/keys", { name: "b's", scopes: "read" })).status).toBeLessThan(400);
    }),
    // The confirmation shows the id B typed, and nothing the API knows of it.
    "GET /dashboard/settings/keys/:id/revoke": row(async (b, a) => {
      expect(await (await page(b, `/dashboard/settings/keys/${a.keyId}/revoke`)).text()).not.toContain(a.keyName);
    }),
    "POST /dashboard/settings/keys/:id/revoke": row(async (b, a) => notFound(await post(b, `/dashboard/settings/keys/${a.keyId}/revoke`))),
    "POST /dashboard/settings/domains": row(async (b, a) => {
      expect((await post(b, "/dashboard/settings/domains", { domain: a.domain })).status).toBeLessThan(400);
    }),
    "POST /dashboard/settings/domains/:domain/verify": row(async (b, a) => {
      await notFound(await post(b, `/dashboard/settings/domains/${a.domain}/verify`));
    }),
  };
}

/** Dashboard routes that hold no account's data: the stylesheet, signing in and out. */
export const DASHBOARD_UNSCOPED = [
  "GET /dashboard/static/app.css",
  "GET /dashboard/sign-in",
  "POST /dashboard/sign-in",
  "POST /dashboard/sign-out",
];
