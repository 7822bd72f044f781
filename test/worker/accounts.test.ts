/**
 * Accounts and their configuration through the API: the platform admin creates and disables
 * accounts, keys carry scopes and a rate, sections are sealed and shown masked, every change is
 * audited. The isolation table (B's key on A's things, a row per route) is in isolation-table.ts,
 * run by test/worker/security/isolation.test.ts.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { secretPaths } from "../../src/core/config/sections.ts";
import { configStub, keyIndexStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { adminAccount, api, json, unique, webpush, type AdminAccount } from "./helpers.ts";
import { newKey, PEM, SECTION_BODIES } from "./isolation-table.ts";
import { installPushService } from "./push-service.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

type Account = AdminAccount;

function admin(path: string, init: RequestInit & { json?: unknown } = {}) {
  return api(`/v1/admin${path}`, { ...init, key: env.ADMIN_API_KEY });
}

const newAccount = adminAccount;

describe("the platform admin", () => {
  it("refuses requests without the admin key, or with an account's key", async () => {
    const a = await newAccount();
    for (const key of [null, "wrong", a.key]) {
      const res = await json(await api("/v1/admin/accounts", { key }));
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe("unauthorized");
    }
  });

  it("creates an account whose first key holds every scope, lists it, and shows it", async () => {
    const a = await newAccount("Acme Rockets");
    expect(a.id).toMatch(/^acct_[0-9a-f]{16}$/);
    expect(a.key).toMatch(/^lh_[\w-]{43}$/);
    const keys = await json(await api("/v1/api-keys", { key: a.key }));
    expect(keys.status).toBe(200);
    expect(keys.body.data).toHaveLength(1);
    expect(keys.body.data[0].scopes).toEqual(["send", "read", "suppressions:write", "config:write", "keys:write"]);
    expect(JSON.stringify(keys.body)).not.toContain(a.key);
    const shown = await json(await admin(`/accounts/${a.id}`));
    expect(shown.body).toMatchObject({ id: a.id, name: "Acme Rockets", disabled: false });
    // The list pages with a cursor until it has seen the account.
    let cursor: string | null = null;
    const seen: string[] = [];
    for (let page = 0; page < 100; page++) {
      const list = await json(await admin(`/accounts?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`));
      expect(list.status).toBe(200);
      expect(list.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...list.body.data.map((x: { id: string }) => x.id));
      cursor = list.body.nextCursor;
      if (!cursor) break;
    }
    expect(seen).toContain(a.id);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("a disabled account's keys answer 403 account_disabled; enabling it again lets them in", async () => {
    const a = await newAccount();
    expect((await api("/v1/stats", { key: a.key })).status).toBe(200);
    const off = await json(await admin(`/accounts/${a.id}`, { method: "PATCH", json: { disabled: true } }));
    expect(off.body.disabled).toBe(true);
    const refused = await json(await api("/v1/stats", { key: a.key }));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("account_disabled");
    const sendRefused = await json(await api("/v1/messages", { method: "POST", json: await webpush("disabled"), key: a.key }));
    expect(sendRefused.status).toBe(403);
    await admin(`/accounts/${a.id}`, { method: "PATCH", json: { disabled: false } });
    expect((await api("/v1/stats", { key: a.key })).status).toBe(200);
  });

  it.each<[string, string, unknown, number, string]>([
    ["POST", "/accounts", {}, 400, "validation_failed"],
    ["POST", "/accounts", { name: "x", extra: 1 }, 400, "validation_failed"],
    ["PATCH", "/accounts/acct_0000000000000000", { disabled: true }, 404, "not_found"],
    ["GET", "/accounts/acct_0000000000000000", undefined, 404, "not_found"],
    ["GET", "/accounts?limit=0", undefined, 400, "validation_failed"],
  ])("%s %s %j → %i %s", async (method, path, body, status, code) => {
    const before = await json(await admin("/accounts?limit=1000"));
    const res = await json(await admin(path, { method, json: body }));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect((await json(await admin("/accounts?limit=1000"))).body.data.length).toBe(before.body.data.length);
  });
});

describe("API keys", () => {
  it("a key can do what its scopes say and nothing else: 403 names the missing scope", async () => {
    const a = await newAccount();
    const reader = await newKey(a, { name: "dashboard", scopes: ["read"] });
    expect(reader.prefix).toBe(`${reader.key.slice(0, 7)}…`);
    expect((await api("/v1/stats", { key: reader.key })).status).toBe(200);
    expect((await api("/v1/email/settings", { key: reader.key })).status).toBe(404);
    for (const [method, path, body, scope] of [
      ["POST", "/v1/messages", await webpush("scope"), "send"],
      ["PUT", "/v1/suppressions/email/x@example.com", undefined, "suppressions:write"],
      ["PUT", "/v1/providers/resend", { webhookSecret: "whsec_x" }, "config:write"],
      ["POST", "/v1/api-keys", { name: "x", scopes: ["send"] }, "keys:write"],
    ] as const) {
      const res = await json(await api(path, { method, json: body, key: reader.key }));
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: "insufficient_scope", details: [{ path: "scopes", message: `needs ${scope}` }] });
    }
    // Nothing was written by the refused calls.
    expect((await api("/v1/suppressions/email/x@example.com", { key: a.key })).status).toBe(404);
    expect((await api("/v1/providers/resend", { key: a.key })).status).toBe(404);
    expect((await json(await api("/v1/api-keys", { key: a.key }))).body.data).toHaveLength(2);
  });

  it("lists keys with their last use; a revoked key answers 401 at once", async () => {
    const a = await newAccount();
    const sender = await newKey(a, { name: "backend", scopes: ["send", "read"] });
    expect((await api("/v1/stats", { key: sender.key })).status).toBe(200);
    const listed = await waitFor(
      async () => {
        const list = await json(await api("/v1/api-keys", { key: a.key }));
        const row = list.body.data.find((k: { id: string }) => k.id === sender.id);
        return row?.lastUsedAt ? row : null;
      },
      () => "the key's lastUsedAt to be recorded",
    );
    expect(listed).toMatchObject({ name: "backend", scopes: ["send", "read"], prefix: sender.prefix });
    expect(Date.parse(listed.lastUsedAt)).toBeGreaterThan(Date.now() - 120_000);
    expect((await api(`/v1/api-keys/${sender.id}`, { method: "DELETE", key: a.key })).status).toBe(204);
    const after = await json(await api("/v1/stats", { key: sender.key }));
    expect(after.status).toBe(401);
    expect((await api(`/v1/api-keys/${sender.id}`, { method: "DELETE", key: a.key })).status).toBe(404);
    expect((await api("/v1/stats", { key: a.key })).status).toBe(200);
  });

  it("a key revoked elsewhere (another isolate: no forget here) stops working within 10 s", async () => {
    const a = await newAccount();
    const other = await newKey(a, { name: "elsewhere", scopes: ["read"] });
    expect((await api("/v1/stats", { key: other.key })).status).toBe(200);
    // What DELETE /v1/api-keys/:id does in another isolate: this isolate's cache is not told.
    const hash = await configStub(env, a.id).revokeKey(a.id, other.id, a.keyId);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    await keyIndexStub(env, hash!).unindexKey(hash!);
    const revokedAt = Date.now();
    await waitFor(async () => (await api("/v1/stats", { key: other.key })).status === 401, "the revoked key to answer 401", 10_000);
    expect(Date.now() - revokedAt).toBeLessThan(10_000);
  });

  it.each<[string, unknown]>([
    ["no scopes", { name: "x", scopes: [] }],
    ["an unknown scope", { name: "x", scopes: ["admin"] }],
    ["a repeated scope", { name: "x", scopes: ["read", "read"] }],
    ["no name", { scopes: ["read"] }],
    ["a rate of 0", { name: "x", scopes: ["read"], ratePerSecond: 0 }],
  ])("refuses a key request with %s and creates nothing", async (_, body) => {
    const a = await newAccount();
    const res = await json(await api("/v1/api-keys", { method: "POST", json: body, key: a.key }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.length).toBeGreaterThan(0);
    expect((await json(await api("/v1/api-keys", { key: a.key }))).body.data).toHaveLength(1);
  });

  it("a key over its rate gets 429 rate_limited with Retry-After; other keys are not limited", async () => {
    const a = await newAccount();
    const slow = await newKey(a, { name: "slow", scopes: ["read"], ratePerSecond: 1 });
    let limited: Response | null = null;
    for (let i = 0; i < 50 && !limited; i++) {
      const res = await api("/v1/stats", { key: slow.key });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited, "no 429 within 50 requests at 1/s").not.toBeNull();
    const retryAfter = Number(limited!.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
    expect(((await limited!.json()) as any).error.code).toBe("rate_limited");
    for (let i = 0; i < 5; i++) expect((await api("/v1/stats", { key: a.key })).status).toBe(200);
  });
});

describe("configuration sections", () => {
  it.each(Object.keys(SECTION_BODIES))("%s: PUT answers masked, GET masked, DELETE removes", async (path) => {
    const a = await newAccount();
    expect((await api(path, { key: a.key })).status).toBe(404);
    const body = await SECTION_BODIES[path]!();
    const put = await json(await api(path, { method: "PUT", json: body, key: a.key }));
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    const got = await json(await api(path, { key: a.key }));
    expect(got.body).toEqual(put.body);
    // No secret of the body comes back: each is shown as …last4.
    const text = JSON.stringify(got.body);
    const secrets = secretsOf(path, body);
    expect(secrets.length).toBeGreaterThan(0);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect((await api(path, { method: "DELETE", key: a.key })).status).toBe(204);
    expect((await api(path, { key: a.key })).status).toBe(404);
    expect((await api(path, { method: "DELETE", key: a.key })).status).toBe(404);
  });

  it("a PUT that sends a masked secret back keeps the stored secret; a mask that matches nothing is refused", async () => {
    const a = await newAccount();
    const secret = `SG.${unique()}${unique()}${unique()}`;
    await api("/v1/providers/sendgrid", { method: "PUT", json: { apiKey: secret }, key: a.key });
    const shown = (await json(await api("/v1/providers/sendgrid", { key: a.key }))).body;
    expect(shown.apiKey).toBe(`…${secret.slice(-4)}`);
    const edited = await json(
      await api("/v1/providers/sendgrid", { method: "PUT", json: { ...shown, webhookPublicKey: "MFkw" }, key: a.key }),
    );
    expect(edited.status).toBe(200);
    expect(await configStub(env, a.id).sectionOpened(a.id, "provider:sendgrid")).toEqual({ apiKey: secret, webhookPublicKey: "MFkw" });
    const wrong = await json(await api("/v1/providers/sendgrid", { method: "PUT", json: { apiKey: "…zzzz" }, key: a.key }));
    expect(wrong.status).toBe(422);
    expect(wrong.body.error).toMatchObject({ code: "secret_masked", details: [{ path: "apiKey" }] });
    expect(await configStub(env, a.id).sectionOpened(a.id, "provider:sendgrid")).toEqual({ apiKey: secret, webhookPublicKey: "MFkw" });
  });

  it.each<[string, unknown, string]>([
    ["/v1/push/apns", { keyId: "short", teamId: "TEAM123456", key: PEM, topics: ["a"] }, "keyId"],
    ["/v1/push/webpush", { subject: "ops@example.com", publicKey: "x", privateKey: "y" }, "subject"],
    ["/v1/sms/settings", { routes: [], senders: ["+15550000000"] }, "routes"],
    ["/v1/providers/standard", {}, "webhookSecret"],
    ["/v1/providers/ses", { region: "eu-west-1", surprise: true }, "(body)"],
  ])("%s refuses %j, naming %s, and stores nothing", async (path, body, where) => {
    const a = await newAccount();
    const res = await json(await api(path, { method: "PUT", json: body, key: a.key }));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(res.body.error.details.some((d: { path: string }) => d.path === where)).toBe(true);
    expect((await api(path, { key: a.key })).status).toBe(404);
  });

  it("an unknown provider is 404", async () => {
    const a = await newAccount();
    expect((await api("/v1/providers/nope", { key: a.key })).status).toBe(404);
    expect((await api("/v1/providers/nope", { method: "PUT", json: {}, key: a.key })).status).toBe(404);
  });

  it("POST /v1/push/webpush/keys generates a VAPID pair: the public key answered, the private key masked and usable", async () => {
    const a = await newAccount();
    const res = await json(await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:ops@example.com" }, key: a.key }));
    expect(res.status).toBe(201);
    expect(res.body.publicKey).toMatch(/^[\w-]{87}$/);
    expect(res.body.privateKey).toMatch(/^…[\w-]{4}$/);
    const stored = (await configStub(env, a.id).sectionOpened(a.id, "webpush")) as { publicKey: string; privateKey: string };
    expect(stored.publicKey).toBe(res.body.publicKey);
    // The stored private key is the public key's pair: it signs what the public key verifies.
    const x = stored.publicKey;
    const raw = Uint8Array.from(atob(x.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
    const b64url = (b: Uint8Array) =>
      btoa(String.fromCharCode(...b))
        .replace(/\+/g, "-")
        .replace(/\//g, "_")
        .replace(/=+$/, "");
    const jwk = { kty: "EC", crv: "P-256", x: b64url(raw.slice(1, 33)), y: b64url(raw.slice(33)), d: stored.privateKey };
    const priv = await crypto.subtle.importKey("jwk", jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const pub = await crypto.subtle.importKey("raw", raw, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    const data = new TextEncoder().encode("vapid");
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, priv, data);
    expect(await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pub, sig, data)).toBe(true);
  });

  it("the audit log lists every change newest first, by actor, secrets masked, paged by cursor", async () => {
    const a = await newAccount();
    const extra = await newKey(a, { name: "ops", scopes: ["config:write", "read"] });
    const secret = `whsec_${unique()}${unique()}`;
    await api("/v1/providers/resend", { method: "PUT", json: { webhookSecret: secret }, key: extra.key });
    await api("/v1/providers/resend", { method: "DELETE", key: a.key });
    const all = await json(await api("/v1/audit?limit=1000", { key: a.key }));
    expect(all.status).toBe(200);
    expect(JSON.stringify(all.body)).not.toContain(secret);
    const actions = all.body.data.map((e: { action: string; actor: string }) => `${e.action} by ${e.actor}`);
    expect(actions.slice(0, 3)).toEqual([`config.delete by ${a.keyId}`, `config.put by ${extra.id}`, `api_key.create by ${a.keyId}`]);
    const paged: unknown[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 100; i++) {
      const page = await json(await api(`/v1/audit?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { key: a.key }));
      paged.push(...page.body.data);
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(paged).toEqual(all.body.data);
    expect((await json(await api("/v1/audit?cursor=abc", { key: a.key }))).status).toBe(400);
  });
});

/** The secret values of a section's body, found by the section's declared secret paths. */
function secretsOf(path: string, body: unknown): string[] {
  const section = path.startsWith("/v1/providers/") ? `provider:${path.slice("/v1/providers/".length)}` : SECTION_OF[path]!;
  const found: string[] = [];
  const visit = (node: unknown, parts: string[]): void => {
    if (parts.length === 0) {
      if (typeof node === "string") found.push(node);
      return;
    }
    const [head, ...rest] = parts;
    if (head === "*" && Array.isArray(node)) for (const item of node) visit(item, rest);
    else if (node && typeof node === "object") visit((node as Record<string, unknown>)[head!], rest);
  };
  for (const secretPath of secretPaths[section] ?? []) visit(body, secretPath.split("."));
  return found;
}

