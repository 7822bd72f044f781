/**
 * The isolation table's rows for `/v1/templates` (isolation-table.ts): B's key on A's template
 * reads nothing, changes nothing, and cannot send with it (the TemplateDO is `account:templates`).
 */
import { expect } from "vitest";
import { api, json, unique, type AdminAccount } from "./helpers.ts";
import type { Row } from "./isolation-table.ts";

/** A's template, two versions; `ready` once it is in place. */
async function aTemplate(a: AdminAccount, ready: () => Promise<void>): Promise<string> {
  const name = `iso-${unique().toLowerCase()}`;
  const made = await api("/v1/templates", { method: "POST", json: { name, subject: "A {{x}}", text: "secret of A" }, key: a.key });
  expect(made.status).toBe(201);
  const put = await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "A2 {{x}}", text: "secret of A, v2" }, key: a.key });
  expect(put.status).toBe(200);
  await ready();
  return name;
}

async function expectSame(a: AdminAccount, name: string) {
  const latest = await json(await api(`/v1/templates/${name}`, { key: a.key }));
  expect(latest.body).toMatchObject({ version: 2, subject: "A2 {{x}}" });
  expect((await api(`/v1/templates/${name}?version=1`, { key: a.key })).status).toBe(200);
}

export function templateRows(): Record<string, Row> {
  return {
    "GET /v1/templates": async ({ a, b, ready }) => {
      const name = await aTemplate(a, ready);
      expect(JSON.stringify((await json(await api("/v1/templates", { key: b.key }))).body)).not.toContain(name);
    },
    "POST /v1/templates": async ({ a, b, ready }) => {
      const name = await aTemplate(a, ready);
      // The same name under B is B's own template: version 1, A's untouched.
      const made = await json(await api("/v1/templates", { method: "POST", json: { name, subject: "B", text: "b" }, key: b.key }));
      expect(made.status).toBe(201);
      expect(made.body.version).toBe(1);
      await expectSame(a, name);
    },
    "GET /v1/templates/:name": async ({ a, b, ready }) => {
      const name = await aTemplate(a, ready);
      expect((await api(`/v1/templates/${name}`, { key: b.key })).status).toBe(404);
      expect((await api(`/v1/templates/${name}?version=1`, { key: b.key })).status).toBe(404);
      // Nor can B send with it: the send looks in B's own templates (B can send email, so the 422 is the template's).
      const domain = `${unique().toLowerCase()}.example`;
      const settings = { sendingDomains: [domain], bounceDomain: `bounces.${domain}`, relay: { mode: "direct" } };
      expect((await api("/v1/email/settings", { method: "PUT", json: settings, key: b.key })).status).toBe(200);
      const sent = await json(
        await api("/v1/messages", {
          method: "POST",
          json: { channel: "email", from: `news@${domain}`, to: "x@example.com", template: { name }, variables: { x: 1 } },
          key: b.key,
        }),
      );
      expect(sent.status, JSON.stringify(sent.body)).toBe(422);
      expect(sent.body.error.code).toBe("template_not_found");
    },
    "PUT /v1/templates/:name": async ({ a, b, ready }) => {
      const name = await aTemplate(a, ready);
      expect((await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "B", text: "b" }, key: b.key })).status).toBe(404);
      await expectSame(a, name);
    },
    "DELETE /v1/templates/:name": async ({ a, b, ready }) => {
      const name = await aTemplate(a, ready);
      expect((await api(`/v1/templates/${name}`, { method: "DELETE", key: b.key })).status).toBe(404);
      await expectSame(a, name);
    },
  };
}
