import { SELF } from "cloudflare:test";
import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type * as responses from "../../src/core/api-responses.ts";
import type { AttemptView, DeliveryView } from "../../src/state/endpoint.ts";
import type { AccountInfo, AuditEntry, KeyRecord } from "../../src/state/config.ts";
import type { InboundSms, StatsBucket } from "../../src/state/account.ts";
import type { MessageView, SuppressionEntry } from "../../src/state/types.ts";
import type { IndexRow } from "../../src/core/message-search.ts";
import type { DomainView } from "../../src/core/domains.ts";
import type { EndpointInfo } from "../../src/core/webhook-endpoint.ts";
import { app } from "../../src/api/app.ts";
import { SCOPES, type Scope } from "../../src/core/config/keys.ts";
import { eventBody } from "../../src/api/openapi/events.ts";
import { documentedAnswer, findRoute } from "../../src/api/openapi/lookup.ts";
import { waitFor } from "../wait.ts";
import { installHooks } from "./hooks-fake.ts";
import { adminAccount, api, BASE, json, webpush } from "./helpers.ts";
import { installPushService } from "./push-service.ts";
import { env } from "cloudflare:test";

type Doc = { openapi: string; paths: Record<string, Record<string, unknown>>; webhooks: Record<string, unknown> };

/**
 * Routes the document leaves out on purpose, each with why. Everything else the app serves must
 * be in it, and everything in it must be served.
 */
const EXCLUDED: Array<{ test: (path: string) => boolean; why: string }> = [
  // The dashboard's HTML pages are for people, not clients.
  { test: (p) => p === "/dashboard" || p.startsWith("/dashboard/"), why: "HTML pages" },
  // The reference's own page and its assets.
  { test: (p) => p === "/docs" || p.startsWith("/docs/"), why: "the reference itself" },
  // The document does not describe itself.
  { test: (p) => p === "/openapi.json", why: "the document" },
];

/** `:param` (Hono) → `{param}` (OpenAPI). */
function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** Every method + path the app answers, middleware (`ALL`) left out. */
function appOperations(): string[] {
  const seen = new Set<string>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const path = openApiPath(route.path.length > 1 ? route.path.replace(/\/$/, "") : route.path);
    if (EXCLUDED.some((e) => e.test(path))) continue;
    seen.add(`${route.method.toLowerCase()} ${path}`);
  }
  return [...seen].sort();
}

async function documentOf(): Promise<Doc> {
  const res = await SELF.fetch(`${BASE}/openapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return (await res.json()) as Doc;
}

function documentOperations(doc: Doc): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`))
    .sort();
}

describe("the OpenAPI document", () => {
  it("is served at /openapi.json as OpenAPI 3.1 with the outbound events as webhooks", async () => {
    const doc = await documentOf();
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.webhooks)).toContain("message.delivered");
  });

  it("describes every route the app serves, and no route it does not", async () => {
    const doc = await documentOf();
    const served = appOperations();
    // A sanity floor: the walk saw the app's routes, not an empty list.
    expect(served.length).toBeGreaterThan(50);
    const described = documentOperations(doc);
    expect(
      served.filter((op) => !described.includes(op)),
      "served but not in the document",
    ).toEqual([]);
    expect(
      described.filter((op) => !served.includes(op)),
      "in the document but not served",
    ).toEqual([]);
  });

  it("names the scope each API-key operation needs, as the app enforces it", async () => {
    const doc = await documentOf();
    const ops = doc.paths["/v1/suppressions/check"]!.post as { "x-scopes": string[] };
    expect(ops["x-scopes"]).toEqual(["read"]);
    const put = doc.paths["/v1/suppressions/{channel}/{recipient}"]!.put as { "x-scopes": string[] };
    expect(put["x-scopes"]).toEqual(["suppressions:write"]);
    const send = doc.paths["/v1/messages"]!.post as { "x-scopes": string[]; security: unknown };
    expect(send).toMatchObject({ "x-scopes": ["send"], security: [{ apiKey: [] }] });
  });
});

