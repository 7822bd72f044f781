/** Forged Twilio status callbacks (forged-shared.ts). */
import { SELF } from "cloudflare:test";
import { expect } from "vitest";
import { twilioSignature } from "../../../src/core/sms/twilio.ts";
import { ACCOUNT_A, ACCOUNT_B, API_KEY_A, API_KEY_B } from "../../fixtures.ts";
import { eventsMarker, getMessage, send, waitForStatus } from "../helpers.ts";
import { installSms, TEST_TWILIO } from "../sms-fake.ts";
import { restore, suppressedAmong } from "./forged-shared.ts";
import { flipBase64, forgeries } from "./forgery.ts";

forgeries("Twilio (X-Twilio-Signature over the callback URL and the form)", "twilio", async () => {
  const fake = installSms();
  restore.push(() => fake.restore());
  const handset = `+1415${String(Date.now()).slice(-6)}1`;
  const sms = (to: string) => send({ channel: "sms", to, from: "+15005550006", body: "hi", route: "rest" });
  const [one, two] = [await sms(handset), await sms(`${handset.slice(0, -1)}2`)];
  await waitForStatus(one.body.id, "accepted");
  await waitForStatus(two.body.id, "accepted");
  const urlOf = (id: string) => fake.rest.find((c) => c.statusCallback.includes(id))!.statusCallback;
  const [url, otherUrl] = [urlOf(one.body.id), urlOf(two.body.id)];
  const crossAccount = url.replace(`account=${ACCOUNT_A}`, `account=${ACCOUNT_B}`);
  expect(crossAccount).not.toBe(url);
  const post = (to: string, params: Array<[string, string]>, signature: string) =>
    SELF.fetch(to, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
      body: new URLSearchParams(params).toString(),
    });
  const undelivered = (i: number): Array<[string, string]> => [
    ["MessageSid", `SMforged${i}`],
    ["MessageStatus", "undelivered"],
    ["ErrorCode", "30005"],
    ["AccountSid", TEST_TWILIO.accountSid],
  ];
  const good: Array<[string, string]> = [
    ["MessageSid", "SMgenuine"],
    ["MessageStatus", "delivered"],
    ["AccountSid", TEST_TWILIO.accountSid],
  ];
  const goodSignature = await twilioSignature(TEST_TWILIO.authToken, url, good);
  expect((await post(url, good, goodSignature)).status).toBe(204);
  const before = (await waitForStatus(one.body.id, "delivered")).events.map((e: { id: string }) => e.id);
  const sign = (params: Array<[string, string]>, at = url, token = TEST_TWILIO.authToken) => twilioSignature(token, at, params);

  return {
    makers: {
      wrong_key: async (i) => post(url, undelivered(i), await sign(undelivered(i), url, `forged-token-${i}`)),
      bit_flip: async (i) => post(url, undelivered(i), flipBase64(await sign(undelivered(i)), i)),
      body_changed: async (i) => {
        const signedFor = undelivered(i).map(([k, v]): [string, string] => (k === "MessageStatus" ? [k, "sent"] : [k, v]));
        return post(url, undelivered(i), await sign(signedFor));
      },
      cross_account: async (i) => post(crossAccount, undelivered(i), await sign(undelivered(i))),
      cross_door: async (i) => post(i % 2 ? url : otherUrl, undelivered(i), await sign(undelivered(i), i % 2 ? otherUrl : url)),
      replay: () => post(url, good, goodSignature),
    },
    refused: (res, kind) => (kind === "replay" ? false : res.status === 401),
    duplicates: ["replay"],
    verify: async () => {
      for (const id of [one.body.id, two.body.id]) await eventsMarker(id);
      const after = (await getMessage(one.body.id)).body;
      expect(after.status).toBe("delivered");
      expect(after.events.map((e: { id: string }) => e.id).filter((x: string) => !before.includes(x))).toEqual([
        expect.stringMatching(/^marker-/),
      ]);
      // No receipt came for it, so it expires after SMS_DLR_WAIT_SECONDS (4 s here); a forged "undelivered" would have bounced it.
      const other = (await getMessage(two.body.id)).body;
      expect(["accepted", "expired"]).toContain(other.status);
      expect(other.events.map((e: { type: string }) => e.type)).not.toContain("bounced");
      expect(await suppressedAmong({ key: API_KEY_A }, "sms", [handset])).toEqual([]);
      expect(await suppressedAmong({ key: API_KEY_B }, "sms", [handset])).toEqual([]);
    },
  };
});