const SECTION_OF: Record<string, string> = {
  "/v1/email/settings": "email",
  "/v1/sms/settings": "sms",
  "/v1/push/apns": "apns",
  "/v1/push/fcm": "fcm",
  "/v1/push/webpush": "webpush",
};

describe("isolation of sends", () => {
  it("A's web push is signed with A's VAPID key, B's with B's, never crossed", async () => {
    const [a, b] = [await newAccount("A"), await newAccount("B")];
    const keys = async (x: Account) =>
      (await json(await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:ops@example.com" }, key: x.key }))).body
        .publicKey as string;
    const [aKey, bKey] = [await keys(a), await keys(b)];
    const paths = { a: `own-${unique()}`, b: `own-${unique()}` };
    for (const [x, path] of [
      [a, paths.a],
      [b, paths.b],
    ] as const) {
      expect((await api("/v1/messages", { method: "POST", json: await webpush(path), key: x.key })).status).toBe(202);
    }
    const seen = await waitFor(
      () => (push.to(paths.a).length > 0 && push.to(paths.b).length > 0 ? [push.to(paths.a)[0]!, push.to(paths.b)[0]!] : null),
      () => "both pushes to reach the push service",
    );
    const vapidKey = (r: { headers: Record<string, string> }) => /k=([\w-]+)/.exec(r.headers.authorization ?? "")?.[1];
    expect(vapidKey(seen[0])).toBe(aKey);
    expect(vapidKey(seen[1])).toBe(bKey);
  });

  it("B's suppression of a recipient never blocks A's send to it", async () => {
    const [a, b] = [await newAccount("A"), await newAccount("B")];
    const body = await webpush(`shared-${unique()}`);
    const hash = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode((body.to as { endpoint: string }).endpoint))),
      (x) => x.toString(16).padStart(2, "0"),
    ).join("");
    expect((await api(`/v1/suppressions/webpush/${hash}`, { method: "PUT", key: b.key })).status).toBe(200);
    const refused = await json(await api("/v1/messages", { method: "POST", json: body, key: b.key }));
    expect(refused.body.status).toBe("suppressed");
    const sent = await json(await api("/v1/messages", { method: "POST", json: body, key: a.key }));
    expect(sent.status).toBe(202);
    expect(sent.body.status).not.toBe("suppressed");
  });
});
