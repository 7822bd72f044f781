// The push service simulator checked against an independent sender (the `web-push` package)
// and hand-built VAPID tokens, so a shared misunderstanding cannot make both sides agree.
import { X509Certificate, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { join } from "node:path";
import webpush from "web-push";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Subscription = { endpoint: string; keys: { p256dh: string; auth: string } };
type PushResponse = { status: number; headers: Record<string, string | string[] | undefined>; body: string };
type RequestDetails = { headers: Record<string, string | number>; body: Buffer | null };

const SUBJECT = "mailto:sandbox-test@example.com";
const vapidKeys = webpush.generateVAPIDKeys();

let sandbox: TestSandbox;
let agent: Agent;

beforeAll(async () => {
  sandbox = await startTestSandbox();
  agent = new Agent({ ca: readFileSync(sandbox.caPath), keepAlive: false });
});

afterAll(async () => {
  agent?.destroy();
  await sandbox?.close();
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
});

async function subscribe(name?: string): Promise<Subscription> {
  const res = await control(sandbox, "POST", "/_sandbox/webpush/subscriptions", name === undefined ? {} : { name });
  expect(res.status).toBe(201);
  return (await res.json()) as Subscription;
}

async function received(): Promise<Array<Record<string, unknown>>> {
  const res = await control(sandbox, "GET", "/_sandbox/received?channel=webpush");
  expect(res.status).toBe(200);
  return (await res.json()) as Array<Record<string, unknown>>;
}

const sendOptions = (extra: Record<string, unknown> = {}) => ({
  vapidDetails: { subject: SUBJECT, publicKey: vapidKeys.publicKey, privateKey: vapidKeys.privateKey },
  TTL: 60,
  contentEncoding: "aes128gcm",
  agent,
  timeout: 10_000,
  ...extra,
});

/** Sends through web-push and reports the push service's answer, success or not. */
async function send(subscription: Subscription, payload: string, extra: Record<string, unknown> = {}): Promise<PushResponse> {
  try {
    const res = await webpush.sendNotification(subscription, payload, sendOptions(extra));
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (error) {
    if (error instanceof webpush.WebPushError) return { status: error.statusCode, headers: error.headers, body: error.body };
    throw error;
  }
}

/** A web-push-built request (real aes128gcm body, real VAPID) that the test may then tamper with. */
function pushRequest(subscription: Subscription, payload: string, extra: Record<string, unknown> = {}): RequestDetails {
  const { agent: _agent, timeout: _timeout, ...options } = sendOptions(extra);
  return webpush.generateRequestDetails(subscription, payload, options) as RequestDetails;
}

function post(url: string, headers: Record<string, string | number>, body: Buffer | null): Promise<PushResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(body ?? undefined);
  });
}

function rawPublicKey(key: KeyObject): string {
  const jwk = key.export({ format: "jwk" });
  return Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x!, "base64url"), Buffer.from(jwk.y!, "base64url")]).toString("base64url");
}

/** An ES256 VAPID JWT built with node:crypto alone (JOSE r||s signature). */
function vapidJwt(signer: KeyObject, claims: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signingInput = `${encode({ typ: "JWT", alg: "ES256" })}.${encode(claims)}`;
  const signature = sign("sha256", Buffer.from(signingInput), { key: signer, dsaEncoding: "ieee-p1363" });
  return `${signingInput}.${signature.toString("base64url")}`;
}

const inHours = (hours: number) => Math.floor(Date.now() / 1000) + hours * 3600;

describe("dev certificates", () => {
  it("form a CA chain for 127.0.0.1 and localhost", () => {
    const ca = new X509Certificate(readFileSync(sandbox.caPath));
    const leaf = new X509Certificate(readFileSync(join(sandbox.certDir, "server-cert.pem")));
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(leaf.checkHost("localhost")).toBe("localhost");
  });
});

