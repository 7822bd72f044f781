// The APNs simulator checked with an independent client: node:http2 for the provider API and
// provider tokens signed by hand with node:crypto (ES256, JOSE r||s), nothing from src/ or bridge/.
import { createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, type ClientHttp2Session } from "node:http2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { generateApnsKey, type ApnsKeyMaterial } from "../../sandbox/keys.ts";
import { waitFor } from "../wait.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";

type Reply =
  | { ok: true; id: number; status: number; headers: Record<string, string | string[] | undefined>; body: string }
  | { ok: false; id: number; code: string; rstCode: number };
type PushOptions = {
  method?: string;
  path?: string;
  /** Extra or replaced request headers; undefined removes a default one. */
  headers?: Record<string, string | undefined>;
  body?: string | Buffer;
};

const HOLD_MS = 250;
const TOPIC = "com.example.lasthop";
const NOTIFICATION = JSON.stringify({ aps: { alert: { title: "Grüße", body: "你好 👋" }, sound: "default" }, orderId: 42 });

let sandbox: TestSandbox;
let ca: Buffer;
/** The key most tests sign with, registered through startSandbox({apnsKeys}). */
let mainKey: ApnsKeyMaterial;
/** One provider token for mainKey, reused as a real provider would (a new one would be an update). */
let mainToken: string;
const sessions: ClientHttp2Session[] = [];

const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  mainKey = generateApnsKey();
  sandbox = await startTestSandbox({
    holdMs: HOLD_MS,
    apnsKeys: [{ keyId: mainKey.keyId, teamId: mainKey.teamId, publicKeyPem: mainKey.publicKeyPem }],
  });
  ca = readFileSync(sandbox.caPath);
  mainToken = providerToken(mainKey, { iat: nowSeconds() - 5 });
});

afterAll(async () => {
  for (const session of sessions) session.destroy();
  await sandbox?.close();
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
});

afterEach(async () => {
  // Faults are one-shot, but a failed test must not leave one armed for the next.
  await control(sandbox, "POST", "/_sandbox/apns/faults", {});
});

async function received(): Promise<Array<Record<string, unknown>>> {
  const res = await control(sandbox, "GET", "/_sandbox/received?channel=apns");
  expect(res.status).toBe(200);
  return (await res.json()) as Array<Record<string, unknown>>;
}

async function deviceToken(name?: string): Promise<string> {
  const res = await control(sandbox, "POST", "/_sandbox/apns/tokens", name === undefined ? {} : { name });
  expect(res.status).toBe(201);
  return ((await res.json()) as { token: string }).token;
}

type Stats = { sessions: number; sessionsOpened: number; providerTokensSeen: number; tokenChanges: number };

async function stats(): Promise<Stats> {
  return (await (await control(sandbox, "GET", "/_sandbox/apns/stats")).json()) as Stats;
}

/** An APNs provider token: ES256 JWT {alg, kid} . {iss, iat}, signed with node:crypto. */
function providerToken(
  key: Pick<ApnsKeyMaterial, "keyId" | "teamId" | "privateKeyPem">,
  opts: { iat?: number; alg?: string; kid?: string; iss?: string; signer?: KeyObject } = {},
): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const signingInput = `${encode({ alg: opts.alg ?? "ES256", kid: opts.kid ?? key.keyId })}.${encode({ iss: opts.iss ?? key.teamId, iat: opts.iat ?? nowSeconds() })}`;
  const signer = opts.signer ?? createPrivateKey(key.privateKeyPem);
  const signature = sign("sha256", Buffer.from(signingInput), { key: signer, dsaEncoding: "ieee-p1363" });
  return `${signingInput}.${signature.toString("base64url")}`;
}

function openSession(): ClientHttp2Session {
  const session = connect(sandbox.apnsUrl, { ca });
  session.on("error", () => {});
  sessions.push(session);
  return session;
}

