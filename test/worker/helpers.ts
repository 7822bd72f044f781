import { env, runInDurableObject, SELF } from "cloudflare:test";
import { expect, vi } from "vitest";
import { EDGE_EVENTS_PATH } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { toBase64Url } from "../../src/core/bytes.ts";
import { messageStub } from "../../src/state/stubs.ts";
import { ACCOUNT_A, API_KEY_A, TEST_PUSH_HOST } from "../fixtures.ts";
import { waitFor } from "../wait.ts";

export const BASE = "https://lasthop.test";

export function api(path: string, init: RequestInit & { key?: string | null; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const key = init.key === undefined ? API_KEY_A : init.key;
  if (key) headers.set("authorization", `Bearer ${key}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return SELF.fetch(`${BASE}${path}`, { ...init, headers, body });
}

/** A real subscription key pair (the sender must encrypt to a valid P-256 point). */
export async function subscription(path: string) {
  const pair = (await crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, true, ["deriveBits"])) as CryptoKeyPair;
  const raw = (await crypto.subtle.exportKey("raw", pair.publicKey)) as ArrayBuffer;
  return {
    endpoint: `https://${TEST_PUSH_HOST}/${path}`,
    keys: { p256dh: toBase64Url(raw), auth: toBase64Url(crypto.getRandomValues(new Uint8Array(16))) },
  };
}

export async function webpush(path: string, extra: Record<string, unknown> = {}) {
  return { channel: "webpush", to: await subscription(path), payload: { title: "hi", n: 1 }, ...extra };
}

export async function send(body: unknown, init: { key?: string | null; idempotencyKey?: string } = {}) {
  const headers: Record<string, string> = init.idempotencyKey ? { "idempotency-key": init.idempotencyKey } : {};
  const res = await api("/v1/messages", { method: "POST", json: body, key: init.key, headers });
  return { status: res.status, body: (await res.json()) as any };
}

export async function getMessage(id: string, key?: string) {
  const res = await api(`/v1/messages/${id}`, { key });
  return { status: res.status, body: (await res.json()) as any };
}

export async function waitForStatus(id: string, status: string, key?: string) {
  let seen: unknown;
  return waitFor(
    async () => {
      const m = await getMessage(id, key);
      seen = m.body.status;
      return seen === status ? m.body : null;
    },
    () => `message ${id} to be ${status} (it is ${String(seen)})`,
  );
}

// Markers: a test that proves something did NOT happen waits for a later thing that did, on
// the same path, rather than sleeping.

/**
 * Sends `body` and waits until it is accepted: a marker on its send queue. Jobs enqueued there
 * before it have been taken by then (a batch begins all its jobs before it sends any), so what
 * an earlier job would have sent, it has. Resolves with the marker's id.
 */
export async function sendMarker(body: unknown, key?: string): Promise<string> {
  const res = await send(body, { key });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await waitForStatus(res.body.id, "accepted", key);
  return res.body.id as string;
}

/**
 * A marker on the events queue: posts an "opened" event (it never moves the state) for message
 * `messageId` and waits until its timeline shows it and its effects are done. Its MessageDO
 * takes events one at a time, so every event for it posted before has been applied, effects
 * included; the queue delivered those for other messages alongside or before it.
 */
export async function eventsMarker(messageId: string, account = ACCOUNT_A, key?: string): Promise<void> {
  const id = `marker-${crypto.randomUUID()}`;
  const posted = await postEvents([
    { id, account, messageId, type: "opened", occurredAt: new Date().toISOString(), provider: "test", detail: {} },
  ]);
  expect(posted.status).toBe(202);
  await waitFor(
    async () => (await getMessage(messageId, key)).body.events?.some((e: { id: string }) => e.id === id),
    `marker event ${id} on ${messageId}`,
  );
  await effectsDone(messageId, account);
}

/**
 * Resolves once message `id`'s outbox is empty: the effects of what it recorded (enqueue, counts,
 * receipt refs, suppression) have been carried out. A status is visible before its effects are.
 */
export async function effectsDone(id: string, account = ACCOUNT_A): Promise<void> {
  const stub = messageStub(env, account, id);
  const pending = () =>
    runInDurableObject(
      stub,
      (_instance: unknown, state: DurableObjectState) => state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n,
    );
  await waitFor(async () => (await pending()) === 0, `message ${id}'s effects (its outbox) to be done`);
}

/**
 * POSTs canonical events to /v1/webhooks/bridge, signed as the bridge does: with that door's key
 * (`doorSecret` of the platform secret, or of `secret`). `door` signs for another door instead.
 */
export async function postEvents(events: unknown[], opts: { secret?: string; now?: number; raw?: string; door?: string } = {}) {
  const body = opts.raw ?? JSON.stringify({ events });
  const headers = await signedHeaders(await doorSecret(opts.secret ?? env.WEBHOOK_SECRET, opts.door ?? EDGE_EVENTS_PATH), body, opts.now);
  return SELF.fetch(`${BASE}${EDGE_EVENTS_PATH}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body,
  });
}

/** A short random label for names that must not collide across tests (domains, senders). */
export const unique = () => crypto.randomUUID().slice(0, 8);

/** A response's status and parsed JSON body. */
export async function json(res: Response): Promise<{ status: number; body: any }> {
  return { status: res.status, body: (await res.json()) as any };
}

export type AdminAccount = { id: string; name: string; key: string; keyId: string };

/** An account made by the platform admin (`ADMIN_API_KEY`), with its first key (every scope). */
export async function adminAccount(name = "Test Co"): Promise<AdminAccount> {
  const res = await json(await api("/v1/admin/accounts", { method: "POST", json: { name }, key: env.ADMIN_API_KEY }));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id, name: res.body.name, key: res.body.apiKey.key, keyId: res.body.apiKey.id };
}

/** What Email Routing hands the Worker's email() handler. */
export function routed(to: string, raw: string) {
  const bytes = new TextEncoder().encode(raw);
  return {
    from: "mailer-daemon@mx.example.net",
    to,
    raw: new Response(bytes).body!,
    rawSize: bytes.length,
    headers: new Headers(),
    setReject: vi.fn(),
    forward: vi.fn(),
    reply: vi.fn(),
  };
}
