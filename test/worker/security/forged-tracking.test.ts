/** Forged tracking links (forged-shared.ts): a click door that redirects only for a token we signed. */
import { env, SELF } from "cloudflare:test";
import { expect } from "vitest";
import { signUnsubscribeToken } from "../../../src/core/email.ts";
import { signTrackingToken } from "../../../src/core/tracking.ts";
import { installBridge } from "../bridge-fake.ts";
import { api, BASE, getMessage, json, unique } from "../helpers.ts";
import { waitFor } from "../../wait.ts";
import { pair, restore } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("signed tracking links (HMAC under tracking's key from UNSUBSCRIBE_SECRET)", "tracking", async () => {
  const bridge = installBridge();
  restore.push(() => bridge.restore());
  const [a, b] = await pair("Tracking");
  const domain = `${unique()}.example`;
  const settings = { bounceDomain: `bounces.${domain}`, sendingDomains: [domain], relay: { mode: "direct" } };
  expect((await api("/v1/email/settings", { method: "PUT", json: settings, key: a.key })).status).toBe(200);
  const html = `<a href="https://${domain}/one">1</a> <a href="https://${domain}/two">2</a>`;
  const mail = { channel: "email", from: `news@${domain}`, to: `reader@${domain}`, subject: "Hi", html, tracking: { clicks: true } };
  const sent = await json(await api("/v1/messages", { method: "POST", json: mail, key: a.key }));
  expect(sent.status, JSON.stringify(sent.body)).toBe(202);
  const id = sent.body.id as string;
  const claim = (index: number, account = a.id) => ({ account, messageId: id, kind: "c" as const, index });
  const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const click = (token: string) => SELF.fetch(`${BASE}/t/c/${token}`, { redirect: "manual" });
  const clicks = async () =>
    ((await getMessage(id, a.key)).body.events as Array<{ type: string; detail: { link: number } }>).filter((e) => e.type === "clicked");

  const good = await signTrackingToken(env.UNSUBSCRIBE_SECRET, claim(0));
  const genuine = await click(good);
  expect([genuine.status, genuine.headers.get("location")]).toEqual([302, `https://${domain}/one`]);
  const [, goodMac] = good.split(".");

  return {
    makers: {
      wrong_key: async (i) => click(await signTrackingToken(`forged-secret-${i}`, claim(i % 2))),
      bit_flip: async (i) => {
        const [payload, mac] = (await signTrackingToken(env.UNSUBSCRIBE_SECRET, claim(1))).split(".");
        return click(`${payload}.${flipBase64(mac!, i)}`);
      },
      // The genuine mac on another link's index, or on an index the message never had.
      body_changed: (i) => click(`${b64url(JSON.stringify([a.id, id, "c", i % 2 === 0 ? 1 : 1000 + i]))}.${goodMac}`),
      cross_account: (i) => click(`${b64url(JSON.stringify([b.id, id, "c", i % 2]))}.${goodMac}`),
      // A genuine unsubscribe token (the same secret, another purpose) at the click door.
      cross_door: async (i) =>
        click(await signUnsubscribeToken(env.UNSUBSCRIBE_SECRET, { account: a.id, recipient: `x${i}@${domain}`, messageId: id })),
    },
    refused: (res) => res.status === 400 && res.headers.get("location") === null,
    verify: async () => {
      const marker = await click(await signTrackingToken(env.UNSUBSCRIBE_SECRET, claim(1)));
      expect([marker.status, marker.headers.get("location")]).toEqual([302, `https://${domain}/two`]);
      const recorded = await waitFor(async () => {
        const found = await clicks();
        return found.length >= 2 && found;
      }, "the genuine click and the marker");
      expect(recorded.map((e) => e.detail.link)).toEqual([0, 1]);
    },
  };
});
