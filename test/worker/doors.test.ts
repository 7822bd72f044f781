// The edge's signed doors (/v1/webhooks/bridge, /v1/inbound/email, /v1/inbound/sms) each take only
// bodies signed with their own key (doorSecret of WEBHOOK_SECRET), and a signed event may name any
// account but reaches only that account's messages.
import { env, SELF } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BRIDGE_APNS_PATH,
  BRIDGE_SMPP_PATH,
  BRIDGE_SMTP_PATH,
  EDGE_EMAIL_INBOUND_PATH,
  EDGE_EVENTS_PATH,
  EDGE_SMS_INBOUND_PATH,
} from "../../src/core/bridge.ts";
import { sha256Hex } from "../../src/core/bytes.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { ACCOUNT_A, ACCOUNT_B, API_KEY_B } from "../fixtures.ts";
import { installPushService } from "./push-service.ts";
import { BASE, api, getMessage, postEvents, send, waitForStatus, webpush } from "./helpers.ts";
import { waitFor } from "../wait.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

const EDGE_DOORS = [EDGE_EVENTS_PATH, EDGE_EMAIL_INBOUND_PATH, EDGE_SMS_INBOUND_PATH];
const ALL_DOORS = [...EDGE_DOORS, BRIDGE_APNS_PATH, BRIDGE_SMTP_PATH, BRIDGE_SMPP_PATH];

/** A body each edge door takes once its signature verifies (202, or 422 for mail to no bounce domain). */
const VALID_BODY: Record<string, () => unknown> = {
  [EDGE_EVENTS_PATH]: () => ({ events: [event(ACCOUNT_A, crypto.randomUUID(), "delivered")] }),
  [EDGE_EMAIL_INBOUND_PATH]: () => ({ to: "someone@example.org", from: "", raw: btoa("Subject: hi\r\n\r\nhello\r\n") }),
  [EDGE_SMS_INBOUND_PATH]: () => ({
    kind: "dlr",
    route: "smsc",
    smscId: crypto.randomUUID(),
    stat: "DELIVRD",
    from: "+14155550100",
    to: "+15005550006",
  }),
};

function event(account: string, messageId: string, type: string, id = crypto.randomUUID(), detail: Record<string, unknown> = {}) {
  return { id, account, messageId, type, occurredAt: new Date().toISOString(), provider: "bridge", detail };
}

/** POSTs `body` to `at`, signed with `key` (a door key, or anything else). */
async function postSigned(at: string, body: unknown, key: string): Promise<Response> {
  const raw = JSON.stringify(body);
  return SELF.fetch(`${BASE}${at}`, {
    method: "POST",
    headers: { ...(await signedHeaders(key, raw)), "content-type": "application/json" },
    body: raw,
  });
}

async function unlinked(key?: string): Promise<number> {
  const body = (await (await api("/v1/stats", { key })).json()) as any;
  return body.buckets.filter((b: any) => b.channel === "none").reduce((n: number, b: any) => n + (b.counts.unlinked ?? 0), 0);
}

describe("a signature is good at its own door only", () => {
  it.each(EDGE_DOORS)("signed for its own door, a body passes %s", async (door) => {
    const res = await postSigned(door, VALID_BODY[door]!(), await doorSecret(env.WEBHOOK_SECRET, door));
    expect([202, 422]).toContain(res.status);
  });

  const crossed = EDGE_DOORS.flatMap((at) => ALL_DOORS.filter((door) => door !== at).map((signedFor) => [signedFor, at] as const));
  it.each(crossed)("signed for %s → 401 at %s", async (signedFor, at) => {
    const res = await postSigned(at, VALID_BODY[at]!(), await doorSecret(env.WEBHOOK_SECRET, signedFor));
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error).toMatchObject({ code: "invalid_signature", message: "no signature matches" });
  });

  it.each(EDGE_DOORS)("signed with the platform secret itself → 401 at %s", async (at) => {
    const res = await postSigned(at, VALID_BODY[at]!(), env.WEBHOOK_SECRET);
    expect(res.status).toBe(401);
  });

  it("an event replayed from another door changes nothing; the door's own signature applies", async () => {
    const res = await send(await webpush("door-replay"));
    await waitForStatus(res.body.id, "accepted");
    const bounce = { events: [event(ACCOUNT_A, res.body.id, "bounced", "replayed-bounce", { class: "hard", reason: "token_invalid" })] };
    for (const door of [EDGE_SMS_INBOUND_PATH, EDGE_EMAIL_INBOUND_PATH, BRIDGE_APNS_PATH]) {
      expect((await postSigned(EDGE_EVENTS_PATH, bounce, await doorSecret(env.WEBHOOK_SECRET, door))).status).toBe(401);
    }
    // Posted after the refusals: once it has applied, anything enqueued before it would have too.
    expect((await postEvents([event(ACCOUNT_A, res.body.id, "delivered", "door-delivered")])).status).toBe(202);
    const delivered = await waitForStatus(res.body.id, "delivered");
    expect(delivered.events.map((e: any) => e.id)).not.toContain("replayed-bounce");
  });

  it("any Standard Webhooks sender given the door's key is accepted (the standardwebhooks package)", async () => {
    const res = await send(await webpush("door-standardwebhooks"));
    await waitForStatus(res.body.id, "accepted");
    const body = JSON.stringify({ events: [event(ACCOUNT_A, res.body.id, "delivered", "sw-delivered")] });
    const id = `msg_${crypto.randomUUID()}`;
    const at = new Date();
    const signature = new Webhook(await doorSecret(env.WEBHOOK_SECRET, EDGE_EVENTS_PATH)).sign(id, at, body);
    const posted = await SELF.fetch(`${BASE}${EDGE_EVENTS_PATH}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": signature,
      },
      body,
    });
    expect(posted.status).toBe(202);
    const delivered = await waitForStatus(res.body.id, "delivered");
    expect(delivered.events.at(-1)).toMatchObject({ id: "sw-delivered", provider: "bridge" });
  });
});

describe("the account a signed event names", () => {
  it("naming account B for account A's message reaches B's (empty) slot: A's message and suppressions are untouched", async () => {
    const body = await webpush("wrong-account");
    const res = await send(body);
    const message = await waitForStatus(res.body.id, "accepted");
    const before = await unlinked(API_KEY_B);
    const hardBounce = event(ACCOUNT_B, res.body.id, "bounced", "wrong-account-bounce", { class: "hard", reason: "token_invalid" });
    expect((await postEvents([hardBounce])).status).toBe(202);
    // The consumer looked for the message under B, found none and counted it there as unlinked.
    await waitFor(async () => (await unlinked(API_KEY_B)) === before + 1, "the event counted unlinked under account B");
    const after = await getMessage(res.body.id);
    expect(after.body.status).toBe("accepted");
    expect(after.body.events).toEqual(message.events);
    expect((await api(`/v1/suppressions/webpush/${await sha256Hex(body.to.endpoint)}`)).status).toBe(404);
    expect((await getMessage(res.body.id, API_KEY_B)).status).toBe(404);
    // The same event naming the message's own account applies: only the account kept it out.
    expect((await postEvents([{ ...hardBounce, id: "right-account-bounce", account: ACCOUNT_A }])).status).toBe(202);
    const bounced = await waitForStatus(res.body.id, "bounced");
    expect(bounced.events.map((e: any) => e.id)).toContain("right-account-bounce");
    expect(bounced.events.map((e: any) => e.id)).not.toContain("wrong-account-bounce");
  });
});