describe("the document's security is what the app enforces", () => {
  type Operation = { method: string; path: string; scope: Scope; security: unknown };
  async function keyed(): Promise<Operation[]> {
    const doc = await documentOf();
    return Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item as Record<string, { "x-scopes"?: Scope[]; security: unknown }>)
        .filter(([, op]) => op["x-scopes"])
        .map(([method, op]) => ({ method: method.toUpperCase(), path, scope: op["x-scopes"]![0]!, security: op.security })),
    );
  }
  /** A concrete path: any value reaches the auth middleware, which runs before the route reads it. */
  const concrete = (path: string) => path.replace(/\{[^}]+\}/g, "x");

  it("every API-key operation answers 403 naming its scope to a key without it, and passes auth with it", async () => {
    const account = await adminAccount("openapi scopes");
    const keyWith = async (scopes: Scope[]) => {
      const res = await json(await api("/v1/api-keys", { method: "POST", json: { name: scopes.join(" "), scopes }, key: account.key }));
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      return res.body.key as string;
    };
    const only = Object.fromEntries(await Promise.all(SCOPES.map(async (s) => [s, await keyWith([s])] as const)));
    const allBut = Object.fromEntries(
      await Promise.all(SCOPES.map(async (s) => [s, await keyWith(SCOPES.filter((o) => o !== s))] as const)),
    );
    const operations = await keyed();
    expect(operations.length).toBeGreaterThan(40);
    for (const op of operations) {
      expect(op.security, `${op.method} ${op.path}`).toEqual([{ apiKey: [] }]);
      const refused = await json(await api(concrete(op.path), { method: op.method, key: allBut[op.scope] }));
      expect(refused.status, `${op.method} ${op.path} without ${op.scope}`).toBe(403);
      expect(refused.body.error.details, `${op.method} ${op.path}`).toEqual([{ path: "scopes", message: `needs ${op.scope}` }]);
      const allowed = await api(concrete(op.path), { method: op.method, key: only[op.scope] });
      await allowed.body?.cancel();
      expect([401, 403], `${op.method} ${op.path} with only ${op.scope}`).not.toContain(allowed.status);
    }
  });

  it("admin operations take the admin key, not an API key", async () => {
    const doc = await documentOf();
    const admin = Object.entries(doc.paths).filter(([path]) => path.startsWith("/v1/admin/"));
    expect(admin.length).toBeGreaterThan(0);
    for (const [path, item] of admin) {
      for (const [method, op] of Object.entries(item as Record<string, { security: unknown }>)) {
        expect(op.security, `${method} ${path}`).toEqual([{ adminKey: [] }]);
        const res = await api(concrete(path), { method: method.toUpperCase() });
        await res.body?.cancel();
        expect(res.status, `${method} ${path} with an API key`).toBe(401);
      }
    }
  });
});

