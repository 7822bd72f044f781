/** Forged Amazon SES notifications through SNS (forged-shared.ts). */
import { expect } from "vitest";
import type { SnsMessage } from "../../../src/webhooks/ses.ts";
import { unique } from "../helpers.ts";
import { installSns, SNS_CERT_URL, snsSign } from "../provider-signers.ts";
import { configure, hook, messagesOf, pair, restore, STALE, untouched, victims, waitSuppressed } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("Amazon SES through SNS (RSA signature, certificate from SNS's hosts)", "ses/sns", async () => {
  const sns = installSns();
  restore.push(sns.restore);
  const [a, b] = await pair("SES");
  const [topicA, topicB] = ["arn:aws:sns:us-east-1:123456789012:ses-a", "arn:aws:sns:us-east-1:123456789012:ses-b"];
  await configure(a, "ses", { topicArns: [topicA] });
  await configure(b, "ses", { topicArns: [topicB] });
  const bounce = (to: string) => ({
    eventType: "Bounce",
    bounce: {
      feedbackId: `0100-${unique()}`,
      bounceType: "Permanent",
      bounceSubType: "General",
      bouncedRecipients: [{ emailAddress: to, action: "failed", status: "5.1.1", diagnosticCode: "smtp; 550 5.1.1 user unknown" }],
      timestamp: new Date().toISOString(),
    },
    mail: { timestamp: new Date().toISOString(), messageId: `0100-${unique()}-000000`, source: "s@example.com", destination: [to] },
  });
  const note = (to: string, topic = topicA) => ({
    Type: "Notification" as const,
    MessageId: crypto.randomUUID(),
    TopicArn: topic,
    Message: JSON.stringify(bounce(to)),
    Timestamp: new Date().toISOString(),
  });
  const headers = { "content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification" };
  const post = (account: string, message: unknown) => hook("ses", account, { method: "POST", body: JSON.stringify(message), headers });
  const witness = `ses-witness-${unique()}@example.com`;
  const ok = await snsSign(note(witness));
  expect((await post(a.id, ok)).status).toBe(200);
  await waitSuppressed(a, "email", witness);
  const snapshot = await messagesOf(a);
  const hit = victims("ses");
  // A key of the forger's own, and a certificate URL that looks like SNS's but is not.
  const forger = (await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    false,
    ["sign"],
  )) as CryptoKeyPair;
  const { stringToSign } = await import("../../../src/webhooks/ses.ts");
  const forgedSign = async (message: ReturnType<typeof note>, certUrl = SNS_CERT_URL) => {
    const full = { ...message, SignatureVersion: "2", SigningCertURL: certUrl, Signature: "" } as SnsMessage;
    const raw = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", forger.privateKey, new TextEncoder().encode(stringToSign(full)));
    full.Signature = btoa(String.fromCharCode(...new Uint8Array(raw)));
    return full;
  };
  const fetchedBefore = sns.requests.length;

  return {
    makers: {
      wrong_key: async (i) => post(a.id, await forgedSign(note(hit[i]!))),
      bit_flip: async (i) => {
        const signed = await snsSign(note(hit[i]!));
        return post(a.id, { ...signed, Signature: flipBase64(signed.Signature, i) });
      },
      body_changed: async (i) =>
        post(a.id, { ...(await snsSign(note(`innocent-${i}@example.com`))), Message: JSON.stringify(bounce(hit[i]!)) }),
      // SNS signs Timestamp but sets no freshness rule; a timestamp moved after signing breaks the signature.
      stale: async (i) => {
        const signed = await snsSign(note(hit[i]!));
        return post(a.id, { ...signed, Timestamp: new Date(Date.now() - STALE * 1000).toISOString() });
      },
      foreign_cert: async (i) =>
        post(a.id, await forgedSign(note(hit[i]!), `https://sns.us-east-1.amazonaws.com.evil.example/forged-${i % 7}.pem`)),
      cross_account: async (i) => post(b.id, await snsSign(note(hit[i]!))),
      replay: () => post(a.id, ok),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      // Only SNS's own certificate URL was ever fetched (and once: it is cached).
      expect(sns.requests.slice(fetchedBefore).filter((u) => u !== SNS_CERT_URL)).toEqual([]);
      const marker = `ses-marker-${unique()}@example.com`;
      expect((await post(a.id, await snsSign(note(marker)))).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      await untouched(a, b, "email", hit, snapshot);
    },
  };
});
