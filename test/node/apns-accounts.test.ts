// Two accounts' own APNs keys through the real bridge to the sandbox APNs (HTTP/2 over TLS):
// tokens minted the way the edge's TokenDO mints them (src/core/apns-token.ts) travel in the
// batch as credentials; the sandbox verifies each like Apple and says which team sent what.
// The bridge's own key still serves items without a credential.
import { readFileSync } from "node:fs";
import { connect } from "node:http2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startBridge, type Bridge } from "../../bridge/src/app.ts";
import { Http2Pool } from "../../bridge/src/apns/pool.ts";
import { signProviderToken } from "../../src/core/apns-token.ts";
import { BRIDGE_APNS_PATH, type ApnsCredential } from "../../src/core/bridge.ts";
import { generateApnsKey, type ApnsKeyMaterial } from "../../sandbox/keys.ts";
import { KEY_ID, makeApnsKey, signedPost, TEAM_ID, testConfig } from "./apns-fixture.ts";
import { control, startTestSandbox, type TestSandbox } from "./fixtures/sandbox.ts";
import { waitFor } from "../wait.ts";

let sandbox: TestSandbox;
let bridge: Bridge;
let a: ApnsKeyMaterial;
let b: ApnsKeyMaterial;
let credentialA: ApnsCredential;
let credentialB: ApnsCredential;

type Result = { id: string; kind: string; detail: Record<string, unknown> };
type Arrival = { to: string; status: number; credential?: { teamId: string; keyId: string }; headers: Record<string, string | null> };
type Stats = { sessions: number; sessionsOpened: number; acceptedByTeam: Record<string, number>; tokenChanges: number };

const credential = async (key: ApnsKeyMaterial): Promise<ApnsCredential> => {
  const { token, keyId, teamId } = await signProviderToken({ key: key.privateKeyPem, keyId: key.keyId, teamId: key.teamId }, Date.now());
  return { token, keyId, teamId };
};

async function deviceToken(name: string): Promise<string> {
  return ((await (await control(sandbox, "POST", "/_sandbox/apns/tokens", { name })).json()) as { token: string }).token;
}

async function stats(): Promise<Stats> {
  return (await (await control(sandbox, "GET", "/_sandbox/apns/stats")).json()) as Stats;
}

async function arrivals(): Promise<Arrival[]> {
  return (await (await control(sandbox, "GET", "/_sandbox/received?channel=apns")).json()) as Arrival[];
}

function item(to: string, topic: string, credentialIndex?: number) {
  return {
    id: crypto.randomUUID(),
    token: to,
    topic,
    pushType: "alert",
    payload: { aps: { alert: topic } },
    ...(credentialIndex !== undefined ? { credential: credentialIndex } : {}),
  };
}

async function sendBatch(body: unknown): Promise<Result[]> {
  const res = await signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, body);
  expect(res.status, await res.clone().text()).toBe(200);
  return ((await res.json()) as { results: Result[] }).results;
}

beforeAll(async () => {
  a = generateApnsKey();
  b = generateApnsKey();
  const deployment = makeApnsKey();
  sandbox = await startTestSandbox();
  for (const key of [a, b]) {
    const res = await control(sandbox, "POST", "/_sandbox/apns/keys", {
      keyId: key.keyId,
      teamId: key.teamId,
      publicKeyPem: key.publicKeyPem,
    });
    expect(res.status).toBe(201);
  }
  const publicKeyPem = deployment.publicKey.export({ format: "pem", type: "spki" }).toString();
  expect((await control(sandbox, "POST", "/_sandbox/apns/keys", { keyId: KEY_ID, teamId: TEAM_ID, publicKeyPem })).status).toBe(201);
  bridge = await startBridge(testConfig({ origin: sandbox.apnsUrl, caPem: readFileSync(sandbox.caPath, "utf8") }, deployment.pem));
  [credentialA, credentialB] = await Promise.all([credential(a), credential(b)]);
});

afterAll(async () => {
  await bridge?.close();
  await sandbox?.close();
});

beforeEach(async () => {
  expect((await control(sandbox, "DELETE", "/_sandbox/received")).status).toBe(204);
});

