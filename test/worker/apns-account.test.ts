/**
 * APNs with each account's own key: the edge mints the provider token (TokenDO, one per account
 * and key), the batch carries it as a credential, and what account A sends is signed with A's
 * key, never B's. Accounts are made through the admin API with keys generated here; the fake
 * bridge (bridge-fake.ts) records the batches.
 */
import { env } from "cloudflare:test";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { providerTokenName } from "../../src/core/apns-token.ts";
import { installBridge, type BridgeCall } from "./bridge-fake.ts";
import { api, send, waitForStatus } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
afterEach(() => bridge.restore());

type Account = { id: string; key: string; teamId: string; keyId: string; pem: string; publicKey: CryptoKey };

const token = (prefix: string) =>
  prefix + Array.from(crypto.getRandomValues(new Uint8Array(31)), (b) => b.toString(16).padStart(2, "0")).join("");
const appleId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(10)), (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[b % 36]).join("");

async function p8(): Promise<{ pem: string; publicKey: CryptoKey }> {
  const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const der = new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer);
  const b64 = btoa(String.fromCharCode(...der));
  return {
    pem: `-----BEGIN PRIVATE KEY-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END PRIVATE KEY-----\n`,
    publicKey: pair.publicKey,
  };
}

/** An account made by the platform admin, with an `apns` section holding a fresh key (or none). */
async function account(apns?: { topics: string[]; environment?: "production" | "sandbox" }): Promise<Account> {
  const res = await api("/v1/admin/accounts", { method: "POST", json: { name: "APNs Co" }, key: env.ADMIN_API_KEY });
  const body = (await res.json()) as any;
  expect(res.status, JSON.stringify(body)).toBe(201);
  const key = await p8();
  const a: Account = { id: body.id, key: body.apiKey.key, teamId: appleId(), keyId: appleId(), ...key };
  if (apns) {
    const put = await api("/v1/push/apns", { method: "PUT", key: a.key, json: { keyId: a.keyId, teamId: a.teamId, key: a.pem, ...apns } });
    expect(put.status, await put.clone().text()).toBe(200);
  }
  return a;
}

const apns = (to: string, topic: string, extra: Record<string, unknown> = {}) => ({
  channel: "apns",
  to,
  topic,
  pushType: "alert",
  payload: { aps: { alert: "hi" } },
  ...extra,
});

async function accepted(a: Account, body: unknown): Promise<string> {
  const res = await send(body, { key: a.key });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  await waitForStatus(res.body.id, "accepted", a.key);
  return res.body.id as string;
}

/** Every item the bridge received for these ids, with the credential its batch gave it. */
function sentItems(calls: BridgeCall[], ids: string[]) {
  return calls.flatMap((call) =>
    call.items
      .filter((item) => ids.includes(item.id))
      .map((item) => ({ ...item, auth: item.credential === undefined ? undefined : call.credentials![item.credential] })),
  );
}

async function mints(a: Account): Promise<number> {
  const name = await providerTokenName(a.id, { key: a.pem, keyId: a.keyId, teamId: a.teamId });
  return env.TOKENS.get(env.TOKENS.idFromName(name)).mints();
}

