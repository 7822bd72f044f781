/**
 * Accounts and their configuration through the API: the platform admin creates and disables
 * accounts, keys carry scopes and a rate, sections are sealed and shown masked, every change is
 * audited. Every route under /v1 joins the isolation table at the end.
 */
import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { app } from "../../src/api/app.ts";
import { secretPaths } from "../../src/core/config/sections.ts";
import { circuitStub, configStub, keyIndexStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { adminAccount, api, BASE, json, unique, webpush, type AdminAccount } from "./helpers.ts";
import { sendgridSigner, vonageParams } from "./provider-signers.ts";
import { SELF } from "cloudflare:test";
import { installPushService } from "./push-service.ts";
import { webhookEndpointRows } from "./webhook-isolation.ts";
import { bridgeHealthRows } from "./bridge-health-fake.ts";

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

async function newKey(account: Account, request: { name: string; scopes: string[]; ratePerSecond?: number }) {
  const res = await api("/v1/api-keys", { method: "POST", json: request, key: account.key });
  const body = (await res.json()) as any;
  expect(res.status, JSON.stringify(body)).toBe(201);
  return body as { id: string; key: string; prefix: string; scopes: string[] };
}

const digits = () => String(1_000_000 + Math.floor(Math.random() * 8_999_999));

async function vapidPair() {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"])) as CryptoKeyPair;
  const raw = new Uint8Array((await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer);
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as JsonWebKey;
  const b64url = (bytes: Uint8Array) =>
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  return { publicKey: b64url(raw), privateKey: jwk.d! };
}

const PEM = `-----BEGIN PRIVATE KEY-----\n${"A".repeat(64)}\n-----END PRIVATE KEY-----\n`;

/** A valid body for each configuration route, fresh per call (senders and domains unique: they are claimed platform-wide). */
const SECTION_BODIES: Record<string, () => Promise<Record<string, unknown>>> = {
  "/v1/email/settings": async () => ({
    sendingDomains: [`${unique()}.example`],
    bounceDomain: `bounces.${unique()}.example`,
    relay: { mode: "smarthost", host: "smtp.example", port: 587, secure: false, auth: { user: "u", pass: `pass-${unique()}-${unique()}` } },
  }),
  "/v1/sms/settings": async () => ({
    routes: [
      {
        name: "rest",
        type: "rest",
        baseUrl: "https://api.twilio.example",
        accountSid: `AC${"a".repeat(32)}`,
        authToken: `tok-${unique()}-${unique()}`,
      },
    ],
    senders: [`+1555${digits()}`],
  }),
  "/v1/push/apns": async () => ({ keyId: "ABCDE12345", teamId: "TEAM123456", key: PEM, topics: ["com.example.app"] }),
  "/v1/push/fcm": async () => ({
    serviceAccount: {
      type: "service_account",
      project_id: `p-${unique()}`,
      private_key: PEM,
      private_key_id: unique().repeat(4),
      client_email: "svc@p.iam.gserviceaccount.com",
      token_uri: "https://oauth2.googleapis.com/token",
    },
  }),
  "/v1/push/webpush": async () => ({ subject: "mailto:ops@example.com", ...(await vapidPair()) }),
  "/v1/providers/sendgrid": async () => ({
    webhookPublicKey: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
    apiKey: `SG.${unique()}${unique()}${unique()}`,
  }),
  "/v1/providers/ses": async () => ({
    region: "eu-west-1",
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: `s-${unique()}${unique()}`,
  }),
  "/v1/providers/mailgun": async () => ({ webhookSigningKey: `key-${unique()}${unique()}`, domain: "mg.example.com" }),
  "/v1/providers/postmark": async () => ({ webhookUsername: "pm", webhookPassword: `pw-${unique()}${unique()}` }),
  "/v1/providers/resend": async () => ({ webhookSecret: `whsec_${unique()}${unique()}` }),
  "/v1/providers/standard": async () => ({
    webhookSecret: `whsec_${unique()}${unique()}`,
    mapping: { providerMessageId: "data.id", recipient: "data.to", types: { "email.bounced": "bounced" } },
  }),
  "/v1/providers/vonage": async () => ({ signatureSecret: `sig-${unique()}${unique()}`, signatureMethod: "sha256" }),
};

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

// ---------------------------------------------------------------------------------------------
// Isolation: account B's key, pointed at account A's things, finds nothing and changes nothing.
// One row per route of the app; a route added without a row fails the last test.

type Pair = { a: Account; b: Account };
type Row = (pair: Pair) => Promise<void>;

async function expectUnchanged(path: string, a: Account, before: unknown) {
  expect((await json(await api(path, { key: a.key }))).body).toEqual(before);
}

/** A's section stays A's: B reads 404, deletes 404, and its own PUT leaves A's as it was. */
function sectionRows(path: string, body = SECTION_BODIES[path]!): Record<string, Row> {
  const setup = async ({ a }: Pair) => {
    const put = await json(await api(path, { method: "PUT", json: await body(), key: a.key }));
    expect(put.status).toBe(200);
    return put.body;
  };
  return {
    [`GET ${path}`]: async (p) => {
      const before = await setup(p);
      expect((await api(path, { key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
    [`PUT ${path}`]: async (p) => {
      const before = await setup(p);
      expect((await api(path, { method: "PUT", json: await body(), key: p.b.key })).status).toBe(200);
      await expectUnchanged(path, p.a, before);
    },
    [`DELETE ${path}`]: async (p) => {
      const before = await setup(p);
      expect((await api(path, { method: "DELETE", key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
  };
}

/**
 * A's sending domain stays A's: B reads, verifies and deletes 404, and B adding the same name
 * makes B's own (with its own selectors) and leaves A's as it was.
 */
function domainRows(): Record<string, Row> {
  const setup = async ({ a }: Pair) => {
    const domain = `${unique()}.example`;
    const made = await json(await api("/v1/domains", { method: "POST", json: { domain }, key: a.key }));
    expect(made.status).toBe(201);
    return { domain, path: `/v1/domains/${domain}`, before: made.body };
  };
  return {
    "GET /v1/domains": async (p) => {
      const { domain, path, before } = await setup(p);
      expect(JSON.stringify((await json(await api("/v1/domains", { key: p.b.key }))).body)).not.toContain(domain);
      await expectUnchanged(path, p.a, before);
    },
    "POST /v1/domains": async (p) => {
      const { domain, path, before } = await setup(p);
      const theirs = await json(await api("/v1/domains", { method: "POST", json: { domain }, key: p.b.key }));
      expect(theirs.status).toBe(201);
      expect(theirs.body.records[0].name).not.toBe(before.records[0].name);
      await expectUnchanged(path, p.a, before);
      expect((await json(await api("/v1/domains", { key: p.a.key }))).body.data).toEqual([before]);
    },
    "GET /v1/domains/:domain": async (p) => {
      const { path, before } = await setup(p);
      expect((await api(path, { key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
    "POST /v1/domains/:domain/verify": async (p) => {
      const { path, before } = await setup(p);
      expect((await api(`${path}/verify`, { method: "POST", key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
    "DELETE /v1/domains/:domain": async (p) => {
      const { path, before } = await setup(p);
      expect((await api(path, { method: "DELETE", key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
  };
}

const providerPaths = Object.keys(SECTION_BODIES).filter((p) => p.startsWith("/v1/providers/"));

const ISOLATION: Record<string, Row> = {
  "POST /v1/messages": async ({ a, b }) => {
    const body = await webpush(`iso-${unique()}`);
    const idem = { "idempotency-key": `iso-${unique()}` };
    const first = await json(await api("/v1/messages", { method: "POST", json: body, key: a.key, headers: idem }));
    const second = await json(await api("/v1/messages", { method: "POST", json: body, key: b.key, headers: idem }));
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).not.toBe(first.body.id);
  },
  "POST /v1/messages/batch": async ({ a, b }) => {
    const body = { messages: [await webpush(`iso-${unique()}`)] };
    const idem = { "idempotency-key": `iso-${unique()}` };
    const first = await json(await api("/v1/messages/batch", { method: "POST", json: body, key: a.key, headers: idem }));
    const second = await json(await api("/v1/messages/batch", { method: "POST", json: body, key: b.key, headers: idem }));
    expect(first.status, JSON.stringify(first.body)).toBeLessThan(300);
    expect(second.status).toBe(first.status);
    expect(second.body.results[0].id).toMatch(/./);
    expect(second.body.results[0].id).not.toBe(first.body.results[0].id);
  },
  "GET /v1/messages/:id": async ({ a, b }) => {
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
    expect((await api(`/v1/messages/${sent.body.id}`, { key: b.key })).status).toBe(404);
    expect((await api(`/v1/messages/${sent.body.id}`, { key: a.key })).status).toBe(200);
  },
  "GET /v1/suppressions": async ({ a, b }) => {
    const addr = `iso-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${addr}`, { method: "PUT", key: a.key });
    expect(JSON.stringify((await json(await api("/v1/suppressions", { key: b.key }))).body)).not.toContain(addr);
    expect(JSON.stringify((await json(await api("/v1/suppressions", { key: a.key }))).body)).toContain(addr);
  },
  "GET /v1/suppressions/:channel/:recipient": async ({ a, b }) => {
    const path = `/v1/suppressions/email/iso-${unique()}@example.com`;
    await api(path, { method: "PUT", key: a.key });
    expect((await api(path, { key: b.key })).status).toBe(404);
    expect((await api(path, { key: a.key })).status).toBe(200);
  },
  "PUT /v1/suppressions/:channel/:recipient": async ({ a, b }) => {
    const path = `/v1/suppressions/email/iso-${unique()}@example.com`;
    expect((await api(path, { method: "PUT", key: b.key })).status).toBe(200);
    expect((await api(path, { key: a.key })).status).toBe(404);
  },
  "DELETE /v1/suppressions/:channel/:recipient": async ({ a, b }) => {
    const path = `/v1/suppressions/email/iso-${unique()}@example.com`;
    await api(path, { method: "PUT", key: a.key });
    expect((await api(path, { method: "DELETE", key: b.key })).status).toBe(404);
    expect((await api(path, { key: a.key })).status).toBe(200);
  },
  "DELETE /v1/recipients/:channel/:recipient": async ({ a, b }) => {
    // B erasing A's recipient erases nothing of A's: A's message and suppression stay whole.
    const to = `iso-erase-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${to}`, { method: "PUT", key: a.key });
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
    const erased = await json(await api(`/v1/recipients/email/${to}`, { method: "DELETE", key: b.key }));
    expect(erased.body).toEqual({ done: true, messages: 0, inbound: 0, suppressions: 0 });
    expect((await json(await api(`/v1/suppressions/email/${to}`, { key: a.key }))).body.recipient).toBe(to);
    expect((await api(`/v1/messages/${sent.body.id}`, { key: a.key })).status).toBe(200);
    const audit = await json(await api("/v1/audit?limit=1000", { key: a.key }));
    expect(audit.body.data.some((e: { action: string }) => e.action === "recipient.erase")).toBe(false);
  },
  "GET /v1/stats": async ({ a, b }) => {
    await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key });
    await waitFor(
      async () => (await json(await api("/v1/stats", { key: a.key }))).body.buckets.length > 0,
      () => "A's stats to count its message",
    );
    expect((await json(await api("/v1/stats", { key: b.key }))).body.buckets).toEqual([]);
  },
  "GET /v1/messages": async ({ a, b }) => {
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
    await waitFor(
      async () => (await json(await api("/v1/messages", { key: a.key }))).body.data.some((m: { id: string }) => m.id === sent.body.id),
      () => "A's message in A's search",
    );
    // B's search finds nothing of A's, however it asks (A's id as a provider id, A's recipient).
    expect((await json(await api("/v1/messages", { key: b.key }))).body).toEqual({ data: [], nextCursor: null });
    expect((await json(await api(`/v1/messages?providerMessageId=${sent.body.id}`, { key: b.key }))).body.data).toEqual([]);
  },
  "GET /v1/routes": async ({ a, b }) => {
    // A has two email routes and an open circuit on one; B sees only its own (the relay, closed).
    const settings = {
      bounceDomain: `bounces.${unique()}.example`,
      relay: { mode: "direct" },
      routes: [
        { name: "sg", type: "sendgrid" },
        { name: "relay", type: "relay" },
      ],
    };
    expect((await api("/v1/email/settings", { method: "PUT", json: settings, key: a.key })).status).toBe(200);
    await circuitStub(env, a.id, "email").report([1, 2, 3].map(() => ({ route: "sg", healthy: false })));
    const mine = await json(await api("/v1/routes", { key: a.key }));
    expect(mine.body.email[0]).toMatchObject({ name: "sg", circuit: { state: "open", failures: 3 } });
    expect(await json(await api("/v1/routes", { key: b.key }))).toEqual({ status: 200, body: { email: [], sms: [] } });
  },
  "GET /v1/sms/inbound": async ({ b }) => {
    // B is a fresh account: nothing of any other account's inbox shows.
    expect((await json(await api("/v1/sms/inbound", { key: b.key }))).body.data).toEqual([]);
  },
  "GET /v1/api-keys": async ({ a, b }) => {
    expect(JSON.stringify((await json(await api("/v1/api-keys", { key: b.key }))).body)).not.toContain(a.keyId);
  },
  "POST /v1/api-keys": async ({ a, b }) => {
    const made = await newKey(b, { name: "b's", scopes: ["read"] });
    expect(JSON.stringify((await json(await api("/v1/api-keys", { key: a.key }))).body)).not.toContain(made.id);
    // B's new key reads B's things only.
    expect((await api("/v1/api-keys", { key: made.key })).status).toBe(200);
    expect(JSON.stringify((await json(await api("/v1/audit?limit=1000", { key: made.key }))).body)).not.toContain(a.keyId);
  },
  "DELETE /v1/api-keys/:id": async ({ a, b }) => {
    expect((await api(`/v1/api-keys/${a.keyId}`, { method: "DELETE", key: b.key })).status).toBe(404);
    expect((await api("/v1/api-keys", { key: a.key })).status).toBe(200);
  },
  "GET /v1/audit": async ({ a, b }) => {
    expect(JSON.stringify((await json(await api("/v1/audit?limit=1000", { key: b.key }))).body)).not.toContain(a.keyId);
  },
  "POST /v1/push/webpush/keys": async ({ a, b }) => {
    const made = await json(await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:a@example.com" }, key: a.key }));
    await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:b@example.com" }, key: b.key });
    await expectUnchanged("/v1/push/webpush", a, made.body);
  },
  ...domainRows(),
  ...webhookEndpointRows(),
  ...bridgeHealthRows(),
  ...sectionRows("/v1/email/settings"),
  ...sectionRows("/v1/sms/settings"),
  ...sectionRows("/v1/push/apns"),
  ...sectionRows("/v1/push/fcm"),
  ...sectionRows("/v1/push/webpush"),
  // Retention has no secret, so it is not among SECTION_BODIES' masked sections.
  ...sectionRows("/v1/retention", async () => ({ timelineDays: 10 + Math.floor(Math.random() * 300), bodyDays: 3 })),
  ...Object.fromEntries(providerPaths.flatMap((p) => Object.entries(sectionRows(p)))),
  "POST /v1/suppressions/check": async ({ a, b }) => {
    const addr = `iso-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${addr}`, { method: "PUT", key: a.key });
    const check = async (x: Account) =>
      (await json(await api("/v1/suppressions/check", { method: "POST", json: { channel: "email", recipients: [addr] }, key: x.key })))
        .body;
    expect((await check(b)).data[0].suppressed).toBe(false);
    expect((await check(a)).data[0].suppressed).toBe(true);
  },
  // Provider webhooks carry no API key: the account is in the URL and the provider's own
  // signature, checked with that account's secret, is what lets a request in.
  "POST /v1/webhooks/:provider/:account": async ({ a, b }) => {
    const [signerA, signerB] = [await sendgridSigner(), await sendgridSigner()];
    for (const [x, signer] of [
      [a, signerA],
      [b, signerB],
    ] as const) {
      await api("/v1/providers/sendgrid", { method: "PUT", json: { webhookPublicKey: signer.publicKey }, key: x.key });
    }
    const addr = `iso-${unique()}@example.com`;
    const body = JSON.stringify([
      { email: addr, event: "spamreport", timestamp: Math.floor(Date.now() / 1000), sg_event_id: unique(), sg_message_id: unique() },
    ]);
    const post = async (x: Account, headers: Record<string, string>) =>
      (await SELF.fetch(`${BASE}/v1/webhooks/sendgrid/${x.id}`, { method: "POST", body, headers })).status;
    expect(await post(b, await signerA.headers(body))).toBe(401);
    expect(await post(a, await signerA.headers(body))).toBe(200);
    await waitFor(async () => (await api(`/v1/suppressions/email/${addr}`, { key: a.key })).status === 200, "A's complaint applied");
    expect((await api(`/v1/suppressions/email/${addr}`, { key: b.key })).status).toBe(404);
  },
  "GET /v1/webhooks/:provider/:account": async ({ a, b }) => {
    const [secretA, secretB] = [`a${unique()}${unique()}`, `b${unique()}${unique()}`];
    await api("/v1/providers/vonage", { method: "PUT", json: { signatureSecret: secretA }, key: a.key });
    await api("/v1/providers/vonage", { method: "PUT", json: { signatureSecret: secretB }, key: b.key });
    const params = await vonageParams(secretA, {
      msisdn: "15550001111",
      to: "Acme",
      messageId: unique(),
      status: "delivered",
      "err-code": "0",
    });
    const get = async (x: Account) => (await SELF.fetch(`${BASE}/v1/webhooks/vonage/${x.id}?${new URLSearchParams(params)}`)).status;
    expect(await get(b)).toBe(401);
    expect(await get(a)).toBe(200);
  },
};

/** Routes no account key reaches, and who guards them instead. */
const NOT_BY_ACCOUNT_KEY: Record<string, string> = {
  "/v1/admin/": "the platform admin key (tested above)",
  "/v1/webhooks/bridge": "the bridge's door signature; the account comes from the signed payload (test/worker/doors.test.ts)",
  "/v1/webhooks/twilio": "X-Twilio-Signature with the account's route token named in the URL (test/worker/sms.test.ts)",
  "/v1/inbound/": "the bridge's signature (test/worker/inbound.test.ts)",
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

describe("isolation: B's key on A's things", () => {
  it.each(Object.keys(ISOLATION))("%s", async (route) => {
    const pair = { a: await newAccount("A"), b: await newAccount("B") };
    await ISOLATION[route]!(pair);
  });

  it("every /v1 route has a row (a new route without one fails here)", () => {
    const routes = new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && r.path.startsWith("/v1/"))
        .filter((r) => !Object.keys(NOT_BY_ACCOUNT_KEY).some((prefix) => r.path.startsWith(prefix)))
        .map((r) => `${r.method} ${r.path.replace(/\/$/, "")}`),
    );
    // Provider routes are one pattern in the app; the table has a row per provider.
    const expanded = [...routes].flatMap((r) =>
      r.includes("/v1/providers/:provider") ? providerPaths.map((p) => r.replace("/v1/providers/:provider", p)) : [r],
    );
    expect(expanded.sort()).toEqual(Object.keys(ISOLATION).sort());
  });
});
