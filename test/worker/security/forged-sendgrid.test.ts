/** Forged SendGrid event webhooks (forged-shared.ts). */
import { expect } from "vitest";
import { unique } from "../helpers.ts";
import { sendgridSigner } from "../provider-signers.ts";
import { configure, hook, messagesOf, now, pair, STALE, untouched, victims, waitSuppressed } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("SendGrid (ECDSA P-256 over timestamp + body)", "sendgrid", async () => {
  const [a, b] = await pair("SendGrid");
  const [signerA, signerB, stranger] = [await sendgridSigner(), await sendgridSigner(), await sendgridSigner()];
  await configure(a, "sendgrid", { webhookPublicKey: signerA.publicKey });
  await configure(b, "sendgrid", { webhookPublicKey: signerB.publicKey });
  const event = (email: string, type: string) => ({
    email,
    event: type,
    timestamp: now(),
    sg_event_id: `ev-${unique()}${unique()}`,
    sg_message_id: `sg${unique()}.filter0001`,
    ...(type === "bounce" ? { type: "bounce", status: "5.1.1", reason: "550 5.1.1 user unknown" } : {}),
  });
  const hit = victims("sendgrid");
  const body = (i: number) => JSON.stringify([event(hit[i]!, "bounce")]);
  const witness = `sg-witness-${unique()}@example.com`;
  const okBody = JSON.stringify([event(witness, "bounce")]);
  const okHeaders = await signerA.headers(okBody);
  expect((await hook("sendgrid", a.id, { method: "POST", body: okBody, headers: okHeaders })).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const post = (account: string, raw: string, headers: Record<string, string>) =>
    hook("sendgrid", account, { method: "POST", body: raw, headers });
  const SIG = "x-twilio-email-event-webhook-signature";

  return {
    makers: {
      wrong_key: async (i) => post(a.id, body(i), await stranger.headers(body(i))),
      bit_flip: async (i) => {
        const headers = await signerA.headers(body(i));
        return post(a.id, body(i), { ...headers, [SIG]: flipBase64(headers[SIG]!, i) });
      },
      body_changed: async (i) => {
        const raw = body(i);
        return post(a.id, raw.replace("5.1.1", "5.1.2"), await signerA.headers(raw));
      },
      stale: async (i) => post(a.id, body(i), await signerA.headers(body(i), now() - STALE)),
      cross_account: async (i) => post(b.id, body(i), await signerA.headers(body(i))),
      replay: () => post(a.id, okBody, okHeaders),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `sg-marker-${unique()}@example.com`;
      const markerBody = JSON.stringify([event(marker, "spamreport")]);
      expect((await post(a.id, markerBody, await signerA.headers(markerBody))).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});
