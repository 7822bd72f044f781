/** Forged Postmark webhooks (forged-shared.ts). */
import { expect } from "vitest";
import { unique } from "../helpers.ts";
import { configure, hook, messagesOf, pair, untouched, victims, waitSuppressed } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("Postmark (Basic credentials)", "postmark", async () => {
  const [a, b] = await pair("Postmark");
  const credsA = { webhookUsername: `u${unique()}`, webhookPassword: `p${unique()}${unique()}` };
  const credsB = { webhookUsername: `u${unique()}`, webhookPassword: `p${unique()}${unique()}` };
  await configure(a, "postmark", credsA);
  await configure(b, "postmark", credsB);
  const bounce = (to: string) =>
    JSON.stringify({
      RecordType: "Bounce",
      ID: Math.floor(Math.random() * 1e12),
      Type: "HardBounce",
      TypeCode: 1,
      Name: "Hard bounce",
      MessageID: crypto.randomUUID(),
      MessageStream: "outbound",
      Description: "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
      Details: "smtp;550 5.1.1 user unknown",
      Email: to,
      From: "sender@example.com",
      BouncedAt: new Date().toISOString(),
      Inactive: true,
      CanActivate: true,
      Subject: "Test subject",
      Metadata: {},
    });
  const basic = (u: string, p: string) => `Basic ${btoa(`${u}:${p}`)}`;
  const goodAuth = basic(credsA.webhookUsername, credsA.webhookPassword);
  const post = (account: string, raw: string, authorization?: string) =>
    hook("postmark", account, {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
    });
  const witness = `pm-witness-${unique()}@example.com`;
  const okBody = bounce(witness);
  expect((await post(a.id, okBody, goodAuth)).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const hit = victims("postmark");

  // Basic credentials cover no body and carry no time: "body changed" and "stale" do not apply.
  return {
    makers: {
      wrong_key: (i) => post(a.id, bounce(hit[i]!), basic(credsA.webhookUsername, `${credsA.webhookPassword}${i}`)),
      bit_flip: (i) => post(a.id, bounce(hit[i]!), `Basic ${flipBase64(goodAuth.slice(6), i)}`),
      no_credentials: (i) =>
        post(
          a.id,
          bounce(hit[i]!),
          [undefined, `Bearer ${credsA.webhookPassword}`, "Basic", `Basic ${btoa(credsA.webhookUsername)}`][i % 4],
        ),
      cross_account: (i) => post(b.id, bounce(hit[i]!), goodAuth),
      replay: () => post(a.id, okBody, goodAuth),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `pm-marker-${unique()}@example.com`;
      expect((await post(a.id, bounce(marker), goodAuth)).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});
