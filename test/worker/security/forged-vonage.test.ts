/** Forged Vonage delivery receipts (forged-shared.ts). */
import { expect } from "vitest";
import { signature as vonageSignature } from "../../../src/webhooks/vonage.ts";
import { unique } from "../helpers.ts";
import { configure, hook, messagesOf, now, pair, STALE, untouched, waitSuppressed } from "./forged-shared.ts";
import { flipHex, forgeries } from "./forgery.ts";

forgeries("Vonage (`sig` over the sorted parameters, timestamp within 5 minutes)", "vonage", async () => {
  const [a, b] = await pair("Vonage");
  const [secretA, secretB] = [`vs${unique()}${unique()}`, `vs${unique()}${unique()}`];
  await configure(a, "vonage", { signatureSecret: secretA, signatureMethod: "md5hash" });
  await configure(b, "vonage", { signatureSecret: secretB, signatureMethod: "md5hash" });
  const numbers = Array.from({ length: 1000 }, (_, i) => `1555${String(Date.now() % 1000).padStart(3, "0")}${String(i).padStart(4, "0")}`);
  const receipt = (msisdn: string): Record<string, string> => ({
    msisdn,
    to: "AcmeInc",
    "network-code": "12345",
    messageId: `0A${unique()}${unique()}`,
    status: "failed",
    "err-code": "3",
    "message-timestamp": "2020-01-01 12:00:00",
  });
  const signed = async (params: Record<string, string>, secret = secretA, at = now()) => {
    const withTime = { ...params, timestamp: String(at) };
    return { ...withTime, sig: await vonageSignature(withTime, secret, "md5hash") };
  };
  const post = (account: string, params: Record<string, string>) =>
    hook("vonage", account, {
      method: "POST",
      body: new URLSearchParams(params).toString(),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  const witness = `1555${String(Date.now()).slice(-7)}`;
  const ok = await signed(receipt(witness));
  expect((await post(a.id, ok)).status).toBe(200);
  await waitSuppressed(a, "sms", `+${witness}`);
  const snapshot = await messagesOf(a);

  return {
    makers: {
      wrong_key: async (i) => post(a.id, await signed(receipt(numbers[i]!), `${secretA}x`)),
      bit_flip: async (i) => {
        const params = await signed(receipt(numbers[i]!));
        return post(a.id, { ...params, sig: flipHex(params.sig, i) });
      },
      body_changed: async (i) => post(a.id, { ...(await signed(receipt(numbers[i]!))), "err-code": "1" }),
      stale: async (i) => post(a.id, await signed(receipt(numbers[i]!), secretA, now() - STALE)),
      cross_account: async (i) => post(b.id, await signed(receipt(numbers[i]!))),
      replay: () => post(a.id, ok),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `1556${String(Date.now()).slice(-7)}`;
      expect((await post(a.id, await signed(receipt(marker)))).status).toBe(200);
      await waitSuppressed(a, "sms", `+${marker}`);
      await untouched(
        a,
        b,
        "sms",
        numbers.map((n) => `+${n}`),
        snapshot,
      );
    },
  };
});