function push(session: ClientHttp2Session, token: string, opts: PushOptions = {}, authToken: string = mainToken): Promise<Reply> {
  const headers: Record<string, string> = {
    ":method": opts.method ?? "POST",
    ":path": opts.path ?? `/3/device/${token}`,
    authorization: `bearer ${authToken}`,
    "apns-topic": TOPIC,
    "apns-push-type": "alert",
    "apns-priority": "10",
  };
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return new Promise((resolve) => {
    // endStream: false so a GET sends its (empty) body like any other request.
    const req = session.request(headers, { endStream: false });
    req.setTimeout(10_000, () => req.close());
    let settled = false;
    const settle = (reply: Reply) => {
      if (!settled) resolve(reply);
      settled = true;
    };
    req.on("response", (responseHeaders) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () =>
        settle({
          ok: true,
          id: req.id ?? 0,
          status: Number(responseHeaders[":status"]),
          headers: responseHeaders,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
    });
    req.on("error", (error: NodeJS.ErrnoException) =>
      settle({ ok: false, id: req.id ?? 0, code: error.code ?? "ERR", rstCode: req.rstCode ?? -1 }),
    );
    req.on("close", () => settle({ ok: false, id: req.id ?? 0, code: "CLOSED", rstCode: req.rstCode ?? -1 }));
    req.end(opts.body ?? NOTIFICATION);
  });
}

function answered(reply: Reply): Extract<Reply, { ok: true }> {
  if (!reply.ok) throw new Error(`expected an answer, got ${reply.code} (RST ${reply.rstCode})`);
  return reply;
}

function reason(reply: Reply): string {
  return (JSON.parse(answered(reply).body) as { reason: string }).reason;
}

describe("APNs provider API", () => {
  it("accepts a valid push, echoes apns-id and records it", async () => {
    const session = openSession();
    const token = await deviceToken("alice");
    const apnsId = randomUUID().toUpperCase();
    const reply = answered(
      await push(session, token, { headers: { "apns-id": apnsId, "apns-expiration": "0", "apns-collapse-id": "order-42" } }),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers["apns-id"]).toBe(apnsId);
    expect(reply.body).toBe("");
    const entries = await received();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      channel: "apns",
      to: token,
      status: 200,
      outcome: "accepted",
      headers: {
        "apns-id": apnsId,
        "apns-topic": TOPIC,
        "apns-push-type": "alert",
        "apns-priority": "10",
        "apns-expiration": "0",
        "apns-collapse-id": "order-42",
      },
      payload: JSON.parse(NOTIFICATION),
    });
    expect(Number.isNaN(Date.parse(String(entries[0]?.at)))).toBe(false);
  });

  it("makes up a UUID apns-id when the request has none", async () => {
    const reply = answered(await push(openSession(), await deviceToken()));
    expect(reply.status).toBe(200);
    expect(reply.headers["apns-id"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
    expect((await received())[0]?.headers).toMatchObject({ "apns-id": null, "apns-expiration": null, "apns-collapse-id": null });
  });

  it("advertises SETTINGS_MAX_CONCURRENT_STREAMS and speaks h2 only", async () => {
    const session = openSession();
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(500);
    expect(session.alpnProtocol).toBe("h2");
  });

  it.each([
    ["no apns-topic", { "apns-topic": undefined }, "MissingTopic"],
    ["an unknown apns-push-type", { "apns-push-type": "banner" }, "InvalidPushType"],
    ["apns-priority 7", { "apns-priority": "7" }, "BadPriority"],
    ["a background push at priority 10", { "apns-push-type": "background", "apns-priority": "10" }, "BadPriority"],
    ["a non-numeric apns-expiration", { "apns-expiration": "tomorrow" }, "BadExpirationDate"],
    ["a negative apns-expiration", { "apns-expiration": "-1" }, "BadExpirationDate"],
    ["an apns-collapse-id over 64 bytes", { "apns-collapse-id": "é".repeat(33) }, "BadCollapseId"],
    ["an apns-id that is not a UUID", { "apns-id": "message-42" }, "BadMessageId"],
  ])("answers 400 for %s", async (_case, headers, expected) => {
    const reply = answered(await push(openSession(), await deviceToken(), { headers }));
    expect(reply.status).toBe(400);
    expect(reason(reply)).toBe(expected);
    expect(reply.headers["apns-id"]).toMatch(/^[0-9a-f-]{36}$/i);
    expect((await received()).map((entry) => [entry.status, entry.outcome])).toEqual([[400, "rejected"]]);
  });

  it("accepts a background push at priority 5 and a 64-byte apns-collapse-id", async () => {
    const session = openSession();
    const token = await deviceToken();
    const background = await push(session, token, {
      headers: { "apns-push-type": "background", "apns-priority": "5" },
      body: JSON.stringify({ aps: { "content-available": 1 } }),
    });
    expect(answered(background).status).toBe(200);
    expect(answered(await push(session, token, { headers: { "apns-collapse-id": "é".repeat(32) } })).status).toBe(200);
  });

  it("answers 405 for other methods and 404 for other paths, recording neither", async () => {
    const session = openSession();
    const token = await deviceToken();
    const get = answered(await push(session, token, { method: "GET", body: "" }));
    expect([get.status, reason(get)]).toEqual([405, "MethodNotAllowed"]);
    const elsewhere = answered(await push(session, token, { path: `/2/device/${token}` }));
    expect([elsewhere.status, reason(elsewhere)]).toEqual([404, "BadPath"]);
    expect(await received()).toEqual([]);
  });

  it("answers 400 BadDeviceToken for a token that is not hex", async () => {
    const reply = answered(await push(openSession(), "not-a-token"));
    expect([reply.status, reason(reply)]).toEqual([400, "BadDeviceToken"]);
    expect((await received()).map((entry) => entry.outcome)).toEqual(["bad-token"]);
  });

  describe("payload", () => {
    const sized = (bytes: number) => {
      const base = JSON.stringify({ aps: { alert: "" } });
      return JSON.stringify({ aps: { alert: "x".repeat(bytes - base.length) } });
    };

    it("accepts 4096 bytes and refuses 4097 with 413 PayloadTooLarge", async () => {
      const session = openSession();
      const token = await deviceToken();
      expect(Buffer.byteLength(sized(4096))).toBe(4096);
      expect(answered(await push(session, token, { body: sized(4096) })).status).toBe(200);
      const tooLarge = answered(await push(session, token, { body: sized(4097) }));
      expect([tooLarge.status, reason(tooLarge)]).toEqual([413, "PayloadTooLarge"]);
    });

    it("allows 5120 bytes for voip, not 5121", async () => {
      const session = openSession();
      const token = await deviceToken();
      const voip = { "apns-push-type": "voip", "apns-topic": `${TOPIC}.voip` };
      expect(answered(await push(session, token, { headers: voip, body: sized(5120) })).status).toBe(200);
      expect(answered(await push(session, token, { headers: voip, body: sized(5121) })).status).toBe(413);
      expect(answered(await push(session, token, { body: sized(5120) })).status).toBe(413);
    });

    it("answers 400 PayloadEmpty for an empty body or one that is not a JSON object", async () => {
      const session = openSession();
      const token = await deviceToken();
      for (const body of ["", "not json", "[1,2]"]) {
        const reply = answered(await push(session, token, { body }));
        expect([reply.status, reason(reply)]).toEqual([400, "PayloadEmpty"]);
      }
      expect((await received()).map((entry) => [entry.outcome, entry.payload])).toEqual([
        ["rejected", null],
        ["rejected", null],
        ["rejected", null],
      ]);
    });
  });

  describe("device token outcomes", () => {
    it("answers 410 Unregistered with a timestamp for bounce, every time", async () => {
      const session = openSession();
      const token = await deviceToken("bounce");
      const before = Date.now();
      for (let i = 0; i < 2; i++) {
        const reply = answered(await push(session, token));
        expect(reply.status).toBe(410);
        const body = JSON.parse(reply.body) as { reason: string; timestamp: number };
        expect(body.reason).toBe("Unregistered");
        expect(body.timestamp).toBeGreaterThanOrEqual(before);
        expect(body.timestamp).toBeLessThanOrEqual(Date.now());
      }
      expect((await received()).map((entry) => entry.outcome)).toEqual(["gone", "gone"]);
    });

    it("answers 400 BadDeviceToken for bad", async () => {
      const reply = answered(await push(openSession(), await deviceToken("bad")));
      expect([reply.status, reason(reply)]).toEqual([400, "BadDeviceToken"]);
      expect((await received()).map((entry) => entry.outcome)).toEqual(["bad-token"]);
    });

    it("throttles slow once with 429 TooManyRequests, then accepts", async () => {
      const session = openSession();
      const token = await deviceToken("slow");
      const first = answered(await push(session, token));
      expect([first.status, reason(first)]).toEqual([429, "TooManyRequests"]);
      expect(answered(await push(session, token)).status).toBe(200);
      expect((await received()).map((entry) => entry.outcome)).toEqual(["throttled", "accepted"]);
    });

    it("answers 503 ServiceUnavailable for down, always", async () => {
      const session = openSession();
      const token = await deviceToken("down");
      for (let i = 0; i < 2; i++) {
        const reply = answered(await push(session, token));
        expect([reply.status, reason(reply)]).toEqual([503, "ServiceUnavailable"]);
      }
      expect((await received()).map((entry) => entry.outcome)).toEqual(["unavailable", "unavailable"]);
    });

    it("holds hold for holdMs before answering 200", async () => {
      const started = Date.now();
      expect(answered(await push(openSession(), await deviceToken("hold"))).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(HOLD_MS - 20);
    });
  });

  describe("provider tokens", () => {
    it("answers 403 MissingProviderToken without authorization", async () => {
      const reply = answered(await push(openSession(), await deviceToken(), { headers: { authorization: undefined } }));
      expect([reply.status, reason(reply)]).toEqual([403, "MissingProviderToken"]);
    });

    it.each([
      ["signed by another key", () => providerToken(mainKey, { signer: generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey })],
      ["with an unknown kid", () => providerToken(mainKey, { kid: "ZZZZZZZZZZ" })],
      ["with another team as iss", () => providerToken(mainKey, { iss: "OTHERTEAM1" })],
      ["with alg other than ES256", () => providerToken(mainKey, { alg: "ES384" })],
      ["issued 10 minutes in the future", () => providerToken(mainKey, { iat: nowSeconds() + 600 })],
      ["that is not a JWT", () => "not.a-jwt"],
    ])("answers 403 InvalidProviderToken for a token %s", async (_case, makeToken) => {
      const reply = answered(await push(openSession(), await deviceToken(), {}, makeToken()));
      expect([reply.status, reason(reply)]).toEqual([403, "InvalidProviderToken"]);
      expect(await received()).toEqual([]);
    });

    it("answers 403 ExpiredProviderToken for a token issued over an hour ago", async () => {
      const reply = answered(await push(openSession(), await deviceToken(), {}, providerToken(mainKey, { iat: nowSeconds() - 3601 })));
      expect([reply.status, reason(reply)]).toEqual([403, "ExpiredProviderToken"]);
      expect(await received()).toEqual([]);
    });

    it("answers 429 TooManyProviderTokenUpdates for a new token within 20 minutes, until expire-tokens", async () => {
      // A key of its own, registered at run time, so its update history starts here.
      const key = generateApnsKey();
      const registered = await control(sandbox, "POST", "/_sandbox/apns/keys", {
        keyId: key.keyId,
        teamId: key.teamId,
        publicKeyPem: key.publicKeyPem,
      });
      expect(registered.status).toBe(201);
      const session = openSession();
      const device = await deviceToken();
      const before = await stats();

      const first = providerToken(key, { iat: nowSeconds() - 1 });
      expect(answered(await push(session, device, {}, first)).status).toBe(200);
      // The same claims at another second make another token: an update 0 minutes after the first.
      const second = providerToken(key, { iat: nowSeconds() - 2 });
      expect(second).not.toBe(first);
      const tooSoon = answered(await push(session, device, {}, second));
      expect([tooSoon.status, reason(tooSoon)]).toEqual([429, "TooManyProviderTokenUpdates"]);
      expect(answered(await push(session, device, {}, first)).status).toBe(200);

      expect((await control(sandbox, "POST", "/_sandbox/apns/expire-tokens")).status).toBe(204);
      const expired = answered(await push(session, device, {}, first));
      expect([expired.status, reason(expired)]).toEqual([403, "ExpiredProviderToken"]);
      // Told its token expired, the provider may change it at once.
      const third = providerToken(key, { iat: nowSeconds() - 3 });
      expect(answered(await push(session, device, {}, third)).status).toBe(200);
      expect(answered(await push(session, device, {}, third)).status).toBe(200);
      // ...but only once: the next change is again too soon.
      const fourth = providerToken(key, { iat: nowSeconds() - 4 });
      expect(answered(await push(session, device, {}, fourth)).status).toBe(429);

      const after = await stats();
      expect(after.tokenChanges - before.tokenChanges).toBe(1);
      expect(after.providerTokensSeen - before.providerTokensSeen).toBe(4);
      // Only the four 200s passed authentication.
      expect((await received()).map((entry) => entry.status)).toEqual([200, 200, 200, 200]);

      // expire-tokens retired every key's tokens, the main one's too: it may change once now.
      mainToken = providerToken(mainKey, { iat: nowSeconds() - 6 });
      // On a connection of its own: this one carried the other team's tokens, and APNs takes one team per connection.
      expect(answered(await push(openSession(), device)).status).toBe(200);
    });

    it("counts token updates per connection: a provider that restarts (new connection, new token) is not refused", async () => {
      const key = generateApnsKey();
      expect(
        (await control(sandbox, "POST", "/_sandbox/apns/keys", { keyId: key.keyId, teamId: key.teamId, publicKeyPem: key.publicKeyPem }))
          .status,
      ).toBe(201);
      const device = await deviceToken();
      const before = await stats();
      const first = openSession();
      expect(answered(await push(first, device, {}, providerToken(key, { iat: nowSeconds() - 1 }))).status).toBe(200);
      // The restarted provider: its own connection and a token signed now, minutes inside the first's 20.
      const restarted = openSession();
      const fresh = providerToken(key, { iat: nowSeconds() - 2 });
      expect(answered(await push(restarted, device, {}, fresh)).status).toBe(200);
      // On that connection the token is still held to the rule: another one at once is an update too soon.
      const tooSoon = answered(await push(restarted, device, {}, providerToken(key, { iat: nowSeconds() - 3 })));
      expect([tooSoon.status, reason(tooSoon)]).toEqual([429, "TooManyProviderTokenUpdates"]);
      expect((await stats()).tokenChanges - before.tokenChanges).toBe(0);
    });

    it("refuses a key registration whose PEM is not P-256", async () => {
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" });
      const res = await control(sandbox, "POST", "/_sandbox/apns/keys", { keyId: "ABCDEFGHIJ", teamId: "TEAM123456", publicKeyPem: rsa });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: "invalid_key" } });
    });
  });

  describe("connections", () => {
    it("multiplexes 50 concurrent streams on one session", async () => {
      const session = openSession();
      const tokens = await Promise.all(Array.from({ length: 50 }, () => deviceToken()));
      const replies = await Promise.all(tokens.map((token) => push(session, token)));
      expect(replies.map((reply) => answered(reply).status)).toEqual(Array(50).fill(200));
      expect(new Set(replies.map((reply) => reply.id)).size).toBe(50);
      expect(new Set((await received()).map((entry) => entry.to))).toEqual(new Set(tokens));
    });

    it("goawayAfter: answers streams up to the GOAWAY's last stream id, refuses the rest, then closes", async () => {
      const session = openSession();
      const tokens = await Promise.all(Array.from({ length: 10 }, () => deviceToken("hold")));
      expect((await control(sandbox, "POST", "/_sandbox/apns/faults", { goawayAfter: 5 })).status).toBe(200);
      const goaway = new Promise<[number, number]>((resolve) =>
        session.once("goaway", (code, lastStreamId) => resolve([code, lastStreamId])),
      );
      const closed = new Promise((resolve) => session.once("close", resolve));

      const replies = await Promise.all(tokens.map((token) => push(session, token)));

      const [code, lastStreamId] = await goaway;
      expect(code).toBe(0);
      const ids = replies.map((reply) => reply.id);
      expect(lastStreamId).toBe(ids[4]);
      const [kept, refused] = [replies.slice(0, 5), replies.slice(5)];
      expect(kept.map((reply) => answered(reply).status)).toEqual(Array(5).fill(200));
      for (const reply of refused) {
        expect(reply.ok).toBe(false);
        // RST_STREAM / GOAWAY semantics: REFUSED_STREAM (0x7), safe to retry on another connection.
        if (!reply.ok) expect(reply.rstCode).toBe(7);
      }
      await closed;
      expect(new Set((await received()).map((entry) => entry.to))).toEqual(new Set(tokens.slice(0, 5)));

      // The fault was one-shot: a new connection works normally.
      expect(answered(await push(openSession(), await deviceToken())).status).toBe(200);
    });

    it("goawayEvery: every n-th request sends GOAWAY on its connection, again and again, until faults change", async () => {
      expect((await control(sandbox, "POST", "/_sandbox/apns/faults", { goawayEvery: 3 })).status).toBe(200);
      let goaways = 0;
      const open = () => {
        const session = openSession();
        session.once("goaway", () => (goaways += 1));
        return session;
      };
      let session = open();
      const statuses: number[] = [];
      for (let i = 1; i <= 7; i++) {
        statuses.push(answered(await push(session, await deviceToken())).status);
        if (i % 3 === 0) {
          // The GOAWAY names this request as the last stream: it is answered, the connection is done.
          await waitFor(() => goaways === i / 3, `a GOAWAY after request ${i}`);
          session = open();
        }
      }
      expect(statuses).toEqual(Array(7).fill(200));
      expect(goaways).toBe(2);
      // Cleared: a connection carries any number of requests again (a GOAWAY would refuse the later ones).
      expect((await control(sandbox, "POST", "/_sandbox/apns/faults", {})).status).toBe(200);
      const quiet = openSession();
      for (let i = 0; i < 4; i++) expect(answered(await push(quiet, await deviceToken())).status).toBe(200);
    });

    it("destroyAfter: drops the connection mid-flight and records none of its unanswered pushes", async () => {
      const before = await stats();
      const session = openSession();
      const first = await deviceToken();
      expect(answered(await push(session, first)).status).toBe(200);
      const held = await Promise.all(Array.from({ length: 3 }, () => deviceToken("hold")));
      expect((await control(sandbox, "POST", "/_sandbox/apns/faults", { destroyAfter: 3 })).status).toBe(200);
      const closed = new Promise((resolve) => session.once("close", resolve));
      let goaway = false;
      session.once("goaway", () => (goaway = true));

      const replies = await Promise.all(held.map((token) => push(session, token)));
      expect(replies.every((reply) => !reply.ok)).toBe(true);
      await closed;
      expect(goaway).toBe(false);
      const after = await stats();
      expect(after.sessionsOpened - before.sessionsOpened).toBe(1);
      // Past the hold time too: a held push on a new session, answered, outlived their holds
      // (theirs started first). They were never answered, so never recorded.
      const marker = await deviceToken("hold");
      expect(answered(await push(openSession(), marker)).status).toBe(200);
      expect((await received()).map((entry) => entry.to)).toEqual([first, marker]);
    });
  });

  describe("control API", () => {
    it("mints 32-byte device tokens whose bytes start with the name", async () => {
      const bounce = await deviceToken("bounce");
      expect(bounce).toMatch(/^[0-9a-f]{64}$/);
      expect(Buffer.from(bounce, "hex").subarray(0, 6).toString("latin1")).toBe("bounce");
      expect(await deviceToken()).toMatch(/^[0-9a-f]{64}$/);
      const tooLong = await control(sandbox, "POST", "/_sandbox/apns/tokens", { name: "x".repeat(25) });
      expect(tooLong.status).toBe(400);
    });

    it("reports sessions and provider tokens in stats", async () => {
      const before = await stats();
      const session = openSession();
      expect(answered(await push(session, await deviceToken())).status).toBe(200);
      const during = await stats();
      expect(during.sessionsOpened - before.sessionsOpened).toBe(1);
      expect(during.sessions).toBeGreaterThanOrEqual(1);
      expect(during).toMatchObject({ providerTokensSeen: expect.any(Number), tokenChanges: expect.any(Number) });
      const closed = new Promise((resolve) => session.once("close", resolve));
      session.close();
      await closed;
      // The client's close comes first; the sandbox counts it when its side sees it.
      await waitFor(async () => (await stats()).sessions === during.sessions - 1, "the sandbox to count the session closed");
    });

    it("rejects fault counts that are not positive integers", async () => {
      expect((await control(sandbox, "POST", "/_sandbox/apns/faults", { goawayAfter: 0 })).status).toBe(400);
      expect((await control(sandbox, "POST", "/_sandbox/apns/faults", { destroyAfter: "3" })).status).toBe(400);
    });
  });
});
