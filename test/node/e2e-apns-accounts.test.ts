// Two accounts, each with its own APNs key, end to end: the platform admin creates them,
// each puts its .p8 key in its apns section, and their sends go wrangler dev → TokenDO (the
// provider token) → send-push queue → bridge → the sandbox APNs, which verifies every token like
// Apple and records the team that sent each push. A's pushes arrive as A's team, B's as B's.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApnsKey, type ApnsKeyMaterial } from "../../sandbox/keys.ts";
import { waitFor } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

const ADMIN_KEY = `admin-${randomBytes(16).toString("hex")}`;
let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack({ vars: { ADMIN_API_KEY: ADMIN_KEY } });
});
afterAll(async () => stack?.stop());

type Account = { id: string; key: string; apns: ApnsKeyMaterial; topic: string };

async function call(path: string, key: string, init: { method?: string; json?: unknown } = {}) {
  const res = await fetch(`${stack.workerUrl}${path}`, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    ...(init.json !== undefined ? { body: JSON.stringify(init.json) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => null)) as any };
}

async function account(topic: string): Promise<Account> {
  const made = await call("/v1/admin/accounts", ADMIN_KEY, { method: "POST", json: { name: topic } });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  const apns = generateApnsKey();
  await stack.sandboxPost("/_sandbox/apns/keys", { keyId: apns.keyId, teamId: apns.teamId, publicKeyPem: apns.publicKeyPem });
  const a: Account = { id: made.body.id, key: made.body.apiKey.key, apns, topic };
  const put = await call("/v1/push/apns", a.key, {
    method: "PUT",
    json: { keyId: apns.keyId, teamId: apns.teamId, key: apns.privateKeyPem, topics: [topic], environment: "sandbox" },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
  return a;
}

async function sendAccepted(a: Account, to: string): Promise<string> {
  const sent = await call("/v1/messages", a.key, {
    method: "POST",
    json: { channel: "apns", to, topic: a.topic, pushType: "alert", payload: { aps: { alert: a.topic } } },
  });
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
  let seen: unknown;
  await waitFor(
    async () => {
      seen = (await call(`/v1/messages/${sent.body.id}`, a.key)).body?.status;
      return seen === "accepted";
    },
    () => `message ${sent.body.id} to be accepted (it is ${String(seen)})`,
  );
  return sent.body.id as string;
}

describe("APNs with two accounts' own keys, end to end", () => {
  it("each account's pushes reach the sandbox signed by its own team, with one token per account", async () => {
    const [a, b] = [await account("com.acme.app"), await account("com.bravo.app")];
    const before = (await stack.sandboxGet("/_sandbox/apns/stats")) as { tokenChanges: number; acceptedByTeam: Record<string, number> };
    const device = async (name: string) => (await stack.sandboxPost("/_sandbox/apns/tokens", { name })).token as string;
    const sends: Array<[Account, string]> = [];
    for (const [owner, name] of [
      [a, "a1"],
      [b, "b1"],
      [a, "a2"],
      [b, "b2"],
    ] as const) {
      const to = await device(name);
      await sendAccepted(owner, to);
      sends.push([owner, to]);
    }
    const arrivals = (await stack.sandboxGet("/_sandbox/received?channel=apns")) as Array<{
      to: string;
      status: number;
      credential?: { teamId: string; keyId: string };
    }>;
    for (const [owner, to] of sends) {
      const arrived = arrivals.filter((r) => r.to === to);
      expect(arrived.map((r) => [r.status, r.credential])).toEqual([[200, { teamId: owner.apns.teamId, keyId: owner.apns.keyId }]]);
    }
    const after = (await stack.sandboxGet("/_sandbox/apns/stats")) as typeof before;
    expect(after.acceptedByTeam[a.apns.teamId]).toBe(2);
    expect(after.acceptedByTeam[b.apns.teamId]).toBe(2);
    // Each key's second send reused its first token: no update, so no TooManyProviderTokenUpdates.
    expect(after.tokenChanges).toBe(before.tokenChanges);
    // A topic of the other account is refused at the door.
    const crossed = await call("/v1/messages", a.key, {
      method: "POST",
      json: { channel: "apns", to: await device("x"), topic: b.topic, pushType: "alert", payload: { aps: {} } },
    });
    expect([crossed.status, crossed.body.error.code]).toEqual([422, "topic_not_allowed"]);
  });
});
