// The FCM HTTP v1 and Google OAuth token endpoint simulators checked with an independent client:
// fetch, and RS256 assertions signed by hand with node:crypto; nothing from src/ or bridge/.
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateServiceAccount, type ServiceAccountMaterial } from "../../sandbox/keys.ts";
import { passTime } from "../wait.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type KeyFile = { private_key: string; private_key_id: string; client_email: string; project_id: string; token_uri: string } & Record<
  string,
  unknown
>;

const PROJECT = "lasthop-test";
const SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
const GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError";
const BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";

let sandbox: TestSandbox;
/** Registered through startSandbox({fcmServiceAccounts}); its key file's token_uri is a placeholder. */
let account: ServiceAccountMaterial;
let keyFile: KeyFile;
let accessToken: string;

const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  account = generateServiceAccount({ tokenUri: "http://127.0.0.1:0/oauth/token", projectId: PROJECT });
  keyFile = JSON.parse(account.json) as KeyFile;
  sandbox = await startTestSandbox({
    fcmServiceAccounts: [{ clientEmail: account.clientEmail, projectId: account.projectId, publicKeyPem: account.publicKeyPem }],
  });
  accessToken = await freshAccessToken();
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
});

async function received(): Promise<Array<Record<string, unknown>>> {
  return (await (await control(sandbox, "GET", "/_sandbox/received?channel=fcm")).json()) as Array<Record<string, unknown>>;
}

async function stats(): Promise<{ tokensIssued: number; sends: number }> {
  return (await (await control(sandbox, "GET", "/_sandbox/fcm/stats")).json()) as { tokensIssued: number; sends: number };
}

/** A service-account assertion (RFC 7523): RS256 JWT signed with node:crypto. */
function assertion(claims: Record<string, unknown> = {}, opts: { signer?: KeyObject | string; alg?: string } = {}): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const iat = nowSeconds();
  const body = { iss: account.clientEmail, scope: SCOPE, aud: `${sandbox.httpUrl}/oauth/token`, iat, exp: iat + 3600, ...claims };
  const signingInput = `${encode({ alg: opts.alg ?? "RS256", typ: "JWT", kid: keyFile.private_key_id })}.${encode(body)}`;
  const signature = sign("sha256", Buffer.from(signingInput), opts.signer ?? keyFile.private_key);
  return `${signingInput}.${signature.toString("base64url")}`;
}

