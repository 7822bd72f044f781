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
import { adminAccount, api, BASE, json } from "./helpers.ts";

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
    expectTypeOf<Same<StatsBucket, z.infer<typeof responses.statsResponse>["buckets"][number]>>().toEqualTypeOf<true>();
    expectTypeOf<Same<InboundSms, z.infer<typeof responses.inboundSms>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<KeyRecord, z.infer<typeof responses.keyRecord>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<AuditEntry, z.infer<typeof responses.auditEntry>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<AccountInfo, z.infer<typeof responses.accountInfo>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<DomainView, z.infer<typeof responses.domainView>>>().toEqualTypeOf<true>();
    expectTypeOf<Same<EndpointInfo, z.infer<typeof responses.endpointInfo>>>().toEqualTypeOf<true>();
  });
});
