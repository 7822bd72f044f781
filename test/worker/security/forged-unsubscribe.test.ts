/** Forged one-click unsubscribe links (forged-shared.ts). */
import { env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { signUnsubscribeToken } from "../../../src/core/email.ts";
import { api, BASE, json, unique } from "../helpers.ts";
import { pair, suppressedAmong, victims, waitSuppressed } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("signed unsubscribe links (HMAC under UNSUBSCRIBE_SECRET)", "unsubscribe", async () => {
  const [a, b] = await pair("Unsubscribe");
  const hit = victims("unsub");
  const claim = (recipient: string, account = a.id) => ({ account, recipient, messageId: crypto.randomUUID() });
  const token = (recipient: string, secret = env.UNSUBSCRIBE_SECRET, account = a.id) =>
    signUnsubscribeToken(secret, claim(recipient, account));
  const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const post = (t: string) =>
    SELF.fetch(`${BASE}/u/${t}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
  const witness = `unsub-witness-${unique()}@example.com`;
  const good = await token(witness);
  expect((await post(good)).status).toBe(200);
  await waitSuppressed(a, "email", witness);

  // The link carries no time (RFC 8058 links must keep working), so "stale" does not apply.
  return {
    makers: {
      wrong_key: async (i) => post(await token(hit[i]!, `forged-secret-${i}`)),
      bit_flip: async (i) => {
        const [payload, mac] = (await token(hit[i]!)).split(".");
        return post(`${payload}.${flipBase64(mac!, i)}`);
      },
      body_changed: async (i) => {
        const [, mac] = good.split(".");
        return post(`${b64url(JSON.stringify([a.id, hit[i]!, crypto.randomUUID()]))}.${mac}`);
      },
      cross_account: async (i) => {
        // A's token with its payload moved to account B.
        const [, mac] = (await token(hit[i]!)).split(".");
        return post(`${b64url(JSON.stringify([b.id, hit[i]!, crypto.randomUUID()]))}.${mac}`);
      },
      replay: () => post(good),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 400),
    duplicates: ["replay"],
    verify: async () => {
      const marker = `unsub-marker-${unique()}@example.com`;
      expect((await post(await token(marker))).status).toBe(200);
      await waitSuppressed(a, "email", marker);
      expect(await suppressedAmong(a, "email", hit)).toEqual([]);
      expect(await suppressedAmong(b, "email", hit)).toEqual([]);
      const listed = await json(await api("/v1/suppressions?channel=email&limit=100", { key: a.key }));
      expect(listed.body.data.map((s: { recipient: string }) => s.recipient).sort()).toEqual([marker, witness].sort());
    },
  };
});
