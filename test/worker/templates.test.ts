/**
 * Email templates (issue 19): `/v1/templates` CRUD and versions through SELF.fetch, and sends by
 * template rendered per recipient, checked in the MIME the bridge fake was given.
 */
import { env, runInDurableObject } from "cloudflare:test";
import PostalMime from "postal-mime";
import { messageStub } from "../../src/state/stubs.ts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LONG_RUN_MS, waitFor, waitForProgress } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { installHooks } from "./hooks-fake.ts";
import { adminAccount, api, getMessage, json, send, sendMarker, unique, waitForStatus, type AdminAccount } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
let hooks: ReturnType<typeof installHooks>;
beforeEach(() => {
  bridge = installBridge();
  hooks = installHooks();
});
afterEach(() => {
  hooks.restore();
  bridge.restore();
});

/** A fresh account that can send email From tmpl.example. */
async function emailAccount(): Promise<AdminAccount> {
  const account = await adminAccount("Templates Co");
  const res = await api("/v1/email/settings", {
    method: "PUT",
    key: account.key,
    json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["tmpl.example"], relay: { mode: "direct" } },
  });
  expect(res.status).toBe(200);
  return account;
}

const templateName = () => `welcome-${unique().toLowerCase()}`;

async function createTemplate(account: AdminAccount, body: Record<string, unknown>) {
  return json(await api("/v1/templates", { method: "POST", json: body, key: account.key }));
}

describe("/v1/templates", () => {
  it("creates version 1, PUT makes the next, old versions stay readable, list shows the latest, delete removes", async () => {
    const a = await emailAccount();
    const name = templateName();
    const made = await createTemplate(a, { name, subject: "Hi {{name}}", text: "Hello {{name}}" });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(made.body).toMatchObject({ name, version: 1, subject: "Hi {{name}}", text: "Hello {{name}}" });
    expect(made.body.html).toBeUndefined();

    const again = await createTemplate(a, { name, subject: "x", text: "y" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("template_exists");

    const put = await json(
      await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "Hey {{name}}", html: "<p>{{name}}</p>" }, key: a.key }),
    );
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body).toMatchObject({ name, version: 2, subject: "Hey {{name}}", html: "<p>{{name}}</p>" });

    const latest = await json(await api(`/v1/templates/${name}`, { key: a.key }));
    expect(latest.body).toMatchObject({ version: 2, subject: "Hey {{name}}" });
    const first = await json(await api(`/v1/templates/${name}?version=1`, { key: a.key }));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 1, subject: "Hi {{name}}", text: "Hello {{name}}" });
    expect((await api(`/v1/templates/${name}?version=3`, { key: a.key })).status).toBe(404);
    const badVersion = await json(await api(`/v1/templates/${name}?version=zero`, { key: a.key }));
    expect(badVersion.status).toBe(400);
    expect(badVersion.body.error.details[0].path).toBe("version");

    const other = templateName();
    expect((await createTemplate(a, { name: other, subject: "s", text: "t" })).status).toBe(201);
    const list = await json(await api("/v1/templates", { key: a.key }));
    expect(list.body.data.filter((t: { name: string }) => t.name === name || t.name === other)).toEqual(
      [
        { name, version: 2, subject: "Hey {{name}}", createdAt: made.body.createdAt, updatedAt: put.body.createdAt },
        expect.objectContaining({ name: other, version: 1 }),
      ].sort((x, y) => (x.name < y.name ? -1 : 1)),
    );

    expect((await api(`/v1/templates/${name}`, { method: "DELETE", key: a.key })).status).toBe(204);
    expect((await api(`/v1/templates/${name}`, { key: a.key })).status).toBe(404);
    expect((await api(`/v1/templates/${name}?version=1`, { key: a.key })).status).toBe(404);
    expect((await api(`/v1/templates/${name}`, { method: "DELETE", key: a.key })).status).toBe(404);
    expect((await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "s", text: "t" }, key: a.key })).status).toBe(404);
    // Made again: the versions go on, so {name, version} on an old message never names new content.
    const remade = await createTemplate(a, { name, subject: "New", text: "new" });
    expect(remade.status).toBe(201);
    expect(remade.body.version).toBe(3);
  });

  it.each([
    [
      "a syntax error, with the part and Mustache's message",
      { subject: "s", text: "Hi\n{{#items}}x" },
      "text",
      /Unclosed section "items".*line 2/,
    ],
    ["an unopened section in html", { subject: "s", html: "{{/a}}" }, "html", /Unopened section "a"/],
    ["a partial", { subject: "s", text: "{{> footer}}" }, "text", /partials are not supported/],
    ["no body", { subject: "s" }, "text", /text, html or both/],
    ["no subject", { text: "t" }, "subject", /.+/],
    ["a name that is no slug", { name: "Bad Name!", subject: "s", text: "t" }, "name", /slug/],
    ["an unknown field", { subject: "s", text: "t", from: "x@y.z" }, "(body)", /from/],
  ] as const)("refuses %s (400, nothing saved)", async (_what, body, path, message) => {
    const a = await emailAccount();
    const name = templateName();
    const res = await createTemplate(a, { name, ...body });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    const detail = res.body.error.details.find((d: { path: string }) => d.path === path);
    expect(detail, JSON.stringify(res.body.error.details)).toBeDefined();
    expect(detail.message).toMatch(message);
    expect((await json(await api("/v1/templates", { key: a.key }))).body.data).toEqual([]);
  });

  it("a PUT with a syntax error is 400 and leaves the latest version as it was", async () => {
    const a = await emailAccount();
    const name = templateName();
    expect((await createTemplate(a, { name, subject: "s", text: "t" })).status).toBe(201);
    const res = await json(await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "{{#x}}", text: "t" }, key: a.key }));
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe("subject");
    expect((await json(await api(`/v1/templates/${name}`, { key: a.key }))).body.version).toBe(1);
  });
});

