// SMS over a Vonage SMS API route, inside workerd: the send (a fake Vonage at vonage.test answering
// as Vonage does: HTTP 200, a status per part), failover onto it, and the signed receipt at
// /v1/webhooks/vonage/{account} that ends the message. The sandbox's Vonage is exercised in test/node.
import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { signature } from "../../src/core/sms/vonage-signature.ts";
import { TEST_SMS_REST_HOST, TEST_TWILIO } from "../fixtures.ts";
import { adminAccount, api, BASE, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";
import { vonageParams } from "./provider-signers.ts";

const VONAGE_HOST = "vonage.test";
const API_KEY = "abcd1234";
const API_SECRET = "vonage-api-secret-0123";
const SIGNATURE_SECRET = `vs-${crypto.randomUUID()}`;

type VonageCall = { params: Record<string, string> };

/** A fake Vonage (status 4 for any other API key) and a Twilio-style route answering `restStatus`. */
function installFakes(opts: { restStatus?: number } = {}) {
  const vonage: VonageCall[] = [];
  const rest: string[] = [];
  const realFetch = globalThis.fetch;
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    const url = new URL(request.url);
    if (url.hostname === VONAGE_HOST && url.pathname === "/sms/json") {
      const params = Object.fromEntries(new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer())));
      vonage.push({ params });
      if (params.api_key !== API_KEY)
        return Response.json({ "message-count": "1", messages: [{ status: "4", "error-text": "Bad Credentials" }] });
      return Response.json({
        "message-count": "1",
        messages: [
          {
            to: params.to,
            "message-id": `0C${crypto.randomUUID().replace(/-/g, "").slice(0, 14).toUpperCase()}`,
            status: "0",
            "remaining-balance": "15.53590000",
            "message-price": "0.03330000",
            network: "23410",
          },
        ],
      });
    }
    if (url.hostname === TEST_SMS_REST_HOST) {
      rest.push(new URLSearchParams(new TextDecoder().decode(await request.arrayBuffer())).get("StatusCallback") ?? "");
      return Response.json(
        { code: 20503, message: "Service Unavailable", status: opts.restStatus ?? 503 },
        { status: opts.restStatus ?? 503 },
      );
    }
    return realFetch(input as RequestInfo, init);
  });
  return { vonage, rest, restore: () => spy.mockRestore() };
}

let fakes: ReturnType<typeof installFakes>;
afterEach(() => fakes.restore());

const digits = () => String(Math.floor(Math.random() * 1e7)).padStart(7, "0");
const handset = () => `+1415${digits()}`;
const vonageRoute = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: "vonage",
  baseUrl: `https://${VONAGE_HOST}`,
  apiKey: API_KEY,
  apiSecret: API_SECRET,
  ...extra,
});
const restRoute = { name: "rest", type: "rest", baseUrl: `https://${TEST_SMS_REST_HOST}`, ...TEST_TWILIO };

/** An account whose SMS goes over `routes`, receipts checked with the Vonage signature secret; its sender. */
async function accountWith(routes: unknown[]): Promise<{ account: AdminAccount; sender: string }> {
  const account = await adminAccount(`Vonage ${unique()}`);
  const sender = `+1555${digits()}`;
  const settings = await json(await api("/v1/sms/settings", { method: "PUT", json: { routes, senders: [sender] }, key: account.key }));
  expect(settings.status, JSON.stringify(settings.body)).toBe(200);
  // Secrets come back masked (…last4), and a masked one sent back keeps the stored secret.
  expect(JSON.stringify(settings.body)).not.toContain(API_SECRET);
  expect(JSON.stringify(settings.body)).not.toContain(SIGNATURE_SECRET);
  const again = await json(await api("/v1/sms/settings", { method: "PUT", json: settings.body, key: account.key }));
  expect(again.status, JSON.stringify(again.body)).toBe(200);
  const provider = await json(
    await api("/v1/providers/vonage", {
      method: "PUT",
      json: { signatureSecret: SIGNATURE_SECRET, signatureMethod: "md5hash" },
      key: account.key,
    }),
  );
  expect(provider.status, JSON.stringify(provider.body)).toBe(200);
  return { account, sender };
}

