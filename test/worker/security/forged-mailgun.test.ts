/** Forged Mailgun webhooks (forged-shared.ts). */
import { expect } from "vitest";
import { unique } from "../helpers.ts";
import { mailgunSignature } from "../provider-signers.ts";
import { configure, hook, is, messagesOf, now, pair, STALE, untouched, victims, waitSuppressed } from "./forged-shared.ts";
import { flipHex, forgeries } from "./forgery.ts";

forgeries("Mailgun (HMAC of timestamp + token, each token once)", "mailgun", async () => {
  const [a, b] = await pair("Mailgun");
  const [keyA, keyB] = [`key-${unique()}${unique()}`, `key-${unique()}${unique()}`];
  await configure(a, "mailgun", { webhookSigningKey: keyA });
  await configure(b, "mailgun", { webhookSigningKey: keyB });
  const data = (to: string) => ({
    event: "failed",
    severity: "permanent",
    id: `mg-${unique()}`,
    timestamp: Date.now() / 1000,
    recipient: to,
    reason: "bounce",
    "delivery-status": { code: 550, message: "5.1.1 user unknown", description: "" },
    message: { headers: { "message-id": `${unique()}@mg.example.com` } },
  });
  const headers = { "content-type": "application/json" };
  const post = (account: string, payload: unknown) => hook("mailgun", account, { method: "POST", body: JSON.stringify(payload), headers });
  const witness = `mg-witness-${unique()}@example.com`;
  const ok = { signature: await mailgunSignature(keyA), "event-data": data(witness) };
  expect((await post(a.id, ok)).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const hit = victims("mailgun");

  return {
    makers: {
      wrong_key: async (i) => post(a.id, { signature: await mailgunSignature(`${keyA}-forged`), "event-data": data(hit[i]!) }),
      bit_flip: async (i) => {
        const signature = await mailgunSignature(keyA);
        return post(a.id, { signature: { ...signature, signature: flipHex(signature.signature, i) }, "event-data": data(hit[i]!) });
      },
      // Mailgun signs the token, not the body: a changed body can only ride on a token already used.
      body_changed: async (i) => post(a.id, { signature: ok.signature, "event-data": data(hit[i]!) }),
      stale: async (i) => post(a.id, { signature: await mailgunSignature(keyA, now() - STALE), "event-data": data(hit[i]!) }),
      cross_account: async (i) => post(b.id, { signature: await mailgunSignature(keyA), "event-data": data(hit[i]!) }),
      replay: () => post(a.id, ok),
    },
    refused: is(401),
    verify: async () => {
      const marker = `mg-marker-${unique()}@example.com`;
      expect((await post(a.id, { signature: await mailgunSignature(keyA), "event-data": data(marker) })).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});
