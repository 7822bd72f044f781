// The edge's APNs provider token: the JWT Apple asks for, when TokenDO mints a new one, how
// long an isolate keeps its copy, the name the token is held under, and which topics an
// account may push to.
import { generateKeyPairSync } from "node:crypto";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { apnsTopicAllowed } from "../../src/core/apns.ts";
import {
  APNS_TOKEN_ISOLATE_MS,
  APNS_TOKEN_LIFETIME_MS,
  APNS_TOKEN_MIN_CHANGE_MS,
  APNS_TOKEN_REFRESH_MS,
  isolateMayUse,
  keyCanSign,
  mintReason,
  providerTokenIds,
  providerTokenName,
  signProviderToken,
  type ApnsProviderToken,
} from "../../src/core/apns-token.ts";
import { apnsBatch } from "../../src/core/bridge.ts";

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function p8() {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { pem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(), publicKey };
}

const token = (issuedAt: number, value = `t${issuedAt}`): ApnsProviderToken => ({
  token: value,
  keyId: "KEY1234567",
  teamId: "TEAM123456",
  issuedAt,
});

describe("signProviderToken", () => {
  it("is an ES256 JWT with kid in the header and exactly iss and iat in the claims, verifiable with the key's public half", async () => {
    const key = p8();
    const minted = await signProviderToken({ key: key.pem, keyId: "KEY1234567", teamId: "TEAM123456" }, T0 + 999);
    expect(minted).toMatchObject({ keyId: "KEY1234567", teamId: "TEAM123456", issuedAt: T0 + 999 });
    expect(decodeProtectedHeader(minted.token)).toEqual({ alg: "ES256", kid: "KEY1234567" });
    const { payload } = await jwtVerify(minted.token, key.publicKey, { currentDate: new Date(T0 + 5 * MIN) });
    expect(payload).toEqual({ iss: "TEAM123456", iat: Math.floor(T0 / 1000) });
    expect(providerTokenIds(minted.token)).toEqual({ keyId: "KEY1234567", teamId: "TEAM123456" });
    // Another key's public half does not verify it.
    await expect(jwtVerify(minted.token, p8().publicKey)).rejects.toThrow();
  });

  it("refuses a key that is not PKCS#8 P-256", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    await expect(signProviderToken({ key: rsa, keyId: "KEY1234567", teamId: "TEAM123456" }, T0)).rejects.toThrow();
    expect(await keyCanSign(rsa)).toBe(false);
    expect(await keyCanSign(`-----BEGIN PRIVATE KEY-----\n${"A".repeat(64)}\n-----END PRIVATE KEY-----\n`)).toBe(false);
    expect(await keyCanSign(p8().pem)).toBe(true);
  });

  it("providerTokenIds: null for anything but an ES256 JWT naming kid and iss", () => {
    expect(providerTokenIds("not.a.jwt")).toBeNull();
    expect(providerTokenIds("")).toBeNull();
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    expect(providerTokenIds(`${b64({ alg: "HS256", kid: "K" })}.${b64({ iss: "T" })}.x`)).toBeNull();
    expect(providerTokenIds(`${b64({ alg: "ES256" })}.${b64({ iss: "T" })}.x`)).toBeNull();
    expect(providerTokenIds(`${b64({ alg: "ES256", kid: "K" })}.${b64({ iss: "T", iat: 1 })}.x`)).toEqual({ keyId: "K", teamId: "T" });
  });
});

describe("mintReason (TokenDO: one token per account and key)", () => {
  it("stays within Apple's window: after 20 minutes, well before the hour", () => {
    expect(APNS_TOKEN_REFRESH_MS).toBeGreaterThanOrEqual(APNS_TOKEN_MIN_CHANGE_MS);
    expect(APNS_TOKEN_REFRESH_MS + APNS_TOKEN_ISOLATE_MS).toBeLessThan(APNS_TOKEN_LIFETIME_MS);
  });

  it.each([
    ["no token yet", {}, 0, undefined, "initial"],
    ["a fresh token", { current: token(T0) }, 1 * MIN, undefined, null],
    ["44 minutes old", { current: token(T0) }, 44 * MIN, undefined, null],
    ["45 minutes old", { current: token(T0) }, 45 * MIN, undefined, "age"],
    ["two hours old (a DO that slept)", { current: token(T0) }, 120 * MIN, undefined, "age"],
    ["the current token rejected as expired", { current: token(T0) }, 5 * MIN, `t${T0}`, "expired"],
    ["an older token rejected (already replaced)", { current: token(T0) }, 5 * MIN, "old", null],
    ["rejected again 10 minutes after a forced refresh", { current: token(T0), forcedAt: T0 }, 10 * MIN, `t${T0}`, null],
    ["rejected 20 minutes after the last forced refresh", { current: token(T0), forcedAt: T0 }, 20 * MIN, `t${T0}`, "expired"],
  ] as const)("%s → %s", (_name, state, after, rejected, reason) => {
    expect(mintReason(state, T0 + after, rejected)).toBe(reason);
  });
});

