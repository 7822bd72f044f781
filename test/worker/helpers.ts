import { env, SELF } from "cloudflare:test";
import { EDGE_EVENTS_PATH } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { toBase64Url } from "../../src/core/bytes.ts";
import { API_KEY_A, TEST_PUSH_HOST } from "../fixtures.ts";

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

/** Polls until `check` returns a truthy value; bounded, so a broken flow fails instead of hanging. */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("waitFor timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitForStatus(id: string, status: string, key?: string) {
  return waitFor(async () => {
    const m = await getMessage(id, key);
    return m.body.status === status ? m.body : null;
  });
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
