/**
 * The isolation table: one row per account route of the app, each proving that account B's key,
 * pointed at account A's things, finds nothing and changes nothing. A row sets A's state up,
 * calls `ready()` (the runner's snapshot of A before), makes B's calls and checks their answers;
 * the runner's snapshot after must equal the one before. Run by test/worker/security/isolation.test.ts,
 * which also fails when a route of the app has no row. The event stream's rows are in
 * webhook-isolation.ts, the bridge health's in bridge-health-fake.ts.
 */
import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { app } from "../../src/api/app.ts";
import { expect } from "vitest";
import { signTrackingToken } from "../../src/core/tracking.ts";
import { circuitStub, poolStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { bridgeHealthRows } from "./bridge-health-fake.ts";
import { api, BASE, json, unique, webpush, type AdminAccount } from "./helpers.ts";
import { sendgridSigner, vonageParams } from "./provider-signers.ts";
import { webhookEndpointRows } from "./webhook-isolation.ts";
import { templateRows } from "./template-isolation.ts";

/**
 * Two accounts, and the row's two moments: `ready` once A's things are in place (before B's first
 * call; A's message ids, if any, join the snapshot), `done` once B's calls are over (before any
 * later call of A's own; the runner calls it if the row does not).
 */
export type Pair = { a: AdminAccount; b: AdminAccount; ready: (messageIds?: string[]) => Promise<void>; done: () => Promise<void> };
export type Row = (pair: Pair) => Promise<void>;

export async function newKey(account: AdminAccount, request: { name: string; scopes: string[]; ratePerSecond?: number }) {
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

export const PEM = `-----BEGIN PRIVATE KEY-----\n${"A".repeat(64)}\n-----END PRIVATE KEY-----\n`;

/** A valid body for each configuration route, fresh per call (senders and domains unique: they are claimed platform-wide). */
export const SECTION_BODIES: Record<string, () => Promise<Record<string, unknown>>> = {
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

// ---------------------------------------------------------------------------------------------
// Isolation: account B's key, pointed at account A's things, finds nothing and changes nothing.
// One row per route of the app; a route added without a row fails the suite's completeness test.

async function expectUnchanged(path: string, a: AdminAccount, before: unknown) {
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
      await p.ready();
      expect((await api(path, { key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
    [`PUT ${path}`]: async (p) => {
      const before = await setup(p);
      await p.ready();
      expect((await api(path, { method: "PUT", json: await body(), key: p.b.key })).status).toBe(200);
      await expectUnchanged(path, p.a, before);
    },
    [`DELETE ${path}`]: async (p) => {
      const before = await setup(p);
      await p.ready();
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
      await p.ready();
      expect(JSON.stringify((await json(await api("/v1/domains", { key: p.b.key }))).body)).not.toContain(domain);
      await expectUnchanged(path, p.a, before);
    },
    "POST /v1/domains": async (p) => {
      const { domain, path, before } = await setup(p);
      await p.ready();
      const theirs = await json(await api("/v1/domains", { method: "POST", json: { domain }, key: p.b.key }));
      expect(theirs.status).toBe(201);
      expect(theirs.body.records[0].name).not.toBe(before.records[0].name);
      await expectUnchanged(path, p.a, before);
      expect((await json(await api("/v1/domains", { key: p.a.key }))).body.data).toEqual([before]);
    },
    "GET /v1/domains/:domain": async (p) => {
      const { path, before } = await setup(p);
      await p.ready();
      expect((await api(path, { key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
    "POST /v1/domains/:domain/verify": async (p) => {
      const { path, before } = await setup(p);
      await p.ready();
      expect((await api(`${path}/verify`, { method: "POST", key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
    "DELETE /v1/domains/:domain": async (p) => {
      const { path, before } = await setup(p);
      await p.ready();
      expect((await api(path, { method: "DELETE", key: p.b.key })).status).toBe(404);
      await expectUnchanged(path, p.a, before);
    },
  };
}

export const providerPaths = Object.keys(SECTION_BODIES).filter((p) => p.startsWith("/v1/providers/"));

/**
 * The tracking doors take no key: the signed token names the account. A token that names B with
 * A's message id reaches B's (empty) object: the click is a 404, the pixel records nothing, and
 * A's message has no open or click.
 */
function trackingRows(): Record<string, Row> {
  const setup = async ({ a }: Pair) => {
    const domain = `${unique()}.example`;
    const settings = { bounceDomain: `bounces.${domain}`, sendingDomains: [domain], relay: { mode: "direct" } };
    expect((await api("/v1/email/settings", { method: "PUT", json: settings, key: a.key })).status).toBe(200);
    const mail = {
      channel: "email",
      from: `news@${domain}`,
      to: `iso-${unique()}@example.com`,
      subject: "Hi",
      html: `<a href="https://${domain}/x">x</a>`,
      tracking: { opens: true, clicks: true },
    };
    const sent = await json(await api("/v1/messages", { method: "POST", json: mail, key: a.key }));
    expect(sent.status, JSON.stringify(sent.body)).toBe(202);
    return sent.body.id as string;
  };
  const noEngagement = async (a: AdminAccount, id: string) => {
    const m = await json(await api(`/v1/messages/${id}`, { key: a.key }));
    expect(m.body.events.filter((e: { type: string }) => e.type === "opened" || e.type === "clicked")).toEqual([]);
  };
  return {
    "GET /t/c/:token": async (p) => {
      const id = await setup(p);
      await p.ready([id]);
      const token = await signTrackingToken(env.UNSUBSCRIBE_SECRET, { account: p.b.id, messageId: id, kind: "c", index: 0 });
      const res = await SELF.fetch(`${BASE}/t/c/${token}`, { redirect: "manual" });
      expect([res.status, res.headers.get("location")]).toEqual([404, null]);
      await noEngagement(p.a, id);
    },
    "GET /t/o/:token": async (p) => {
      const id = await setup(p);
      await p.ready([id]);
      const token = await signTrackingToken(env.UNSUBSCRIBE_SECRET, { account: p.b.id, messageId: id, kind: "o", index: 0 });
      expect((await SELF.fetch(`${BASE}/t/o/${token}`)).status).toBe(200);
      await noEngagement(p.a, id);
    },
  };
}

export const ISOLATION: Record<string, Row> = {
  "POST /v1/messages": async ({ a, b, ready }) => {
    const body = await webpush(`iso-${unique()}`);
    const idem = { "idempotency-key": `iso-${unique()}` };
    const first = await json(await api("/v1/messages", { method: "POST", json: body, key: a.key, headers: idem }));
    await ready([first.body.id]);
    const second = await json(await api("/v1/messages", { method: "POST", json: body, key: b.key, headers: idem }));
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).not.toBe(first.body.id);
  },
  "POST /v1/messages/batch": async ({ a, b, ready }) => {
    const body = { messages: [await webpush(`iso-${unique()}`)] };
    const idem = { "idempotency-key": `iso-${unique()}` };
    const first = await json(await api("/v1/messages/batch", { method: "POST", json: body, key: a.key, headers: idem }));
    await ready([first.body.results[0].id]);
    const second = await json(await api("/v1/messages/batch", { method: "POST", json: body, key: b.key, headers: idem }));
    expect(first.status, JSON.stringify(first.body)).toBeLessThan(300);
    expect(second.status).toBe(first.status);
    expect(second.body.results[0].id).toMatch(/./);
    expect(second.body.results[0].id).not.toBe(first.body.results[0].id);
  },
  "POST /v1/messages/:id/cancel": async ({ a, b, ready }) => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`, { sendAt }), key: a.key }));
    expect(sent.body.status).toBe("scheduled");
    await ready([sent.body.id]);
    expect((await api(`/v1/messages/${sent.body.id}/cancel`, { method: "POST", key: b.key })).status).toBe(404);
  },
  "POST /v1/messages/batches/:batchId/cancel": async ({ a, b, ready }) => {
    const sendAt = new Date(Date.now() + 3600_000).toISOString();
    const body = { sendAt, messages: [await webpush(`iso-${unique()}`)] };
    const made = await json(await api("/v1/messages/batch", { method: "POST", json: body, key: a.key }));
    expect(made.body.results[0].status).toBe("scheduled");
    await ready([made.body.results[0].id]);
    expect((await api(`/v1/messages/batches/${made.body.batchId}/cancel`, { method: "POST", key: b.key })).status).toBe(404);
  },
  "GET /v1/messages/:id": async ({ a, b, ready }) => {
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
    await ready([sent.body.id]);
    expect((await api(`/v1/messages/${sent.body.id}`, { key: b.key })).status).toBe(404);
    expect((await api(`/v1/messages/${sent.body.id}`, { key: a.key })).status).toBe(200);
  },
  "GET /v1/suppressions": async ({ a, b, ready }) => {
    const addr = `iso-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${addr}`, { method: "PUT", key: a.key });
    await ready();
    expect(JSON.stringify((await json(await api("/v1/suppressions", { key: b.key }))).body)).not.toContain(addr);
    expect(JSON.stringify((await json(await api("/v1/suppressions", { key: a.key }))).body)).toContain(addr);
  },
  "GET /v1/suppressions/:channel/:recipient": async ({ a, b, ready }) => {
    const path = `/v1/suppressions/email/iso-${unique()}@example.com`;
    await api(path, { method: "PUT", key: a.key });
    await ready();
    expect((await api(path, { key: b.key })).status).toBe(404);
    expect((await api(path, { key: a.key })).status).toBe(200);
  },
  "PUT /v1/suppressions/:channel/:recipient": async ({ a, b, ready }) => {
    const path = `/v1/suppressions/email/iso-${unique()}@example.com`;
    await ready();
    expect((await api(path, { method: "PUT", key: b.key })).status).toBe(200);
    expect((await api(path, { key: a.key })).status).toBe(404);
  },
  "DELETE /v1/suppressions/:channel/:recipient": async ({ a, b, ready }) => {
    const path = `/v1/suppressions/email/iso-${unique()}@example.com`;
    await api(path, { method: "PUT", key: a.key });
    await ready();
    expect((await api(path, { method: "DELETE", key: b.key })).status).toBe(404);
    expect((await api(path, { key: a.key })).status).toBe(200);
  },
  "DELETE /v1/recipients/:channel/:recipient": async ({ a, b, ready }) => {
    // B erasing A's recipient erases nothing of A's: A's message and suppression stay whole.
    const to = `iso-erase-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${to}`, { method: "PUT", key: a.key });
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
    await ready([sent.body.id]);
    const erased = await json(await api(`/v1/recipients/email/${to}`, { method: "DELETE", key: b.key }));
    expect(erased.body).toEqual({ done: true, messages: 0, inbound: 0, suppressions: 0 });
    expect((await json(await api(`/v1/suppressions/email/${to}`, { key: a.key }))).body.recipient).toBe(to);
    expect((await api(`/v1/messages/${sent.body.id}`, { key: a.key })).status).toBe(200);
    const audit = await json(await api("/v1/audit?limit=1000", { key: a.key }));
    expect(audit.body.data.some((e: { action: string }) => e.action === "recipient.erase")).toBe(false);
  },
  "GET /v1/stats": async ({ a, b, ready }) => {
    await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key });
    await waitFor(
      async () => (await json(await api("/v1/stats", { key: a.key }))).body.buckets.length > 0,
      () => "A's stats to count its message",
    );
    await ready();
    expect((await json(await api("/v1/stats", { key: b.key }))).body.buckets).toEqual([]);
  },
  "GET /v1/messages": async ({ a, b, ready }) => {
    const sent = await json(await api("/v1/messages", { method: "POST", json: await webpush(`iso-${unique()}`), key: a.key }));
    await waitFor(
      async () => (await json(await api("/v1/messages", { key: a.key }))).body.data.some((m: { id: string }) => m.id === sent.body.id),
      () => "A's message in A's search",
    );
    await ready([sent.body.id]);
    // B's search finds nothing of A's, however it asks (A's id as a provider id, A's recipient).
    expect((await json(await api("/v1/messages", { key: b.key }))).body).toEqual({ data: [], nextCursor: null });
    expect((await json(await api(`/v1/messages?providerMessageId=${sent.body.id}`, { key: b.key }))).body.data).toEqual([]);
  },
  "GET /v1/routes": async ({ a, b, ready }) => {
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
    await ready();
    expect(await json(await api("/v1/routes", { key: b.key }))).toEqual({ status: 200, body: { email: [], sms: [] } });
  },
  "GET /v1/sms/inbound": async ({ b, ready }) => {
    await ready();
    // B is a fresh account: nothing of any other account's inbox shows.
    expect((await json(await api("/v1/sms/inbound", { key: b.key }))).body.data).toEqual([]);
  },
  "GET /v1/api-keys": async ({ a, b, ready }) => {
    await ready();
    expect(JSON.stringify((await json(await api("/v1/api-keys", { key: b.key }))).body)).not.toContain(a.keyId);
  },
  "POST /v1/api-keys": async ({ a, b, ready }) => {
    await ready();
    const made = await newKey(b, { name: "b's", scopes: ["read"] });
    expect(JSON.stringify((await json(await api("/v1/api-keys", { key: a.key }))).body)).not.toContain(made.id);
    // B's new key reads B's things only.
    expect((await api("/v1/api-keys", { key: made.key })).status).toBe(200);
    expect(JSON.stringify((await json(await api("/v1/audit?limit=1000", { key: made.key }))).body)).not.toContain(a.keyId);
  },
  "DELETE /v1/api-keys/:id": async ({ a, b, ready }) => {
    await ready();
    expect((await api(`/v1/api-keys/${a.keyId}`, { method: "DELETE", key: b.key })).status).toBe(404);
    expect((await api("/v1/api-keys", { key: a.key })).status).toBe(200);
  },
  "GET /v1/audit": async ({ a, b, ready }) => {
    await ready();
    expect(JSON.stringify((await json(await api("/v1/audit?limit=1000", { key: b.key }))).body)).not.toContain(a.keyId);
  },
  "POST /v1/push/webpush/keys": async ({ a, b, ready }) => {
    const made = await json(await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:a@example.com" }, key: a.key }));
    await ready();
    await api("/v1/push/webpush/keys", { method: "POST", json: { subject: "mailto:b@example.com" }, key: b.key });
    await expectUnchanged("/v1/push/webpush", a, made.body);
  },
  ...domainRows(),
  ...webhookEndpointRows(),
  ...templateRows(),
  ...bridgeHealthRows(),
  ...sectionRows("/v1/email/settings"),
  ...sectionRows("/v1/sms/settings"),
  ...sectionRows("/v1/push/apns"),
  ...sectionRows("/v1/push/fcm"),
  ...sectionRows("/v1/push/webpush"),
  // Retention has no secret, so it is not among SECTION_BODIES' masked sections.
  ...sectionRows("/v1/retention", async () => ({ timelineDays: 10 + Math.floor(Math.random() * 300), bodyDays: 3 })),
  ...sectionRows("/v1/email/delivery", async () => ({
    pools: [{ name: `p${Math.floor(Math.random() * 1e6)}`, addresses: [{ ip: "127.0.0.9" }] }],
    destinations: [{ name: "google", domains: ["gmail.com"], perMinute: 1 + Math.floor(Math.random() * 1000) }],
  })),
  ...sectionRows("/v1/email/tracking", async () => ({ opens: Math.random() < 0.5, clicks: true, privacy: "full" })),
  ...trackingRows(),
  "GET /v1/email/pools": async ({ a, b, ready }) => {
    // A's pool object holds a day's counts; B, with the same pool name, reads none of them.
    const delivery = { pools: [{ name: "shared", addresses: [{ ip: "127.0.0.9" }] }] };
    for (const x of [a, b]) expect((await api("/v1/email/delivery", { method: "PUT", json: delivery, key: x.key })).status).toBe(200);
    const config = {
      account: a.id,
      pool: "shared",
      addresses: delivery.pools[0]!.addresses,
      overflow: false,
      destinations: {},
      reputation: { bounceRate: 0.05, complaintRate: 0.001, minSent: 500 },
    };
    const { lease } = await poolStub(env, a.id, "shared").admit(config, [{}, {}]);
    await poolStub(env, a.id, "shared").report(
      config,
      lease,
      [1, 2].map(() => ({ kind: "accepted" as const, sourceAddress: "127.0.0.9" })),
    );
    const mine = await json(await api("/v1/email/pools", { key: a.key }));
    expect(mine.body.data[0].addresses[0].today).toMatchObject({ used: 2, sent: 2 });
    await ready();
    const theirs = await json(await api("/v1/email/pools", { key: b.key }));
    expect(theirs.body.data[0].addresses[0].today).toEqual({ used: 0, sent: 0, deferred: 0, bounced: 0, complaints: 0 });
  },
  ...Object.fromEntries(providerPaths.flatMap((p) => Object.entries(sectionRows(p)))),
  "POST /v1/suppressions/check": async ({ a, b, ready }) => {
    const addr = `iso-${unique()}@example.com`;
    await api(`/v1/suppressions/email/${addr}`, { method: "PUT", key: a.key });
    await ready();
    const check = async (x: AdminAccount) =>
      (await json(await api("/v1/suppressions/check", { method: "POST", json: { channel: "email", recipients: [addr] }, key: x.key })))
        .body;
    expect((await check(b)).data[0].suppressed).toBe(false);
    expect((await check(a)).data[0].suppressed).toBe(true);
  },
  // Provider webhooks carry no API key: the account is in the URL and the provider's own
  // signature, checked with that account's secret, is what lets a request in.
  "POST /v1/webhooks/:provider/:account": async ({ a, b, ready, done }) => {
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
    await ready();
    const post = async (x: AdminAccount, headers: Record<string, string>) =>
      (await SELF.fetch(`${BASE}/v1/webhooks/sendgrid/${x.id}`, { method: "POST", body, headers })).status;
    expect(await post(b, await signerA.headers(body))).toBe(401);
    // A's own signed post, after the snapshot: it does change A's state, and B still sees none of it.
    await done();
    expect(await post(a, await signerA.headers(body))).toBe(200);
    await waitFor(async () => (await api(`/v1/suppressions/email/${addr}`, { key: a.key })).status === 200, "A's complaint applied");
    expect((await api(`/v1/suppressions/email/${addr}`, { key: b.key })).status).toBe(404);
  },
  "GET /v1/webhooks/:provider/:account": async ({ a, b, ready, done }) => {
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
    await ready();
    const get = async (x: AdminAccount) => (await SELF.fetch(`${BASE}/v1/webhooks/vonage/${x.id}?${new URLSearchParams(params)}`)).status;
    expect(await get(b)).toBe(401);
    await done();
    expect(await get(a)).toBe(200);
  },
};

/** Routes no account key reaches, and who guards them instead. */
export const NOT_BY_ACCOUNT_KEY: Record<string, string> = {
  "/v1/admin/": "the platform admin key (test/worker/accounts.test.ts)",
  "/v1/webhooks/bridge": "the bridge's door signature; the account comes from the signed payload (test/worker/doors.test.ts)",
  "/v1/webhooks/twilio": "X-Twilio-Signature with the account's route token named in the URL (test/worker/sms.test.ts)",
  "/v1/inbound/": "the bridge's signature (test/worker/inbound.test.ts)",
};

/** What A's key reads of A's state: every list and section, and A's messages named by the row. */
const SNAPSHOT_READS = [
  "/v1/api-keys",
  "/v1/audit?limit=1000",
  "/v1/domains",
  "/v1/webhook-endpoints",
  "/v1/suppressions?limit=1000",
  "/v1/sms/inbound?limit=1000",
  "/v1/retention",
  "/v1/email/delivery",
  "/v1/email/tracking",
  "/v1/email/pools",
  "/v1/templates",
  ...Object.keys(SECTION_BODIES),
];

/** One read as A, through the app in process: SELF.fetch slows with every request a test file makes (workers-sdk#15446). */
async function read(path: string, key: string): Promise<{ status: number; body: unknown }> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${BASE}${path}`, { headers: { authorization: `Bearer ${key}` } }), env, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: await res.json() };
}

/**
 * A's state as A's own key reads it, without what changes on its own (a key's last use, a
 * message's progress through its sends): equal before and after B's calls, or B changed something.
 */
export async function snapshotOf(a: AdminAccount, messageIds: readonly string[]): Promise<Record<string, unknown>> {
  const reads = await Promise.all(SNAPSHOT_READS.map(async (path) => [path, await read(path, a.key)] as const));
  const snapshot: Record<string, unknown> = Object.fromEntries(reads);
  const keys = snapshot["/v1/api-keys"] as { body: { data?: Record<string, unknown>[] } };
  keys.body.data = keys.body.data?.map(({ lastUsedAt: _, ...key }) => key);
  for (const id of messageIds) {
    const m = (await read(`/v1/messages/${id}`, a.key)) as { status: number; body: Record<string, unknown> };
    snapshot[`/v1/messages/${id}`] = { status: m.status, id: m.body.id, channel: m.body.channel, to: m.body.to };
  }
  return snapshot;
}