describe("web push service", () => {
  it("accepts a VAPID-signed aes128gcm push and records the plaintext", async () => {
    const subscription = await subscribe("alice");
    expect(subscription.endpoint).toMatch(new RegExp(`^${sandbox.webpushUrl}/webpush/alice-[0-9a-f]+$`));
    const text = JSON.stringify({ title: "Grüße aus Zürich 👋", body: "你好, мир — ça va?" });

    const res = await send(subscription, text, { TTL: 120, urgency: "high", topic: "order-42" });

    expect(res.status).toBe(201);
    expect(res.headers.location).toMatch(new RegExp(`^${sandbox.webpushUrl}/m/[0-9a-f]+$`));
    expect(res.headers.ttl).toBe("120");
    const entries = await received();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      channel: "webpush",
      to: subscription.endpoint,
      status: 201,
      outcome: "accepted",
      payload: text,
      headers: { ttl: "120", urgency: "high", topic: "order-42", "content-encoding": "aes128gcm" },
    });
    expect(Number.isNaN(Date.parse(String(entries[0]?.at)))).toBe(false);
  });

  it("answers 410 Gone for a bounce subscription, every time", async () => {
    const subscription = await subscribe("bounce");
    expect((await send(subscription, "first")).status).toBe(410);
    expect((await send(subscription, "second")).status).toBe(410);
    const entries = await received();
    expect(entries.map((entry) => [entry.outcome, entry.payload])).toEqual([
      ["gone", "first"],
      ["gone", "second"],
    ]);
  });

  it("throttles a slow subscription once with Retry-After, then accepts", async () => {
    const subscription = await subscribe("slow");
    const first = await send(subscription, "try 1");
    expect(first.status).toBe(429);
    expect(first.headers["retry-after"]).toBe("1");
    expect(JSON.parse(first.body)).toMatchObject({ code: 429 });
    expect((await send(subscription, "try 2")).status).toBe(201);
    expect((await received()).map((entry) => entry.outcome)).toEqual(["throttled", "accepted"]);
  });

  describe("VAPID", () => {
    it("a subscription made with an applicationServerKey takes pushes signed with that key only", async () => {
      const other = webpush.generateVAPIDKeys();
      const res = await control(sandbox, "POST", "/_sandbox/webpush/subscriptions", {
        name: "bound",
        applicationServerKey: other.publicKey,
      });
      expect(res.status).toBe(201);
      const bound = (await res.json()) as Subscription;
      const refused = await send(bound, "signed with the wrong key");
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body)).toMatchObject({ code: 403, errno: 109 });
      const ok = await send(bound, "signed with its key", {
        vapidDetails: { subject: SUBJECT, publicKey: other.publicKey, privateKey: other.privateKey },
      });
      expect(ok.status).toBe(201);
      expect((await received()).map((r) => r.outcome)).toEqual(["accepted"]);
      const bad = await control(sandbox, "POST", "/_sandbox/webpush/subscriptions", { applicationServerKey: "nope" });
      expect(bad.status).toBe(400);
    });

    it("rejects a token signed by a key other than k with 403", async () => {
      const subscription = await subscribe();
      const details = pushRequest(subscription, "hello");
      const signer = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
      const claimed = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey;
      const t = vapidJwt(signer, { aud: sandbox.webpushUrl, exp: inHours(1), sub: SUBJECT });
      const res = await post(
        subscription.endpoint,
        { ...details.headers, Authorization: `vapid t=${t}, k=${rawPublicKey(claimed)}` },
        details.body,
      );
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({ code: 403, errno: 109, error: "Forbidden" });
    });

    it("accepts a hand-built token, so the failures below are about one claim each", async () => {
      const subscription = await subscribe();
      const details = pushRequest(subscription, "hand-built");
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const t = vapidJwt(privateKey, { aud: sandbox.webpushUrl, exp: inHours(12), sub: SUBJECT });
      const res = await post(
        subscription.endpoint,
        { ...details.headers, Authorization: `vapid t=${t}, k=${rawPublicKey(publicKey)}` },
        details.body,
      );
      expect(res.status).toBe(201);
    });

    it.each([
      ["aud of another origin", { aud: "https://push.example.net", exp: inHours(1), sub: SUBJECT }],
      ["exp more than 24 h ahead", { exp: inHours(25), sub: SUBJECT }],
      ["exp in the past", { exp: inHours(-1), sub: SUBJECT }],
      ["sub that is not mailto: or https:", { exp: inHours(1), sub: "http://example.com" }],
    ])("rejects %s with 403", async (_case, claims) => {
      const subscription = await subscribe();
      const details = pushRequest(subscription, "hello");
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const t = vapidJwt(privateKey, { aud: sandbox.webpushUrl, ...claims });
      const res = await post(
        subscription.endpoint,
        { ...details.headers, Authorization: `vapid t=${t}, k=${rawPublicKey(publicKey)}` },
        details.body,
      );
      expect(res.status).toBe(403);
    });

    it("answers 401 when Authorization is missing", async () => {
      const subscription = await subscribe();
      const details = pushRequest(subscription, "hello");
      const { Authorization: _authorization, ...headers } = details.headers;
      const res = await post(subscription.endpoint, headers, details.body);
      expect(res.status).toBe(401);
    });

    it("records nothing for requests that fail authentication", async () => {
      const subscription = await subscribe();
      const details = pushRequest(subscription, "hello");
      await post(subscription.endpoint, { ...details.headers, Authorization: "vapid t=a.b.c, k=xyz" }, details.body);
      expect(await received()).toEqual([]);
    });
  });

  it("answers 404 for an unknown subscription", async () => {
    const subscription = await subscribe("known");
    const res = await send({ ...subscription, endpoint: `${sandbox.webpushUrl}/webpush/never-issued` }, "hello");
    expect(res.status).toBe(404);
    expect(await received()).toEqual([]);
  });

  it("answers 400 when the TTL header is missing", async () => {
    const subscription = await subscribe();
    const details = pushRequest(subscription, "hello");
    const { TTL: _ttl, ...headers } = details.headers;
    const res = await post(subscription.endpoint, headers, details.body);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 400, errno: 111 });
    expect((await received()).map((entry) => entry.outcome)).toEqual(["bad-request"]);
  });

  it("answers 413 for a body over 4096 bytes", async () => {
    const subscription = await subscribe();
    const res = await send(subscription, "x".repeat(4100));
    expect(res.status).toBe(413);
    expect((await received()).map((entry) => entry.outcome)).toEqual(["too-large"]);
  });

  it("answers 400 for a body that does not decrypt", async () => {
    const subscription = await subscribe();
    const details = pushRequest(subscription, "hello");
    const body = Buffer.from(details.body!);
    body[body.length - 1]! ^= 0xff;
    const res = await post(subscription.endpoint, details.headers, body);
    expect(res.status).toBe(400);
    expect((await received()).map((entry) => [entry.outcome, entry.payload])).toEqual([["undecryptable", null]]);
  });

  it("answers 415 when Content-Encoding is not aes128gcm", async () => {
    const subscription = await subscribe();
    const details = pushRequest(subscription, "hello");
    const res = await post(subscription.endpoint, { ...details.headers, "Content-Encoding": "aesgcm" }, details.body);
    expect(res.status).toBe(415);
    expect((await received()).map((entry) => entry.outcome)).toEqual(["unsupported-encoding"]);
  });

  it("refuses the legacy aesgcm flavour, whose 'WebPush' auth scheme predates RFC 8292", async () => {
    const subscription = await subscribe();
    expect((await send(subscription, "hello", { contentEncoding: "aesgcm" })).status).toBe(403);
  });

  it("answers 400 for an invalid Urgency or Topic", async () => {
    const subscription = await subscribe();
    const details = pushRequest(subscription, "hello");
    expect((await post(subscription.endpoint, { ...details.headers, Urgency: "urgent" }, details.body)).status).toBe(400);
    expect((await post(subscription.endpoint, { ...details.headers, Topic: "not a topic!" }, details.body)).status).toBe(400);
  });
});

describe("control API", () => {
  it("clears received messages with DELETE /_sandbox/received", async () => {
    const subscription = await subscribe();
    expect((await send(subscription, "to be cleared")).status).toBe(201);
    expect(await received()).toHaveLength(1);
    expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
    expect(await received()).toEqual([]);
  });

  it("answers health checks and JSON errors", async () => {
    expect((await control(sandbox, "GET", "/healthz")).status).toBe(200);
    const unknownChannel = await control(sandbox, "GET", "/_sandbox/received?channel=pigeon");
    expect(unknownChannel.status).toBe(400);
    expect(await unknownChannel.json()).toMatchObject({ error: { code: "unknown_channel" } });
    const missing = await control(sandbox, "GET", "/nowhere");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
  });
});
