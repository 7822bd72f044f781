// The request bodies every system under test receives, built once so all of them get the same bytes.
import { createHmac, randomUUID } from "node:crypto";
import type { PushSubscriptionJson } from "../sandbox/webpush.ts";

/**
 * What a page would show: a small notification, about the size real ones are. `run` and `n`
 * make every push of a run distinct, so arrivals can be matched to sends one by one.
 */
export function notification(run: string, n: number): string {
  return JSON.stringify({
    title: "Your order has shipped",
    body: "Order #48213 left the warehouse and arrives Thursday.",
    url: "https://shop.example/orders/48213",
    run,
    n,
  });
}

/** The `POST /v1/messages` body for one web push. */
export function webpushSend(to: PushSubscriptionJson, run: string, n: number): string {
  return JSON.stringify({ channel: "webpush", to, payload: notification(run, n), ttl: 3600, urgency: "normal" });
}

export type SignedRequest = { eventId: string; headers: Record<string, string>; body: string };

/**
 * Standard-Webhooks-signed `{events:[one canonical event]}` bodies, each with its own webhook-id,
 * event id and signature, made before the clock starts (signing is the sender's cost, not ours).
 * Signed with node:crypto rather than src/core, so the edge's verify meets a signer it did not write;
 * `secret` is the door's key (`doorSecret` of the platform secret for /v1/webhooks/bridge).
 * Events point round-robin at `messageIds`, so the consumer applies them to real messages.
 */
export function signedEventPool(secret: string, size: number, account: string, messageIds: string[]): SignedRequest[] {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const timestamp = String(Math.floor(Date.now() / 1000));
  const pool: SignedRequest[] = [];
  for (let i = 0; i < size; i++) {
    const eventId = `bench-${randomUUID()}`;
    const body = JSON.stringify({
      events: [
        {
          id: eventId,
          account,
          messageId: messageIds[i % messageIds.length],
          type: "delivered",
          occurredAt: new Date().toISOString(),
          provider: "bench",
          detail: { note: "benchmark event" },
        },
      ],
    });
    const id = `msg_${randomUUID()}`;
    const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
    const headers = {
      "webhook-id": id,
      "webhook-timestamp": timestamp,
      "webhook-signature": `v1,${signature}`,
      "content-type": "application/json",
    };
    pool.push({ eventId, body, headers });
  }
  return pool;
}
