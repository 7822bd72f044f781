/** Forged requests at the bridge's doors (forged-shared.ts). */
import { env, SELF } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { expect } from "vitest";
import { EDGE_EMAIL_INBOUND_PATH, EDGE_EVENTS_PATH, EDGE_SMS_INBOUND_PATH, BRIDGE_APNS_PATH } from "../../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../../src/core/standard-webhooks.ts";
import { ACCOUNT_A } from "../../fixtures.ts";
import { BASE, eventsMarker, getMessage, send, waitForStatus, webpush } from "../helpers.ts";
import { installPushService } from "../push-service.ts";
import { restore, STALE } from "./forged-shared.ts";
import { flipSignature, forgeries } from "./forgery.ts";

forgeries("the bridge's doors (Standard Webhooks, door key derived from WEBHOOK_SECRET)", "bridge doors", async () => {
  const push = installPushService();
  restore.push(() => push.restore());
  const sent = await send(await webpush("forged-doors"));
  const target = sent.body.id as string;
  await waitForStatus(target, "accepted");
  const doors = [EDGE_EVENTS_PATH, EDGE_EMAIL_INBOUND_PATH, EDGE_SMS_INBOUND_PATH];
  const keys = Object.fromEntries(
    await Promise.all([...doors, BRIDGE_APNS_PATH].map(async (d) => [d, await doorSecret(env.WEBHOOK_SECRET, d)])),
  );
  const otherPlatform = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
  const bounce = (i: number) => ({
    events: [
      {
        id: `forged-${i}`,
        account: ACCOUNT_A,
        messageId: target,
        type: "bounced",
        occurredAt: new Date().toISOString(),
        provider: "bridge",
        detail: { class: "hard", reason: "token_invalid" },
      },
    ],
  });
  const bodies: Record<string, (i: number) => unknown> = {
    [EDGE_EVENTS_PATH]: bounce,
    [EDGE_EMAIL_INBOUND_PATH]: (i) => ({
      to: `bounce+${target}@bounces.lasthop.test`,
      from: "",
      raw: btoa(`Subject: forged ${i}\r\n\r\nx\r\n`),
    }),
    [EDGE_SMS_INBOUND_PATH]: (i) => ({
      kind: "dlr",
      route: "smsc",
      smscId: `forged-${i}`,
      stat: "UNDELIV",
      from: "+14155550100",
      to: "+15005550006",
    }),
  };
  const post = (door: string, raw: string, headers: Record<string, string>) =>
    SELF.fetch(`${BASE}${door}`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: raw });
  const doorOf = (i: number) => doors[i % 3]!;
  const signed = async (door: string, i: number, key = keys[door]!, at = Date.now()) => {
    const raw = JSON.stringify(bodies[door]!(i));
    return { raw, headers: await signedHeaders(key, raw, at) };
  };

  // The one genuine request: a delivered event, signed with the events door's key by the standardwebhooks package.
  const okRaw = JSON.stringify({
    events: [
      {
        id: "genuine-delivered",
        account: ACCOUNT_A,
        messageId: target,
        type: "delivered",
        occurredAt: new Date().toISOString(),
        provider: "bridge",
        detail: {},
      },
    ],
  });
  const id = `msg_${crypto.randomUUID()}`;
  const at = new Date();
  const okHeaders = {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(keys[EDGE_EVENTS_PATH]!).sign(id, at, okRaw),
  };
  expect((await post(EDGE_EVENTS_PATH, okRaw, okHeaders)).status).toBe(202);
  const before = (await waitForStatus(target, "delivered")).events.map((e: { id: string }) => e.id);

  return {
    makers: {
      wrong_key: async (i) => {
        const door = doorOf(i);
        const { raw, headers } = await signed(door, i, await doorSecret(otherPlatform, door));
        return post(door, raw, headers);
      },
      bit_flip: async (i) => {
        const { raw, headers } = await signed(doorOf(i), i);
        return post(doorOf(i), raw, { ...headers, "webhook-signature": flipSignature(headers["webhook-signature"], i) });
      },
      body_changed: async (i) => {
        const { raw, headers } = await signed(doorOf(i), i);
        return post(doorOf(i), raw.replace(/"(UNDELIV|bounced|Subject: forged)/, '"$1x').replace("forged", "forgeD"), headers);
      },
      stale: async (i) => {
        const { raw, headers } = await signed(doorOf(i), i, keys[doorOf(i)]!, Date.now() - STALE * 1000);
        return post(doorOf(i), raw, headers);
      },
      cross_door: async (i) => {
        // Signed for one door (an edge door or the bridge's own), posted to another.
        const at = doorOf(i);
        const from = [...doors, BRIDGE_APNS_PATH].filter((d) => d !== at)[i % 3]!;
        const { raw, headers } = await signed(at, i, keys[from]!);
        return post(at, raw, headers);
      },
      // No replay state at the doors: the event ids dedupe. Answered 202, changes nothing (checked below).
      replay: () => post(EDGE_EVENTS_PATH, okRaw, okHeaders),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      await eventsMarker(target);
      const after = (await getMessage(target)).body;
      expect(after.status).toBe("delivered");
      const ids = after.events.map((e: { id: string }) => e.id);
      expect(ids.filter((x: string) => !before.includes(x))).toEqual([expect.stringMatching(/^marker-/)]);
      expect(ids.filter((x: string) => x.startsWith("forged"))).toEqual([]);
    },
  };
});