function tokenRequest(fields: Record<string, string>): Promise<Response> {
  return fetch(`${sandbox.httpUrl}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
  });
}

async function freshAccessToken(claims: Record<string, unknown> = {}): Promise<string> {
  const res = await tokenRequest({ grant_type: GRANT, assertion: assertion(claims) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function fcmToken(name?: string): Promise<string> {
  const res = await control(sandbox, "POST", "/_sandbox/fcm/tokens", name === undefined ? {} : { name });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

async function send(
  body: unknown,
  opts: { token?: string | null; project?: string } = {},
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const token = opts.token === undefined ? accessToken : opts.token;
  const res = await fetch(`${sandbox.httpUrl}/fcm/v1/projects/${opts.project ?? PROJECT}/messages:send`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token === null ? {} : { authorization: `Bearer ${token}` }) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

describe("service account key files", () => {
  it("look like the ones Google's console produces", () => {
    expect(Object.keys(keyFile)).toEqual([
      "type",
      "project_id",
      "private_key_id",
      "private_key",
      "client_email",
      "client_id",
      "auth_uri",
      "token_uri",
      "auth_provider_x509_cert_url",
      "client_x509_cert_url",
      "universe_domain",
    ]);
    expect(keyFile).toMatchObject({ type: "service_account", project_id: PROJECT, token_uri: "http://127.0.0.1:0/oauth/token" });
    expect(keyFile.client_email).toMatch(new RegExp(`^firebase-adminsdk-[a-z0-9]{5}@${PROJECT}\\.iam\\.gserviceaccount\\.com$`));
    expect(keyFile.private_key_id).toMatch(/^[0-9a-f]{40}$/);
    expect(keyFile.private_key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    expect(String(keyFile.client_id)).toMatch(/^[1-9]\d{20}$/);
  });
});

describe("OAuth token endpoint", () => {
  it("trades a valid assertion for a bearer access token", async () => {
    const before = await stats();
    const res = await tokenRequest({ grant_type: GRANT, assertion: assertion() });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ access_token: expect.stringMatching(/^ya29\./), expires_in: 3599, token_type: "Bearer" });
    expect((await stats()).tokensIssued - before.tokensIssued).toBe(1);
  });

  it.each([
    ["another grant type", { grant_type: "client_credentials" }, "unsupported_grant_type", /^Invalid grant_type: client_credentials$/],
    ["no assertion", { assertion: "" }, "invalid_request", /assertion/],
    ["an assertion that is not a JWT", { assertion: "not-a-jwt" }, "invalid_grant", /^Invalid JWT/],
  ])("answers 400 for %s", async (_case, fields, error, description) => {
    const res = await tokenRequest({ grant_type: GRANT, assertion: assertion(), ...fields });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe(error);
    expect(body.error_description).toMatch(description);
  });

  it.each([
    ["signed by another key", {}, { signer: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey }, "Invalid JWT Signature."],
    ["signed with another alg", {}, { alg: "RS512" }, "Invalid JWT Signature."],
    ["from an unknown service account", { iss: `stranger@${PROJECT}.iam.gserviceaccount.com` }, {}, "Invalid grant: account not found"],
    ["for another audience", { aud: "https://oauth2.googleapis.com/token" }, {}, /^Invalid JWT: Failed audience check/],
    [
      "living longer than an hour",
      { iat: nowSeconds(), exp: nowSeconds() + 3601 },
      {},
      /^Invalid JWT: Token must be a short-lived token \(60 minutes\)/,
    ],
    ["that has expired", { iat: nowSeconds() - 3600, exp: nowSeconds() - 1 }, {}, /^Invalid JWT: Token must be a short-lived token/],
    [
      "issued 10 minutes in the future",
      { iat: nowSeconds() + 600, exp: nowSeconds() + 1200 },
      {},
      /^Invalid JWT: Token must be a short-lived token/,
    ],
  ])("answers 400 invalid_grant for an assertion %s", async (_case, claims, opts, description) => {
    const before = await stats();
    const res = await tokenRequest({ grant_type: GRANT, assertion: assertion(claims, opts) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(Object.keys(body)).toEqual(["error", "error_description"]);
    expect(body.error).toBe("invalid_grant");
    if (typeof description === "string") expect(body.error_description).toBe(description);
    else expect(body.error_description).toMatch(description);
    expect((await stats()).tokensIssued).toBe(before.tokensIssued);
  });

  it("answers 400 invalid_scope for an assertion without a scope", async () => {
    const res = await tokenRequest({ grant_type: GRANT, assertion: assertion({ scope: undefined }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: "invalid_scope", error_description: "Invalid OAuth scope or ID token audience provided." });
  });

  it("issues tokens with the configured lifetime, and FCM refuses them once expired", async () => {
    try {
      const config = await control(sandbox, "POST", "/_sandbox/fcm/config", { tokenTtlSeconds: 1 });
      expect(await config.json()).toEqual({ tokenTtlSeconds: 1 });
      const res = await tokenRequest({ grant_type: GRANT, assertion: assertion() });
      const body = (await res.json()) as { access_token: string; expires_in: number };
      expect(body.expires_in).toBe(1);
      expect((await send({ message: { token: await fcmToken() } }, { token: body.access_token })).status).toBe(200);
      await passTime(1_100); // the clock is what is tested: the token lives 1 s
      const expired = await send({ message: { token: await fcmToken() } }, { token: body.access_token });
      expect(expired.status).toBe(401);
      expect(expired.json).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    } finally {
      await control(sandbox, "POST", "/_sandbox/fcm/config", { tokenTtlSeconds: 3599 });
    }
  });

  it("accepts service accounts registered at run time, RSA only", async () => {
    const other = generateServiceAccount({ tokenUri: `${sandbox.httpUrl}/oauth/token`, projectId: "other-project" });
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" });
    const refused = await control(sandbox, "POST", "/_sandbox/fcm/service-accounts", {
      clientEmail: other.clientEmail,
      projectId: other.projectId,
      publicKeyPem: ec,
    });
    expect(refused.status).toBe(400);
    const registered = await control(sandbox, "POST", "/_sandbox/fcm/service-accounts", {
      clientEmail: other.clientEmail,
      projectId: other.projectId,
      publicKeyPem: other.publicKeyPem,
    });
    expect(registered.status).toBe(201);
    const otherKey = JSON.parse(other.json) as KeyFile;
    const res = await tokenRequest({
      grant_type: GRANT,
      assertion: assertion({ iss: other.clientEmail }, { signer: otherKey.private_key }),
    });
    expect(res.status).toBe(200);
    const token = ((await res.json()) as { access_token: string }).access_token;
    expect((await send({ message: { token: await fcmToken() } }, { token, project: "other-project" })).status).toBe(200);
  });
});

describe("FCM HTTP v1 send", () => {
  it("accepts a message and records it", async () => {
    const token = await fcmToken("alice");
    const message = {
      token,
      notification: { title: "Grüße", body: "你好 👋" },
      data: { orderId: "42", kind: "receipt" },
      android: { priority: "high", ttl: "3600s" },
      apns: { headers: { "apns-priority": "10" }, payload: { aps: { sound: "default" } } },
      fcm_options: { analytics_label: "lasthop" },
    };
    const res = await send({ message });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ name: expect.stringMatching(new RegExp(`^projects/${PROJECT}/messages/0:\\d+%[0-9a-f]+$`)) });
    const entries = await received();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ channel: "fcm", to: token, status: 200, outcome: "accepted", headers: {}, payload: message });
  });

  it("mints registration tokens shaped like FCM's that carry the name", async () => {
    const token = await fcmToken("bounce");
    expect(token).toMatch(/^bounce-[A-Za-z0-9_-]+:APA91b[A-Za-z0-9_-]{100,}$/);
    expect(await fcmToken()).toMatch(/^[A-Za-z0-9_-]{22}:APA91b[A-Za-z0-9_-]{100,}$/);
  });

  describe("authentication", () => {
    it("answers 401 UNAUTHENTICATED without Authorization", async () => {
      const res = await send({ message: { token: await fcmToken() } }, { token: null });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer realm="https:\/\/accounts\.google\.com\/"/);
      expect(res.json).toEqual({
        error: {
          code: 401,
          message: expect.stringMatching(/^Request is missing required authentication credential\. Expected OAuth 2 access token/),
          status: "UNAUTHENTICATED",
          details: [expect.objectContaining({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "CREDENTIALS_MISSING" })],
        },
      });
      expect(await received()).toEqual([]);
    });

    it("answers 401 UNAUTHENTICATED for an unknown token", async () => {
      const res = await send({ message: { token: await fcmToken() } }, { token: "ya29.never-issued" });
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({
        error: {
          code: 401,
          message: expect.stringMatching(/^Request had invalid authentication credentials\. Expected OAuth 2 access token/),
          status: "UNAUTHENTICATED",
        },
      });
    });

    it("answers 401 after revoke, until the sender fetches a new token", async () => {
      const token = await freshAccessToken();
      const device = await fcmToken();
      expect((await send({ message: { token: device } }, { token })).status).toBe(200);
      expect((await control(sandbox, "POST", "/_sandbox/fcm/revoke")).status).toBe(204);
      const revoked = await send({ message: { token: device } }, { token });
      expect(revoked.status).toBe(401);
      expect(revoked.json).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
      accessToken = await freshAccessToken();
      expect((await send({ message: { token: device } })).status).toBe(200);
      expect((await received()).map((entry) => entry.status)).toEqual([200, 200]);
    });

    it("answers 403 PERMISSION_DENIED for a project the service account does not belong to", async () => {
      const res = await send({ message: { token: await fcmToken() } }, { project: "someone-else" });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({
        error: {
          code: 403,
          message:
            "Permission 'cloudmessaging.messages.create' denied on resource '//cloudresourcemanager.googleapis.com/projects/someone-else' (or it may not exist).",
          status: "PERMISSION_DENIED",
          details: [
            {
              "@type": "type.googleapis.com/google.rpc.ErrorInfo",
              reason: "IAM_PERMISSION_DENIED",
              domain: "cloudresourcemanager.googleapis.com",
              metadata: { permission: "cloudmessaging.messages.create", resource: "projects/someone-else" },
            },
          ],
        },
      });
      expect(await received()).toEqual([]);
    });

    it("answers 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT for a token without the messaging scope", async () => {
      const token = await freshAccessToken({ scope: "https://www.googleapis.com/auth/userinfo.email" });
      const res = await send({ message: { token: await fcmToken() } }, { token });
      expect(res.status).toBe(403);
      expect(res.json).toMatchObject({
        error: {
          code: 403,
          message: "Request had insufficient authentication scopes.",
          status: "PERMISSION_DENIED",
          details: [{ reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT" }],
        },
      });
      // cloud-platform covers FCM too.
      const broad = await freshAccessToken({ scope: "https://www.googleapis.com/auth/cloud-platform" });
      expect((await send({ message: { token: await fcmToken() } }, { token: broad })).status).toBe(200);
    });
  });

  describe("message checks", () => {
    it("answers 400 when the message has no recipient", async () => {
      const res = await send({ message: { notification: { title: "to nobody" } } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        error: {
          code: 400,
          message: "Recipient of the message is not set.",
          status: "INVALID_ARGUMENT",
          details: [
            { "@type": BAD_REQUEST, fieldViolations: [{ field: "message", description: "Recipient of the message is not set." }] },
            { "@type": FCM_ERROR, errorCode: "INVALID_ARGUMENT" },
          ],
        },
      });
      expect((await received()).map((entry) => [entry.status, entry.outcome, entry.to])).toEqual([[400, "rejected", ""]]);
    });

    it("answers 400 for a data value that is not a string, naming its index", async () => {
      const res = await send({ message: { token: await fcmToken(), data: { kind: "receipt", orderId: 42 } } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        error: {
          code: 400,
          message: "Invalid value at 'message.data[1].value' (TYPE_STRING), 42",
          status: "INVALID_ARGUMENT",
          details: [
            {
              "@type": BAD_REQUEST,
              fieldViolations: [
                { field: "message.data[1].value", description: "Invalid value at 'message.data[1].value' (TYPE_STRING), 42" },
              ],
            },
          ],
        },
      });
    });

    it("answers 400 for an unknown message field and for a body that is not JSON", async () => {
      const unknown = await send({ message: { token: await fcmToken(), priority: "high" } });
      expect(unknown.status).toBe(400);
      expect(unknown.json).toMatchObject({
        error: {
          code: 400,
          status: "INVALID_ARGUMENT",
          message: `Invalid JSON payload received. Unknown name "priority" at 'message': Cannot find field.`,
        },
      });
      const garbage = await send("{not json");
      expect(garbage.status).toBe(400);
      expect(garbage.json).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT", details: [{ "@type": BAD_REQUEST }] } });
    });

    it("answers a validate_only request without delivering it", async () => {
      const res = await send({ validate_only: true, message: { token: await fcmToken() } });
      expect(res.status).toBe(200);
      expect(res.json).toEqual({ name: `projects/${PROJECT}/messages/fake_message_id` });
      expect(await received()).toEqual([]);
    });
  });

  describe("registration token outcomes", () => {
    it("answers 404 NOT_FOUND / UNREGISTERED for bounce", async () => {
      const token = await fcmToken("bounce");
      const res = await send({ message: { token } });
      expect(res.status).toBe(404);
      expect(res.json).toEqual({
        error: {
          code: 404,
          message: "Requested entity was not found.",
          status: "NOT_FOUND",
          details: [{ "@type": FCM_ERROR, errorCode: "UNREGISTERED" }],
        },
      });
      expect((await received()).map((entry) => [entry.to, entry.outcome])).toEqual([[token, "gone"]]);
    });

    it("answers 403 PERMISSION_DENIED / SENDER_ID_MISMATCH for mismatch", async () => {
      const res = await send({ message: { token: await fcmToken("mismatch") } });
      expect(res.status).toBe(403);
      expect(res.json).toEqual({
        error: {
          code: 403,
          message: "SenderId mismatch",
          status: "PERMISSION_DENIED",
          details: [{ "@type": FCM_ERROR, errorCode: "SENDER_ID_MISMATCH" }],
        },
      });
    });

    it("answers 400 INVALID_ARGUMENT for bad", async () => {
      const res = await send({ message: { token: await fcmToken("bad") } });
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        error: {
          code: 400,
          message: "The registration token is not a valid FCM registration token",
          status: "INVALID_ARGUMENT",
          details: [{ "@type": FCM_ERROR, errorCode: "INVALID_ARGUMENT" }],
        },
      });
      expect((await received()).map((entry) => entry.outcome)).toEqual(["bad-token"]);
    });

    it("answers 429 RESOURCE_EXHAUSTED / QUOTA_EXCEEDED with Retry-After for slow once, then 200", async () => {
      const token = await fcmToken("slow");
      const first = await send({ message: { token } });
      expect(first.status).toBe(429);
      expect(first.headers.get("retry-after")).toBe("1");
      expect(first.json).toEqual({
        error: {
          code: 429,
          message: expect.any(String),
          status: "RESOURCE_EXHAUSTED",
          details: [{ "@type": FCM_ERROR, errorCode: "QUOTA_EXCEEDED" }],
        },
      });
      expect((await send({ message: { token } })).status).toBe(200);
      expect((await received()).map((entry) => entry.outcome)).toEqual(["throttled", "accepted"]);
    });

    it("answers 503 UNAVAILABLE for down", async () => {
      const res = await send({ message: { token: await fcmToken("down") } });
      expect(res.status).toBe(503);
      expect(res.json).toEqual({
        error: {
          code: 503,
          message: expect.any(String),
          status: "UNAVAILABLE",
          details: [{ "@type": FCM_ERROR, errorCode: "UNAVAILABLE" }],
        },
      });
      expect((await received()).map((entry) => entry.outcome)).toEqual(["unavailable"]);
    });
  });

  it("counts issued tokens and sends in stats", async () => {
    const before = await stats();
    const token = await freshAccessToken();
    await send({ message: { token: await fcmToken() } }, { token });
    await send({ message: { token: await fcmToken("bounce") } }, { token });
    await send({ message: { token: await fcmToken() } }, { token: "ya29.never-issued" });
    const after = await stats();
    expect(after.tokensIssued - before.tokensIssued).toBe(1);
    // Only sends that passed authentication count; the unauthenticated one does not.
    expect(after.sends - before.sends).toBe(2);
  });
});