describe("/docs", () => {
  it("serves the reference page with a CSP that allows this origin's scripts only", async () => {
    const res = await SELF.fetch(`${BASE}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-");
    const html = await res.text();
    // Nothing from another origin: the page works offline.
    expect(html).not.toMatch(/https?:\/\//);
    for (const src of html.match(/(?:src|href)="([^"]+)"/g) ?? []) expect(src).toMatch(/"\/docs\//);
  });

  it.each([
    ["/docs/swagger-ui-bundle.js", /^text\/javascript/, "SwaggerUIBundle"],
    ["/docs/swagger-ui.css", /^text\/css/, ".swagger-ui"],
    ["/docs/init.js", /^text\/javascript/, "/openapi.json"],
  ])("serves %s from the Worker", async (path, type, marker) => {
    const res = await SELF.fetch(`${BASE}${path}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(type);
    expect(await res.text()).toContain(marker);
  });
});

// The answers' schemas are written from the views the handlers answer with: these fail to
// type-check (npm run typecheck) when a view gains, loses or changes a field the schema does not.
type Same<A, B> = [A] extends [B]
  ? [B] extends [A]
    ? [keyof A] extends [keyof B]
      ? [keyof B] extends [keyof A]
        ? true
        : false
      : false
    : false
  : false;
describe("the answers' schemas match the views they describe", () => {
  it("type-checks", () => {
    expectTypeOf<Same<MessageView, z.infer<typeof responses.messageView>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<Omit<IndexRow, "recipientKey">, z.infer<typeof responses.messageSearchRow>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<AttemptView, z.infer<typeof responses.attemptView>>>().toEqualTypeOf<true>();
    expectTypeOf<
      Same<DeliveryView & { endpointId: string; url: string }, z.infer<typeof responses.messageDeliveries>["data"][number]>
    >().toEqualTypeOf<true>();
    expectTypeOf<Same<SuppressionEntry, z.infer<typeof responses.suppressionEntry>>>().toEqualTypeOf<true>();
    // The shards count events that reached no message under channel `none` (AccountDO.count takes it; StatsBucket says Channel).
    type Bucket = Omit<StatsBucket, "channel"> & { channel: StatsBucket["channel"] | "none" };
    expectTypeOf<Same<Bucket, z.infer<typeof responses.statsResponse>["buckets"][number]>>().toEqualTypeOf<true>();
    expectTypeOf<Same<InboundSms, z.infer<typeof responses.inboundSms>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<KeyRecord, z.infer<typeof responses.keyRecord>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<AuditEntry, z.infer<typeof responses.auditEntry>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<AccountInfo, z.infer<typeof responses.accountInfo>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<DomainView, z.infer<typeof responses.domainView>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<EndpointInfo, z.infer<typeof responses.endpointInfo>>>().toEqualTypeOf<true>();
  });
});

/**
 * One request through the app, its answer held to the document: the status must be one the
 * operation lists, the body must pass the zod schema the document was generated from.
 */
async function checked(path: string, init: Parameters<typeof api>[1] = {}): Promise<{ status: number; body: any }> {
  const method = init.method ?? "GET";
  const res = await api(path, init);
  const text = await res.text();
  const route = findRoute(method, decodeURIComponent(new URL(`${BASE}${path}`).pathname));
  expect(route, `${method} ${path} is not in the document`).toBeDefined();
  const answer = documentedAnswer(route!, res.status);
  expect(
    answer,
    `${method} ${route!.path} answered ${res.status} (${text.slice(0, 200)}), which the document does not list`,
  ).not.toBeNull();
  const body = text && answer!.contentType.includes("json") ? JSON.parse(text) : text;
  if (answer!.schema && answer!.contentType.includes("json")) {
    const parsed = answer!.schema.safeParse(body);
    expect(
      parsed.success ? [] : parsed.error.issues,
      `${method} ${route!.path} ${res.status}: the answer is not the documented one`,
    ).toEqual([]);
  } else expect(text, `${method} ${route!.path} ${res.status} documents an empty body`).toBe("");
  return { status: res.status, body };
}

describe("the app's answers are the documented ones", () => {
  it("a tour of every route family, each answer checked against its operation", async () => {
    const push = installPushService();
    const hooks = installHooks();
    try {
      const admin = { key: env.ADMIN_API_KEY };
      expect((await checked("/", { key: null })).status).toBe(200);
      expect((await checked("/healthz", { key: null })).status).toBe(200);

      // The platform admin.
      const made = await checked("/v1/admin/accounts", { ...admin, method: "POST", json: { name: "Tour" } });
      expect(made.status).toBe(201);
      const a = { id: made.body.id as string, key: made.body.apiKey.key as string };
      await checked("/v1/admin/accounts?limit=5", admin);
      await checked(`/v1/admin/accounts/${a.id}`, admin);
      expect((await checked(`/v1/admin/accounts/${a.id}`, { ...admin, method: "PATCH", json: { name: "Tour Co" } })).body.name).toBe(
        "Tour Co",
      );
      expect((await checked("/v1/admin/accounts/acct_nope", admin)).status).toBe(404);
      const key = { key: a.key };

      // Keys.
      const reader = await checked("/v1/api-keys", { ...key, method: "POST", json: { name: "reader", scopes: ["read"] } });
      expect(reader.status).toBe(201);
      await checked("/v1/api-keys", key);
      expect((await checked(`/v1/api-keys/${reader.body.id}`, { ...key, method: "DELETE" })).status).toBe(204);

      // Configuration: a generated VAPID pair (masked on every read), the audit log.
      expect(
        (await checked("/v1/push/webpush/keys", { ...key, method: "POST", json: { subject: "mailto:ops@tour.example" } })).status,
      ).toBe(201);
      await checked("/v1/push/webpush", key);
      expect((await checked("/v1/email/settings", key)).status).toBe(404);
      expect((await checked("/v1/providers/nope", key)).status).toBe(404);
      await checked("/v1/audit?limit=10", key);

      // An endpoint for the event stream.
      const endpoint = await checked("/v1/webhook-endpoints", {
        ...key,
        method: "POST",
        json: { url: hooks.url("tour"), eventTypes: ["message.accepted"] },
      });
      expect(endpoint.status).toBe(201);
      const ep = endpoint.body.id as string;
      await checked("/v1/webhook-endpoints", key);
      await checked(`/v1/webhook-endpoints/${ep}`, { ...key, method: "PATCH", json: { description: "tour" } });
      await checked(`/v1/webhook-endpoints/${ep}/test`, { ...key, method: "POST" });
      await checked(`/v1/webhook-endpoints/${ep}/rotate-secret`, { ...key, method: "POST" });

      // Messages: one, a batch with a bad item, search, read, deliveries.
      const sent = await checked("/v1/messages", {
        ...key,
        method: "POST",
        json: await webpush("tour"),
        headers: { "idempotency-key": "tour-1" },
      });
      expect(sent.status).toBe(202);
      const batch = await checked("/v1/messages/batch", {
        ...key,
        method: "POST",
        json: { messages: [await webpush("tour-2"), { channel: "sms" }] },
      });
      expect(batch.body.results[1].error.code).toBe("validation_failed");
      await waitFor(async () => (await checked(`/v1/messages/${sent.body.id}`, key)).body.status === "accepted", "the message accepted");
      await checked("/v1/messages?limit=5&channel=webpush", key);
      await waitFor(async () => (await checked(`/v1/messages/${sent.body.id}/deliveries`, key)).body.data.length > 0, "a delivery");
      // What reached the endpoint (a test event, message.accepted) is the document's webhook body for its type.
      const delivered = await waitFor(() => {
        const got = hooks.to("tour");
        return got.some((d) => d.event.type === "message.accepted") ? got : null;
      }, "message.accepted at the endpoint");
      for (const d of delivered) {
        const parsed = eventBody(d.event.type).safeParse(d.event);
        expect(parsed.success ? [] : parsed.error.issues, `the ${d.event.type} delivery`).toEqual([]);
      }
      const attempts = await checked(`/v1/webhook-endpoints/${ep}/attempts?limit=5`, key);
      await checked(`/v1/webhook-endpoints/${ep}/events/${attempts.body.data[0].eventId}/resend`, { ...key, method: "POST" });
      await checked(`/v1/webhook-endpoints/${ep}/recover`, {
        ...key,
        method: "POST",
        json: { since: new Date(Date.now() - 3_600_000).toISOString() },
      });
      expect((await checked("/v1/messages/not-a-message", key)).status).toBe(404);
      expect(
        (await checked("/v1/messages", { ...key, method: "POST", body: "{}", headers: { "content-type": "text/plain" } })).status,
      ).toBe(415);

      // Suppressions.
      await checked("/v1/suppressions/email/tour@example.com", { ...key, method: "PUT" });
      await checked("/v1/suppressions/email/tour@example.com", key);
      await checked("/v1/suppressions/check", {
        ...key,
        method: "POST",
        json: { channel: "email", recipients: ["tour@example.com", "other@example.com"] },
      });
      await checked("/v1/suppressions?channel=email", key);
      expect((await checked("/v1/suppressions/email/tour@example.com", { ...key, method: "DELETE" })).status).toBe(204);

      // Reads.
      await checked("/v1/stats", key);
      await checked("/v1/routes", key);
      await checked("/v1/sms/inbound", key);
      await checked("/v1/domains", key);

      expect((await checked(`/v1/webhook-endpoints/${ep}`, { ...key, method: "DELETE" })).status).toBe(204);
      expect((await checked("/v1/push/webpush", { ...key, method: "DELETE" })).status).toBe(204);
    } finally {
      hooks.restore();
      push.restore();
    }
  });
});