describe("isolateMayUse (an isolate's copy)", () => {
  it.each([
    ["nothing cached", undefined, 0, 0, false],
    ["fetched just now", token(T0), T0, T0 + 1000, true],
    ["fetched a minute ago", token(T0), T0, T0 + APNS_TOKEN_ISOLATE_MS, false],
    ["fetched 10 s ago, but the token is due for refresh", token(T0), T0 + 45 * MIN - 10_000, T0 + 45 * MIN, false],
    ["fetched 10 s ago, token 30 minutes old", token(T0), T0 + 30 * MIN - 10_000, T0 + 30 * MIN, true],
  ] as const)("%s → %s", (_name, cached, fetchedAt, now, usable) => {
    expect(isolateMayUse(cached, fetchedAt, now)).toBe(usable);
  });
});

describe("providerTokenName", () => {
  it("starts with the account and changes with the team, the key id and the key itself", async () => {
    const a = { key: p8().pem, keyId: "KEY1234567", teamId: "TEAM123456" };
    const name = await providerTokenName("acct_a", a);
    expect(name).toMatch(/^acct_a:apns:TEAM123456:KEY1234567:[0-9a-f]{16}$/);
    expect(await providerTokenName("acct_a", a)).toBe(name);
    expect(await providerTokenName("acct_a", { ...a, key: `\n${a.key}\n` })).toBe(name);
    const others = await Promise.all([
      providerTokenName("acct_b", a),
      providerTokenName("acct_a", { ...a, teamId: "TEAM654321" }),
      providerTokenName("acct_a", { ...a, keyId: "KEY7654321" }),
      providerTokenName("acct_a", { ...a, key: p8().pem }),
    ]);
    expect(new Set([name, ...others]).size).toBe(5);
  });
});

describe("apnsTopicAllowed", () => {
  const topics = ["com.example.app", "com.example.watch.complication", "com.other.app"];
  it.each([
    ["com.example.app", true],
    ["com.other.app", true],
    ["com.example.app.voip", true],
    ["com.example.app.complication", true],
    ["com.example.app.pushkit.fileprovider", true],
    ["com.example.app.push-type.liveactivity", true],
    ["com.example.app.voip-ptt", true],
    ["com.example.app.location-query", true],
    ["com.example.watch.complication", true],
    // The base of a topic listed with its suffix is not listed.
    ["com.example.watch", false],
    ["com.example.ap", false],
    ["com.example.app2", false],
    ["com.example.app.extension", false],
    ["COM.EXAMPLE.APP", false],
    ["com.example.app.voip.voip", false],
    ["com.evil.app.voip", false],
    [".voip", false],
  ] as const)("%s → %s", (topic, allowed) => {
    expect(apnsTopicAllowed(topic, topics)).toBe(allowed);
  });
});

describe("apnsBatch credentials (the edge ⇄ bridge contract)", () => {
  const ids = { keyId: "KEY1234567", teamId: "TEAM123456" };
  const item = (credential?: number) => ({
    id: crypto.randomUUID(),
    token: "ab".repeat(32),
    topic: "com.example.app",
    pushType: "alert",
    payload: { aps: {} },
    ...(credential !== undefined ? { credential } : {}),
  });
  it("accepts items naming a credential whose token names its team and key, and items naming none", async () => {
    const { token } = await signProviderToken({ key: p8().pem, ...ids }, T0);
    expect(apnsBatch.safeParse({ credentials: [{ ...ids, token }], items: [item(0), item()] }).success).toBe(true);
    expect(apnsBatch.safeParse({ items: [item()] }).success).toBe(true);
  });

  it.each([
    ["a credential index with no credential", [], 0, "items.0.credential"],
    ["an index past the credentials", "own", 1, "items.0.credential"],
    ["a token of another team", { ...ids, teamId: "TEAM654321" }, 0, "credentials.0.token"],
    ["a token of another key", { ...ids, keyId: "KEY7654321" }, 0, "credentials.0.token"],
  ] as const)("refuses %s", async (_name, credentials, index, path) => {
    const { token } = await signProviderToken({ key: p8().pem, ...ids }, T0);
    const list = credentials === "own" ? [{ ...ids, token }] : Array.isArray(credentials) ? [] : [{ ...credentials, token }];
    const parsed = apnsBatch.safeParse({ credentials: list, items: [item(index)] });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => i.path.join("."))).toContain(path);
  });
});
