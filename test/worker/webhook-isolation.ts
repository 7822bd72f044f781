/**
 * The isolation table's rows for the event stream's routes (isolation-table.ts): B's key on A's
 * endpoints, attempts and deliveries finds nothing and changes nothing.
 */
import { expect } from "vitest";
import { waitFor } from "../wait.ts";
import { api, json, unique, webpush, type AdminAccount } from "./helpers.ts";
import { installHooks } from "./hooks-fake.ts";
import type { Row } from "./isolation-table.ts";

/** A's endpoint at a fresh receiver, with one delivered event (a suppression), and the receiver; `ready` once it is in place. */
async function withEndpoint(
  a: AdminAccount,
  ready: () => Promise<void>,
  work: (ep: { id: string; eventId: string }, delivered: () => number) => Promise<void>,
) {
  const hooks = installHooks();
  try {
    const name = `iso-${unique()}`;
    const ep = (await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(name) }, key: a.key }))).body;
    await api(`/v1/suppressions/email/iso-${unique()}@example.com`, { method: "PUT", key: a.key });
    const [first] = await waitFor(() => (hooks.to(name).length > 0 ? hooks.to(name) : null), "A's event delivered");
    await ready();
    await work({ id: ep.id, eventId: first!.headers["webhook-id"]! }, () => hooks.to(name).length);
  } finally {
    hooks.restore();
  }
}

const path = (id: string, rest = "") => `/v1/webhook-endpoints/${id}${rest}`;

async function expectSameEndpoint(a: AdminAccount, id: string, before: unknown) {
  expect((await json(await api(path(id), { key: a.key }))).body).toEqual(before);
}

export function webhookEndpointRows(): Record<string, Row> {
  return {
    "GET /v1/webhook-endpoints": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        expect(JSON.stringify((await json(await api("/v1/webhook-endpoints", { key: b.key }))).body)).not.toContain(ep.id);
      });
    },
    "POST /v1/webhook-endpoints": async ({ a, b, ready }) => {
      await ready();
      await withEndpoint(
        b,
        async () => {},
        async (ep) => {
          expect(JSON.stringify((await json(await api("/v1/webhook-endpoints", { key: a.key }))).body)).not.toContain(ep.id);
        },
      );
    },
    "GET /v1/webhook-endpoints/:id": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        expect((await api(path(ep.id), { key: b.key })).status).toBe(404);
      });
    },
    "PATCH /v1/webhook-endpoints/:id": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        const before = (await json(await api(path(ep.id), { key: a.key }))).body;
        expect((await api(path(ep.id), { method: "PATCH", json: { enabled: false }, key: b.key })).status).toBe(404);
        await expectSameEndpoint(a, ep.id, before);
      });
    },
    "DELETE /v1/webhook-endpoints/:id": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        expect((await api(path(ep.id), { method: "DELETE", key: b.key })).status).toBe(404);
        expect((await api(path(ep.id), { key: a.key })).status).toBe(200);
      });
    },
    "POST /v1/webhook-endpoints/:id/rotate-secret": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        const before = (await json(await api(path(ep.id), { key: a.key }))).body;
        expect((await api(path(ep.id, "/rotate-secret"), { method: "POST", key: b.key })).status).toBe(404);
        await expectSameEndpoint(a, ep.id, before);
      });
    },
    "POST /v1/webhook-endpoints/:id/test": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep, delivered) => {
        const before = delivered();
        expect((await api(path(ep.id, "/test"), { method: "POST", key: b.key })).status).toBe(404);
        expect(delivered()).toBe(before);
      });
    },
    "GET /v1/webhook-endpoints/:id/attempts": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        expect((await api(path(ep.id, "/attempts"), { key: b.key })).status).toBe(404);
        expect((await json(await api(path(ep.id, "/attempts"), { key: a.key }))).body.data.length).toBeGreaterThan(0);
      });
    },
    "POST /v1/webhook-endpoints/:id/recover": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep) => {
        const since = new Date(Date.now() - 60_000).toISOString();
        expect((await api(path(ep.id, "/recover"), { method: "POST", json: { since }, key: b.key })).status).toBe(404);
      });
    },
    "POST /v1/webhook-endpoints/:id/events/:eventId/resend": async ({ a, b, ready }) => {
      await withEndpoint(a, ready, async (ep, delivered) => {
        const before = delivered();
        const resend = path(ep.id, `/events/${encodeURIComponent(ep.eventId)}/resend`);
        expect((await api(resend, { method: "POST", key: b.key })).status).toBe(404);
        expect(delivered()).toBe(before);
      });
    },
    "GET /v1/messages/:id/deliveries": async ({ a, b, ready }) => {
      await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:ops@example.com" }, key: a.key });
      const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
      await ready([sent.body.id]);
      expect((await api(`/v1/messages/${sent.body.id}/deliveries`, { key: b.key })).status).toBe(404);
      expect((await api(`/v1/messages/${sent.body.id}/deliveries`, { key: a.key })).status).toBe(200);
    },
  };
}