/** Vonage's receipt for the message, signed, at the account's webhook. */
async function receipt(account: AdminAccount, call: VonageCall, messageId: string, status = "delivered", errCode = "0") {
  const params = await vonageParams(SIGNATURE_SECRET, {
    msisdn: call.params.to!,
    to: call.params.from!,
    "network-code": "23410",
    messageId,
    price: "0.03330000",
    status,
    scts: "2601011200",
    "err-code": errCode,
    "api-key": API_KEY,
    "message-timestamp": new Date().toISOString().slice(0, 19).replace("T", " "),
    "client-ref": call.params["client-ref"]!,
  });
  return SELF.fetch(`${BASE}/v1/webhooks/vonage/${account.id}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(params).toString(),
  });
}

describe("a Vonage route", () => {
  it("[vonage]: accepted with the route on the timeline; the signed receipt by client-ref ends it delivered", async () => {
    fakes = installFakes();
    const { account, sender } = await accountWith([vonageRoute("vonage")]);
    const to = handset();
    const res = await send({ channel: "sms", to, from: sender, body: "Your code is 123456" }, { key: account.key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const m = await waitForStatus(res.body.id, "accepted", account.key);
    expect(m.route).toBe("vonage");
    const accepted = m.events.find((e: { type: string }) => e.type === "accepted");
    expect(accepted.detail).toMatchObject({ route: "vonage", routeType: "vonage", providerMessageId: expect.stringMatching(/^0C/) });

    const call = fakes.vonage.find((c) => c.params["client-ref"] === res.body.id)!;
    expect(call.params).toMatchObject({
      api_key: API_KEY,
      api_secret: API_SECRET,
      to: to.slice(1),
      from: sender.slice(1),
      text: "Your code is 123456",
      type: "text",
      callback: `${BASE}/v1/webhooks/vonage/${account.id}`,
      "status-report-req": "1",
    });

    expect((await receipt(account, call, accepted.detail.providerMessageId)).status).toBe(200);
    const delivered = await waitForStatus(res.body.id, "delivered", account.key);
    expect(delivered.events.at(-1)).toMatchObject({ type: "delivered" });
  });

  it("[rest, vonage]: a 503 at the REST route passes the message to Vonage, which signs its send", async () => {
    fakes = installFakes({ restStatus: 503 });
    const { account, sender } = await accountWith([
      restRoute,
      vonageRoute("vonage", { apiSecret: undefined, signatureSecret: SIGNATURE_SECRET, signatureMethod: "md5hash" }),
    ]);
    const res = await send({ channel: "sms", to: handset(), from: sender, body: "Código 123456 ✓" }, { key: account.key });
    const m = await waitForStatus(res.body.id, "accepted", account.key);
    expect(m.route).toBe("vonage");
    const accepted = m.events.find((e: { type: string }) => e.type === "accepted");
    expect(accepted.detail).toMatchObject({ routeType: "vonage", failedOver: [{ route: "rest", reason: expect.any(String) }] });
    expect(fakes.rest.some((url) => url.includes(res.body.id))).toBe(true);

    const call = fakes.vonage.find((c) => c.params["client-ref"] === res.body.id)!;
    expect(call.params.api_secret).toBeUndefined();
    expect(call.params.type).toBe("unicode");
    expect(call.params.sig).toBe(await signature(call.params, SIGNATURE_SECRET, "md5hash"));

    expect((await receipt(account, call, accepted.detail.providerMessageId)).status).toBe(200);
    await waitForStatus(res.body.id, "delivered", account.key);
  });

  it("route:'vonage' takes the Vonage route only, never the REST route before it", async () => {
    fakes = installFakes();
    const { account, sender } = await accountWith([restRoute, vonageRoute("vonage")]);
    const res = await send({ channel: "sms", to: handset(), from: sender, body: "hi", route: "vonage" }, { key: account.key });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    const m = await waitForStatus(res.body.id, "accepted", account.key);
    expect(m.route).toBe("vonage");
    expect(m.events.find((e: { type: string }) => e.type === "accepted").detail.failedOver).toBeUndefined();
    expect(fakes.rest.some((url) => url.includes(res.body.id))).toBe(false);
  });

  it("[vonage with a wrong key, rest]: Vonage's status 4 (credentials) passes the message to the next route", async () => {
    fakes = installFakes({ restStatus: 201 });
    const { account, sender } = await accountWith([vonageRoute("vonage", { apiKey: "wrongkey" }), restRoute]);
    const res = await send({ channel: "sms", to: handset(), from: sender, body: "hi" }, { key: account.key });
    // The fake aggregator answers 201 with an error body: lasthop reads it as taken (no sid) on route rest.
    const m = await waitForStatus(res.body.id, "accepted", account.key);
    expect(m.route).toBe("rest");
    expect(m.events.find((e: { type: string }) => e.type === "accepted").detail.failedOver).toEqual([
      { route: "vonage", reason: "route_auth" },
    ]);
    expect(fakes.vonage.filter((c) => c.params["client-ref"] === res.body.id)).toHaveLength(1);
  });

  it("a receipt for a dead number (err-code 3) bounces the message hard", async () => {
    fakes = installFakes();
    const { account, sender } = await accountWith([vonageRoute("vonage")]);
    const res = await send({ channel: "sms", to: handset(), from: sender, body: "hi" }, { key: account.key });
    const m = await waitForStatus(res.body.id, "accepted", account.key);
    const call = fakes.vonage.find((c) => c.params["client-ref"] === res.body.id)!;
    const accepted = m.events.find((e: { type: string }) => e.type === "accepted");
    expect((await receipt(account, call, accepted.detail.providerMessageId, "failed", "3")).status).toBe(200);
    const bounced = await waitForStatus(res.body.id, "bounced", account.key);
    expect(bounced.events.at(-1).detail).toMatchObject({ class: "hard" });
  });
});