const mailTo = (to: string, name: string, variables: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@tmpl.example",
  to,
  template: { name },
  variables,
  ...extra,
});

async function relayedMime(id: string) {
  const item = await waitFor(async () => bridge.relayed.find((m) => m.id === id));
  return { item, parsed: await PostalMime.parse(item.raw) };
}

describe("sends by template", () => {
  it("renders subject, text and html: html escaped, subject and text as given; the message names its template", async () => {
    const a = await emailAccount();
    const name = templateName();
    expect(
      (
        await createTemplate(a, {
          name,
          subject: "Hi {{name}}",
          text: "Hello {{name}}, {{#items}}[{{.}}]{{/items}}",
          html: "<p>Hello {{name}}</p>{{{footer}}}",
        })
      ).status,
    ).toBe(201);
    const variables = { name: `<script>alert("x")</script> & Zoë`, items: ["a", "b"], footer: "<hr>" };
    const res = await send(mailTo("reader@example.com", name, variables), { key: a.key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body.status).toBe("queued");
    const message = await waitForStatus(res.body.id, "accepted", a.key);
    expect(message.template).toEqual({ name, version: 1 });

    const { parsed } = await relayedMime(res.body.id);
    expect(parsed.subject).toBe(`Hi <script>alert("x")</script> & Zoë`);
    expect(parsed.text?.trim()).toBe(`Hello <script>alert("x")</script> & Zoë, [a][b]`);
    expect(parsed.html).toContain("<p>Hello &lt;script&gt;alert(&quot;x&quot;)&lt;&#x2F;script&gt; &amp; Zoë</p><hr>");
    expect(parsed.html).not.toContain("<script>");
  });

  it("a version pins the content; without one the latest renders; an unknown name or version is 422 and makes nothing", async () => {
    const a = await emailAccount();
    const name = templateName();
    expect((await createTemplate(a, { name, subject: "v1 {{n}}", text: "one" })).status).toBe(201);
    expect((await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "v2 {{n}}", text: "two" }, key: a.key })).status).toBe(
      200,
    );
    const pinned = await send(mailTo("p@example.com", name, { n: 1 }, { template: { name, version: 1 } }), { key: a.key });
    const latest = await send(mailTo("l@example.com", name, { n: 2 }), { key: a.key });
    expect((await relayedMime(pinned.body.id)).parsed.subject).toBe("v1 1");
    expect((await relayedMime(latest.body.id)).parsed.subject).toBe("v2 2");
    expect((await getMessage(pinned.body.id, a.key)).body.template).toEqual({ name, version: 1 });
    expect((await getMessage(latest.body.id, a.key)).body.template).toEqual({ name, version: 2 });

    const unknown = await send(mailTo("u@example.com", `nope-${unique().toLowerCase()}`, {}), { key: a.key });
    expect(unknown.status).toBe(422);
    expect(unknown.body.error).toMatchObject({ code: "template_not_found", details: [{ path: "template.name" }] });
    const noVersion = await send(mailTo("u@example.com", name, { n: 1 }, { template: { name, version: 9 } }), { key: a.key });
    expect(noVersion.status).toBe(422);
    expect(noVersion.body.error.details[0].path).toBe("template.version");
    const search = await json(await api("/v1/messages?recipient=u@example.com", { key: a.key }));
    expect(search.body.data).toEqual([]);
  });

  it.each([
    ["template with subject", { subject: "s" }, "subject"],
    ["template with text and html", { text: "t", html: "h" }, "text"],
  ] as const)("refuses %s (400: exactly one of the two forms)", async (_what, extra, path) => {
    const a = await emailAccount();
    const res = await send(mailTo("x@example.com", "any", {}, extra), { key: a.key });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it.each([
    [
      "variables without template",
      { channel: "email", from: "news@tmpl.example", to: "x@example.com", subject: "s", text: "t", variables: {} },
      "variables",
    ],
    [
      "variables that are not an object",
      { channel: "email", from: "news@tmpl.example", to: "x@example.com", template: { name: "a" }, variables: [1] },
      "variables",
    ],
    [
      "variables over 16 KiB",
      { channel: "email", from: "news@tmpl.example", to: "x@example.com", template: { name: "a" }, variables: { big: "x".repeat(17_000) } },
      "variables",
    ],
    [
      "a template name that is no slug",
      { channel: "email", from: "news@tmpl.example", to: "x@example.com", template: { name: "A B" } },
      "template.name",
    ],
    ["neither form", { channel: "email", from: "news@tmpl.example", to: "x@example.com" }, "subject"],
  ] as const)("refuses %s (400)", async (_what, body, path) => {
    const a = await emailAccount();
    const res = await send(body, { key: a.key });
    expect(res.status, JSON.stringify(res.body)).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it("a missing variable: the message is made failed (rendering_failed), never relayed, and message.rendering_failed goes out", async () => {
    const a = await emailAccount();
    const hook = `tmpl-${unique()}`;
    const endpoint = await json(await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(hook) }, key: a.key }));
    expect(endpoint.status).toBe(201);
    const name = templateName();
    expect((await createTemplate(a, { name, subject: "Hi {{first}}", text: "Dear {{first}},\n\nyour code: {{code}}" })).status).toBe(201);

    const res = await send(mailTo("missing@example.com", name, { first: "Ann" }), { key: a.key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toMatchObject({
      status: "failed",
      reason: "rendering_failed",
      rendering: { template: { name, version: 1 }, failure: { kind: "missing_variable", part: "text", variable: "code", line: 3 } },
    });
    const message = await getMessage(res.body.id, a.key);
    expect(message.body).toMatchObject({ status: "failed", template: { name, version: 1 } });
    expect(message.body.events.map((e: { type: string }) => e.type)).toEqual(["failed"]);

    const delivery = await waitFor(
      () => hooks.to(hook).find((d) => d.event.type === "message.rendering_failed"),
      "the endpoint to receive message.rendering_failed",
    );
    expect(delivery.event.data).toMatchObject({
      detail: { reason: "rendering_failed", template: { name, version: 1 }, failure: { variable: "code", line: 3 } },
      message: { id: res.body.id, status: "failed", to: "missing@example.com" },
    });
    // Never relayed: a later send of the same account has been relayed, and this one is not among the relayed.
    const marker = await sendMarker(mailTo("marker@example.com", name, { first: "M", code: 1 }), a.key);
    expect(bridge.relayed.some((m) => m.id === marker)).toBe(true);
    expect(bridge.relayed.some((m) => m.id === res.body.id || m.rcptTo === "missing@example.com")).toBe(false);
    expect((await getMessage(res.body.id, a.key)).body.status).toBe("failed");
    // The same Idempotency-Key again answers the same message and failure.
    const key = `idem-${unique()}`;
    const once = await send(mailTo("missing2@example.com", name, {}), { key: a.key, idempotencyKey: key });
    const twice = await send(mailTo("missing2@example.com", name, {}), { key: a.key, idempotencyKey: key });
    expect(twice.status).toBe(200);
    expect(twice.body).toEqual(once.body);
    expect(twice.body.rendering.failure.variable).toBe("first");
  });
});

describe("isolation", () => {
  it("another account can neither read, change, delete nor send with A's template", async () => {
    const a = await emailAccount();
    const b = await emailAccount();
    const name = templateName();
    expect((await createTemplate(a, { name, subject: "secret {{x}}", text: "t" })).status).toBe(201);
    expect((await api(`/v1/templates/${name}`, { key: b.key })).status).toBe(404);
    expect((await api(`/v1/templates/${name}?version=1`, { key: b.key })).status).toBe(404);
    expect((await json(await api("/v1/templates", { key: b.key }))).body.data).toEqual([]);
    expect((await api(`/v1/templates/${name}`, { method: "PUT", json: { subject: "b", text: "b" }, key: b.key })).status).toBe(404);
    expect((await api(`/v1/templates/${name}`, { method: "DELETE", key: b.key })).status).toBe(404);
    const used = await send(mailTo("x@example.com", name, { x: 1 }), { key: b.key });
    expect(used.status).toBe(422);
    expect(used.body.error.code).toBe("template_not_found");
    const still = await json(await api(`/v1/templates/${name}`, { key: a.key }));
    expect(still.body).toMatchObject({ version: 1, subject: "secret {{x}}" });
  });
});

/**
 * 200 here, inside workerd with the bridge fake: the rules per item. The batch's full 1,000,
 * each checked as it arrives at the sandbox MTA, runs through the whole stack in
 * test/node/e2e-email-content.test.ts.
 */
const ITEMS = 200;

describe("a batch of one template", () => {
  it(
    "200 items: 200 messages, each rendered for its recipient (escaped in html, raw in text); those relayed each with its own Message-ID, VERP and unsubscribe link",
    async () => {
      const a = await emailAccount();
      const name = templateName();
      expect(
        (
          await createTemplate(a, {
            name,
            subject: "Order {{n}} for {{who}}",
            text: "Hi {{who}}, order {{n}}",
            html: "<p>Hi {{who}}</p><p>#{{n}}</p>",
          })
        ).status,
      ).toBe(201);
      const run = unique().toLowerCase();
      const who = (i: number) => (i % 2 ? `<script>${i}</script>` : `Tom & ${i}`);
      const escaped = (i: number) => (i % 2 ? `&lt;script&gt;${i}&lt;&#x2F;script&gt;` : `Tom &amp; ${i}`);
      const items = Array.from({ length: ITEMS }, (_, i) => ({
        channel: "email",
        from: "news@tmpl.example",
        to: `r${i}-${run}@example.com`,
        template: { name },
        variables: { who: who(i), n: i },
      }));
      const res = await json(await api("/v1/messages/batch", { method: "POST", json: { messages: items }, key: a.key }));
      expect(res.status).toBe(202);
      const results = res.body.results as Array<{ id: string; status: string }>;
      expect(
        results.every((r) => r.status === "queued"),
        JSON.stringify(results.find((r) => r.status !== "queued")),
      ).toBe(true);
      const ids = results.map((r) => r.id);
      expect(new Set(ids).size).toBe(ITEMS);

      // Every message as its MessageDO keeps it: the send the relay will compose, rendered for its item.
      for (const [i, id] of ids.entries()) {
        const request = await runInDurableObject(messageStub(env, a.id, id), (_o: unknown, state: DurableObjectState) =>
          JSON.parse(state.storage.sql.exec<{ request: string }>("SELECT request FROM message").one().request),
        );
        expect(request).toMatchObject({
          to: `r${i}-${run}@example.com`,
          subject: `Order ${i} for ${who(i)}`,
          text: `Hi ${who(i)}, order ${i}`,
          html: `<p>Hi ${escaped(i)}</p><p>#${i}</p>`,
          template: { name, version: 1 },
        });
        expect(request.variables).toBeUndefined();
      }

      // The relay of the first twenty to go (the local queue sends the rest after the test): the MIME as the bridge got it.
      const mine = () => bridge.relayed.filter((m) => m.rcptTo.endsWith(`-${run}@example.com`));
      await waitForProgress(() => mine().length, 20, { stallMs: 60_000, what: "template batch messages relayed" });
      const relayed = mine().slice(0, 20);
      const index = new Map(ids.map((id, i) => [id, i]));
      const messageIds = new Set<string>();
      const unsubscribes = new Set<string>();
      const mailFroms = new Set<string>();
      for (const item of relayed) {
        const i = index.get(item.id)!;
        expect(item.rcptTo).toBe(`r${i}-${run}@example.com`);
        expect(item.mailFrom).toContain(item.id);
        mailFroms.add(item.mailFrom);
        const parsed = await PostalMime.parse(item.raw);
        expect(parsed.subject).toBe(`Order ${i} for ${who(i)}`);
        expect(parsed.text?.trim()).toBe(`Hi ${who(i)}, order ${i}`);
        expect(parsed.html).toContain(`<p>Hi ${escaped(i)}</p><p>#${i}</p>`);
        expect(parsed.html).not.toContain("<script>");
        messageIds.add(parsed.messageId!);
        unsubscribes.add(parsed.headers.find((h) => h.key === "list-unsubscribe")!.value);
      }
      expect(messageIds.size).toBe(relayed.length);
      expect(unsubscribes.size).toBe(relayed.length);
      expect(mailFroms.size).toBe(relayed.length);
    },
    LONG_RUN_MS,
  );
});