describe("APNs with accounts' own keys, bridge → sandbox", () => {
  it("each account's items are delivered under its own team; the bridge's key serves the rest; one batch, no connection mixes teams", async () => {
    const before = await stats();
    const tokens = await Promise.all(["a1", "b1", "a2", "b2", "dep"].map(deviceToken));
    const [a1, b1, a2, b2, dep] = tokens as [string, string, string, string, string];
    const results = await sendBatch({
      credentials: [credentialA, credentialB],
      items: [
        item(a1, "com.a.app", 0),
        item(b1, "com.b.app", 1),
        item(a2, "com.a.app", 0),
        item(b2, "com.b.app", 1),
        item(dep, "com.dep.app"),
      ],
    });
    expect(results.map((r) => r.kind)).toEqual(["accepted", "accepted", "accepted", "accepted", "accepted"]);
    const byDevice = new Map((await arrivals()).map((r) => [r.to, r]));
    const teamOf = (to: string) => byDevice.get(to)?.credential;
    expect([a1, a2].map(teamOf)).toEqual([
      { teamId: a.teamId, keyId: a.keyId },
      { teamId: a.teamId, keyId: a.keyId },
    ]);
    expect([b1, b2].map(teamOf)).toEqual([
      { teamId: b.teamId, keyId: b.keyId },
      { teamId: b.teamId, keyId: b.keyId },
    ]);
    expect(teamOf(dep)).toEqual({ teamId: TEAM_ID, keyId: KEY_ID });
    const after = await stats();
    expect(after.acceptedByTeam[a.teamId]! - (before.acceptedByTeam[a.teamId] ?? 0)).toBe(2);
    expect(after.acceptedByTeam[b.teamId]! - (before.acceptedByTeam[b.teamId] ?? 0)).toBe(2);
    // The sandbox refuses a second team on a connection (below); all five were accepted, so the
    // bridge opened sessions per credential.
    expect(after.sessionsOpened - before.sessionsOpened).toBeGreaterThanOrEqual(3);
  });

  it("the same tokens serve later batches: no token change, so no TooManyProviderTokenUpdates", async () => {
    const before = await stats();
    for (let round = 0; round < 3; round++) {
      const [x, y] = await Promise.all([deviceToken(`a-${round}`), deviceToken(`b-${round}`)]);
      const results = await sendBatch({
        credentials: [credentialB, credentialA],
        items: [item(x, "com.a.app", 1), item(y, "com.b.app", 0)],
      });
      expect(results.map((r) => r.kind)).toEqual(["accepted", "accepted"]);
    }
    expect((await stats()).tokenChanges).toBe(before.tokenChanges);
    const teams = (await arrivals()).map((r) => r.credential?.teamId);
    expect(teams.filter((t) => t === a.teamId)).toHaveLength(3);
    expect(teams.filter((t) => t === b.teamId)).toHaveLength(3);
  });

  it("a key the sandbox does not know is 403 InvalidProviderToken: the item fails as configuration, the others still go", async () => {
    const stranger = await credential(generateApnsKey());
    const [x, y] = await Promise.all([deviceToken("stranger"), deviceToken("friend")]);
    const results = await sendBatch({ credentials: [stranger, credentialA], items: [item(x, "com.x.app", 0), item(y, "com.a.app", 1)] });
    expect(results[0]).toMatchObject({
      kind: "failed",
      detail: { status: 403, apnsReason: "InvalidProviderToken", reason: "configuration" },
    });
    expect(results[1]!.kind).toBe("accepted");
  });

  it("a batch whose credential's token names another team or key is refused (400) before anything is sent", async () => {
    const to = await deviceToken("forged");
    const forged = { ...credentialA, teamId: b.teamId };
    const res = await signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, { credentials: [forged], items: [item(to, "com.a.app", 0)] });
    expect(res.status).toBe(400);
    const dangling = await signedPost(`${bridge.url}${BRIDGE_APNS_PATH}`, {
      credentials: [credentialA],
      items: [item(to, "com.a.app", 1)],
    });
    expect(dangling.status).toBe(400);
    expect(await arrivals()).toEqual([]);
  });

  it("the sandbox, like APNs, takes no second team's token on one connection", async () => {
    const session = connect(sandbox.apnsUrl, { ca: readFileSync(sandbox.caPath) });
    session.on("error", () => {});
    const to = await deviceToken("mixed");
    const push = (jwt: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": `/3/device/${to}`,
          authorization: `bearer ${jwt}`,
          "apns-topic": "com.a.app",
          "apns-push-type": "alert",
        });
        let status = 0;
        let body = "";
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.on("data", (chunk: Buffer) => (body += chunk.toString()));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end(JSON.stringify({ aps: { alert: "x" } }));
      });
    try {
      expect((await push(credentialA.token)).status).toBe(200);
      const mixed = await push(credentialB.token);
      expect(mixed.status).toBe(403);
      expect(JSON.parse(mixed.body)).toEqual({ reason: "InvalidProviderToken" });
    } finally {
      session.destroy();
    }
  });

  it("an account's session idle past partitionIdleMs is closed; an unpartitioned one stays open", async () => {
    const pool = new Http2Pool({
      sessionsPerOrigin: 1,
      requestTimeoutMs: 5_000,
      pingIntervalMs: 0,
      ca: readFileSync(sandbox.caPath, "utf8"),
      partitionIdleMs: 100,
    });
    const before = await stats();
    try {
      const to = await deviceToken("idle");
      const headers = (jwt: string) => ({ authorization: `bearer ${jwt}`, "apns-topic": "com.a.app", "apns-push-type": "alert" });
      const body = JSON.stringify({ aps: { alert: "x" } });
      const answers = await Promise.all([
        pool.request(sandbox.apnsUrl, `/3/device/${to}`, headers(credentialA.token), body, `${a.teamId}.${a.keyId}`),
        pool.request(sandbox.apnsUrl, `/3/device/${to}`, headers(credentialB.token), body),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 200]);
      expect(pool.sessionCounts()).toEqual({ [sandbox.apnsUrl]: 2 });
      await waitFor(() => pool.sessionCounts()[sandbox.apnsUrl] === 1, "the account's idle session to close");
      await waitFor(async () => (await stats()).sessions === before.sessions + 1, "the sandbox to see one session left");
    } finally {
      await pool.close();
    }
  });
});