describe("APNs with the account's own key", () => {
  it("A's notifications carry a token signed by A's key, B's by B's, never crossed; one token serves many sends", async () => {
    bridge = installBridge();
    const [a, b] = await Promise.all([
      account({ topics: ["com.a.app"] }),
      account({ topics: ["com.b.app", "com.b.other"], environment: "sandbox" }),
    ]);
    // Sent one after another (concurrent requests on one key share its rate lease), then awaited.
    const aIds: string[] = [];
    const bIds: string[] = [];
    for (const [to, ids, body] of [
      [a, aIds, apns(token("aa"), "com.a.app")],
      [b, bIds, apns(token("aa"), "com.b.app")],
      [a, aIds, apns(token("aa"), "com.a.app.voip", { pushType: "voip" })],
      [b, bIds, apns(token("aa"), "com.b.other")],
      [a, aIds, apns(token("aa"), "com.a.app", { sandbox: true })],
    ] as const) {
      const res = await send(body, { key: to.key });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      ids.push(res.body.id);
    }
    for (const id of aIds) await waitForStatus(id, "accepted", a.key);
    for (const id of bIds) await waitForStatus(id, "accepted", b.key);
    // Later sends, each alone in its batch: the token comes from the isolate's copy or TokenDO, not a new mint.
    aIds.push(await accepted(a, apns(token("aa"), "com.a.app")));
    bIds.push(await accepted(b, apns(token("aa"), "com.b.app")));

    for (const [owner, other, ids] of [
      [a, b, aIds],
      [b, a, bIds],
    ] as const) {
      const items = sentItems(bridge.calls, ids);
      expect(items.map((i) => i.id).sort()).toEqual([...ids].sort());
      const tokens = new Set(items.map((i) => i.auth?.token));
      expect(tokens.size, "one provider token for every send of the account").toBe(1);
      const [jwt] = [...tokens] as string[];
      for (const item of items) expect(item.auth).toEqual({ teamId: owner.teamId, keyId: owner.keyId, token: jwt });
      expect(decodeProtectedHeader(jwt)).toEqual({ alg: "ES256", kid: owner.keyId });
      const { payload } = await jwtVerify(jwt, owner.publicKey, { algorithms: ["ES256"] });
      expect(payload).toEqual({ iss: owner.teamId, iat: expect.any(Number) });
      expect(Math.abs(payload.iat! * 1000 - Date.now())).toBeLessThan(10 * 60_000);
      await expect(jwtVerify(jwt, other.publicKey)).rejects.toThrow();
      expect(await mints(owner)).toBe(1);
    }
    // The account's environment picks the origin; a message's own `sandbox` wins.
    const sandboxOf = (id: string) => sentItems(bridge.calls, [id])[0]!.sandbox;
    expect(aIds.map(sandboxOf)).toEqual([false, false, true, false]);
    expect(bIds.map(sandboxOf)).toEqual([true, true, true]);
  });

  it("a topic outside the account's topics is refused with 422 topic_not_allowed, nothing sent", async () => {
    bridge = installBridge();
    const [a, b] = await Promise.all([account({ topics: ["com.a.app"] }), account({ topics: ["com.b.app"] })]);
    for (const topic of ["com.b.app", "com.a.ap", "com.a.app.extension", "com.a.app2.voip"]) {
      const res = await send(apns(token("aa"), topic), { key: a.key });
      expect(res.status, topic).toBe(422);
      expect(res.body.error).toMatchObject({ code: "topic_not_allowed", details: [{ path: "topic" }] });
    }
    expect((await send(apns(token("aa"), "com.a.app"), { key: b.key })).body.error.code).toBe("topic_not_allowed");
    const ok = await accepted(a, apns(token("aa"), "com.a.app.push-type.liveactivity", { pushType: "liveactivity" }));
    // Only the allowed send reached the bridge.
    expect(bridge.calls.flatMap((c) => c.items).map((i) => i.id)).toEqual([ok]);
  });

  it("an account without an apns section sends through the deployment's key, as before: no credential, any topic", async () => {
    bridge = installBridge();
    const plain = await account();
    const id = await accepted(plain, apns(token("aa"), "com.anything.app"));
    const [call] = bridge.calls.filter((c) => c.items.some((i) => i.id === id));
    expect(call!.items.find((i) => i.id === id)).not.toHaveProperty("credential");
    expect(call!.items.find((i) => i.id === id)).not.toHaveProperty("sandbox");
  });

  it("a token APNs calls expired is replaced once by TokenDO and the retry carries the new one", async () => {
    bridge = installBridge();
    const a = await account({ topics: ["com.a.app"] });
    const res = await send(apns(token("ff"), "com.a.app"), { key: a.key });
    expect(res.status).toBe(202);
    await waitForStatus(res.body.id, "accepted", a.key);
    const [first, second] = sentItems(bridge.calls, [res.body.id]);
    expect(first!.auth!.token).not.toBe(second!.auth!.token);
    for (const item of [first!, second!]) await jwtVerify(item.auth!.token, a.publicKey);
    expect(await mints(a)).toBe(2);
    // Later sends keep the new token.
    const next = await accepted(a, apns(token("aa"), "com.a.app"));
    expect(sentItems(bridge.calls, [next])[0]!.auth!.token).toBe(second!.auth!.token);
  });

  it("a key that cannot sign fails the account's sends as configuration, without reaching the bridge", async () => {
    bridge = installBridge();
    const a = await account();
    const rsaLike = `-----BEGIN PRIVATE KEY-----\n${"A".repeat(64)}\n-----END PRIVATE KEY-----\n`;
    const put = await api("/v1/push/apns", {
      method: "PUT",
      key: a.key,
      json: { keyId: a.keyId, teamId: a.teamId, key: rsaLike, topics: ["com.a.app"] },
    });
    expect(put.status).toBe(200);
    const res = await send(apns(token("aa"), "com.a.app"), { key: a.key });
    const failed = await waitForStatus(res.body.id, "failed", a.key);
    expect(failed.events.at(-1).detail).toMatchObject({ reason: "configuration" });
    expect(bridge.calls.flatMap((c) => c.items).map((i) => i.id)).not.toContain(res.body.id);
  });
});
