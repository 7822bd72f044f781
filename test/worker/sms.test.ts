import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { twilioSignature } from "../../src/core/sms/twilio.ts";
import { API_KEY_B, API_KEY_C } from "../fixtures.ts";
import { dlr, installSms, postInboundSms, TEST_TWILIO } from "./sms-fake.ts";
import { waitFor } from "../wait.ts";
import { api, BASE, eventsMarker, getMessage, json, send, waitForStatus } from "./helpers.ts";

let fake: ReturnType<typeof installSms>;
afterEach(() => fake.restore());

let n = 0;
/** A fresh handset per test (suppressions are per number), ending in the given four digits. */
const handset = (last4 = "4321") => `+1415${String(100 + n++).padStart(3, "0")}${last4}`;
const sms = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "sms",
  to,
  from: "+15005550006",
  body: "Your code is 123456",
  ...extra,
});

async function smscIdsOf(id: string): Promise<string[]> {
  const m = await waitForStatus(id, "accepted");
  return m.receipts.map((r: { smscId: string }) => r.smscId);
}

async function twilioPost(url: string, params: Record<string, string>, opts: { token?: string; signature?: string } = {}) {
  const entries = Object.entries(params);
  const signature = opts.signature ?? (await twilioSignature(opts.token ?? TEST_TWILIO.authToken, url, entries));
  return SELF.fetch(url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature },
    body: new URLSearchParams(entries).toString(),
  });
}

describe("SMS over SMPP (through the bridge)", () => {
  it("reports segments before queueing, records the SMSC id and ends delivered on the receipt", async () => {
    fake = installSms();
    const res = await send(sms(handset(), { body: "€".repeat(81) }));
    expect(res.status).toBe(202);
    // 81 euro signs are 162 septets (each escaped): over 160, so two parts of at most 153.
    expect(res.body).toMatchObject({ status: "queued", segments: 2, encoding: "gsm7" });
    const [smscId] = await smscIdsOf(res.body.id);
    const item = fake.smpp.find((i) => i.id === res.body.id)!;
    expect(item).toMatchObject({ route: "smsc", from: "+15005550006", body: "€".repeat(81) });
    expect(item.reference).toBeGreaterThanOrEqual(0);
    const message = await getMessage(res.body.id);
    expect(message.body).toMatchObject({ route: "smpp", providerMessageId: smscId });
    const posted = await postInboundSms(dlr(smscId!, "DELIVRD", { doneAt: "2026-11-22T08:30:00.000Z" }));
    expect(posted.status).toBe(202);
    expect(await posted.json()).toMatchObject({ outcome: "applied" });
    const delivered = await waitForStatus(res.body.id, "delivered");
    expect(delivered.events.at(-1)).toMatchObject({ type: "delivered", occurredAt: "2026-11-22T08:30:00.000Z", provider: "smpp" });
    // A replayed receipt changes nothing.
    expect(await (await postInboundSms(dlr(smscId!, "DELIVRD"))).json()).toMatchObject({ outcome: "duplicate" });
  });

  it("a 3-part message is delivered only after all three receipts; one UNDELIV part bounces it", async () => {
    fake = installSms();
    const ok = await send(sms(handset("7777")));
    const ids = await smscIdsOf(ok.body.id);
    expect(ids).toHaveLength(3);
    await postInboundSms(dlr(ids[0]!, "DELIVRD"));
    await postInboundSms(dlr(ids[2]!, "DELIVRD"));
    // No wait: a receipt is applied before /v1/inbound/sms answers.
    const partial = await getMessage(ok.body.id);
    expect(partial.body.status).toBe("accepted");
    expect(partial.body.receipts.map((r: { stat?: string }) => r.stat ?? null)).toEqual(["DELIVRD", null, "DELIVRD"]);
    await postInboundSms(dlr(ids[1]!, "DELIVRD"));
    await waitForStatus(ok.body.id, "delivered");

    const bad = await send(sms(handset("7777")));
    const badIds = await smscIdsOf(bad.body.id);
    await postInboundSms(dlr(badIds[0]!, "DELIVRD"));
    await postInboundSms(dlr(badIds[1]!, "UNDELIV", { err: "001" }));
    const bounced = await waitForStatus(bad.body.id, "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({ class: "hard", reason: "undeliv", err: "001" });
  });

  it("a receipt that outruns its submit_sm_resp is parked and applied when the mapping lands", async () => {
    let early: unknown;
    fake = installSms({
      beforeAnswer: async (_item, smscIds) => {
        // Read inside the consumer's context: workerd ties a body to the context that made it.
        early = await (await postInboundSms(dlr(smscIds[0]!, "DELIVRD"))).json();
      },
    });
    const res = await send(sms(handset()));
    await waitFor(async () => early);
    expect(early).toMatchObject({ outcome: "parked" });
    const delivered = await waitForStatus(res.body.id, "delivered");
    expect(delivered.receipts).toEqual([expect.objectContaining({ stat: "DELIVRD" })]);
  });

  it("UNDELIV hard-bounces and suppresses the number; the next send is refused without a submit", async () => {
    fake = installSms();
    const to = handset("0000");
    const res = await send(sms(to));
    const [smscId] = await smscIdsOf(res.body.id);
    await postInboundSms(dlr(smscId!, "UNDELIV", { err: "001" }));
    await waitForStatus(res.body.id, "bounced");
    await waitFor(async () => (await api(`/v1/suppressions/sms/${encodeURIComponent(to)}`)).status === 200);
    const again = await send(sms(to));
    expect(again.body).toMatchObject({ status: "suppressed", reason: "hard_bounce" });
  });

  it("no receipt at all: the message stays accepted, then expires after SMS_DLR_WAIT_SECONDS", async () => {
    fake = installSms();
    const res = await send(sms(handset()));
    const accepted = await waitForStatus(res.body.id, "accepted");
    // The API says receipts are advisory: it tells when it stops waiting for one.
    expect(Date.parse(accepted.receiptDeadline) - Date.parse(accepted.updatedAt)).toBeGreaterThan(3000);
    const expired = await waitForStatus(res.body.id, "expired");
    expect(expired.receiptDeadline).toBeUndefined();
    expect(expired.events.at(-1).detail).toMatchObject({ reason: "no_delivery_receipt" });
  });

  it("a receipt for a sender no account owns is refused as not ours; a bad signature changes nothing", async () => {
    fake = installSms();
    const stranger = await postInboundSms(dlr("42", "DELIVRD", { to: "+19999999999", route: "elsewhere" }));
    expect(stranger.status).toBe(422);
    const forged = await postInboundSms(dlr("42", "DELIVRD"), `whsec_${btoa("not-the-secret-at-all!!")}`);
    expect(forged.status).toBe(401);
    const bad = await postInboundSms({ kind: "dlr", route: "smsc", smscId: "1", stat: "MAYBE", from: "", to: "" });
    expect(bad.status).toBe(400);
  });
});

describe("routing and failover", () => {
  it("fails over to the REST route when every SMPP bind is down, and records the route that carried it", async () => {
    fake = installSms({ smppDown: true });
    const res = await send(sms(handset()));
    const m = await waitForStatus(res.body.id, "accepted");
    expect(m.route).toBe("rest");
    expect(m.events.find((e: { type: string }) => e.type === "accepted").detail).toMatchObject({
      routeType: "rest",
      failedOver: [{ route: "smpp", reason: "route_down" }],
    });
    const call = fake.rest.find((c) => c.statusCallback.includes(res.body.id))!;
    expect(call.auth).toBe(`Basic ${btoa(`${TEST_TWILIO.accountSid}:${TEST_TWILIO.authToken}`)}`);
    expect(new URL(call.statusCallback).searchParams.get("route")).toBe("rest");
  });

  it("a message the SMPP route may have submitted stays on that route: never submitted on two", async () => {
    fake = installSms();
    const res = await send(sms(handset("8888")));
    const deferred = await waitForStatus(res.body.id, "deferred");
    expect(deferred.route).toBe("smpp");
    // Retries keep going to SMPP (the queue retries quickly in tests), never to REST.
    await waitFor(async () => fake.smpp.filter((i) => i.id === res.body.id).length >= 2);
    expect(fake.rest.some((c) => c.statusCallback.includes(res.body.id))).toBe(false);
  });

  it("route:'rest' goes to REST only; an account without such a route gets 422; a foreign sender 422", async () => {
    fake = installSms();
    const res = await send(sms(handset(), { route: "rest" }));
    expect((await waitForStatus(res.body.id, "accepted")).route).toBe("rest");
    expect(fake.smpp.some((i) => i.id === res.body.id)).toBe(false);
    const noRoute = await send({ ...sms(handset(), { route: "smpp" }), from: "+15005550007" }, { key: API_KEY_B });
    expect(noRoute.status).toBe(422);
    expect(noRoute.body.error.code).toBe("route_not_configured");
    const foreign = await send(sms(handset(), { from: "+15005559999" }));
    expect(foreign.status).toBe(422);
    expect(foreign.body.error).toMatchObject({ code: "sender_not_allowed", details: [{ path: "from" }] });
  });

  it("a dead number at the REST API bounces and suppresses; a 500 is ambiguous and keeps the message on that route", async () => {
    fake = installSms();
    const dead = await send(sms(handset("0001"), { route: "rest" }));
    const bounced = await waitForStatus(dead.body.id, "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({ errorCode: 21614, class: "hard" });
    fake.restore();
    // Account B has only REST: 500s are ambiguous (maybe submitted), so the message retries there.
    fake = installSms({ restStatus: 500 });
    const res = await send({ ...sms(handset()), from: "+15005550007" }, { key: API_KEY_B });
    const deferred = await waitForStatus(res.body.id, "deferred", API_KEY_B);
    expect(deferred.events.at(-1).detail).toMatchObject({ status: 500, submitted: "maybe", route: "rest" });
  });
});

describe("REST first, SMPP second (account C)", () => {
  it("503 passes the message to SMPP; three 5xx in a row open the circuit and the next skips REST", async () => {
    fake = installSms({ restStatus: 503 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await send({ ...sms(handset()), from: "+15005550008" }, { key: API_KEY_C });
      const m = await waitForStatus(res.body.id, "accepted", API_KEY_C);
      expect(m.route).toBe("smpp");
      expect(m.events.find((e: { type: string }) => e.type === "accepted").detail.failedOver).toEqual([
        { route: "rest", reason: expect.any(String) },
      ]);
      ids.push(res.body.id);
    }
    // Only account C's calls: messages of earlier tests may still be retrying on their routes.
    const restOfC = () => fake.rest.filter((c) => c.statusCallback.includes("account=acct-c")).length;
    const restCalls = restOfC();
    expect(restCalls).toBe(3);
    const next = await send({ ...sms(handset()), from: "+15005550008" }, { key: API_KEY_C });
    const m = await waitForStatus(next.body.id, "accepted", API_KEY_C);
    expect(m.events.find((e: { type: string }) => e.type === "accepted").detail.failedOver).toEqual([
      { route: "rest", reason: "circuit_open" },
    ]);
    expect(restOfC()).toBe(restCalls);
    // The circuit lives in the account's CircuitDO, so every isolate sees it; the API shows it.
    const routes = await json(await api("/v1/routes", { key: API_KEY_C }));
    expect(routes.body.sms).toEqual([
      { name: "rest", type: "rest", circuit: { state: "open", failures: 3, openedAt: expect.any(String) } },
      { name: "smpp", type: "smpp", circuit: { state: "closed", failures: 0 } },
    ]);
    // Each went out once, on SMPP only.
    for (const id of [...ids, next.body.id]) expect(fake.smpp.filter((i) => i.id === id)).toHaveLength(1);
  });
});

describe("REST status callbacks and MO (X-Twilio-Signature)", () => {
  it("a signed callback moves the message; a forged or replayed one changes nothing", async () => {
    fake = installSms();
    const res = await send(sms(handset(), { route: "rest" }));
    await waitForStatus(res.body.id, "accepted");
    const url = fake.rest.find((c) => c.statusCallback.includes(res.body.id))!.statusCallback;
    const params = {
      MessageSid: "SM0123",
      SmsSid: "SM0123",
      AccountSid: TEST_TWILIO.accountSid,
      MessageStatus: "delivered",
      ApiVersion: "2010-04-01",
    };
    const forged = await twilioPost(url, params, { token: "someone-elses-token-000000" });
    expect(forged.status).toBe(401);
    const tampered = await twilioPost(
      url,
      { ...params, MessageStatus: "undelivered" },
      { signature: await twilioSignature(TEST_TWILIO.authToken, url, Object.entries(params)) },
    );
    expect(tampered.status).toBe(401);
    await eventsMarker(res.body.id); // what the refused callbacks would have queued was handled before it
    expect((await getMessage(res.body.id)).body.status).toBe("accepted");
    expect((await twilioPost(url, params)).status).toBe(204);
    const delivered = await waitForStatus(res.body.id, "delivered");
    expect((await twilioPost(url, params)).status).toBe(204);
    await eventsMarker(res.body.id); // the replayed callback was handled before it
    const after = await getMessage(res.body.id);
    expect(after.body.events.filter((e: { type: string }) => e.type === "delivered")).toHaveLength(1);
    expect(delivered.events.at(-1).detail).toMatchObject({ sid: "SM0123", route: "rest" });
  });

  it("undelivered with 30005 (unknown handset) bounces hard and suppresses", async () => {
    fake = installSms();
    const to = handset();
    const res = await send(sms(to, { route: "rest" }));
    await waitForStatus(res.body.id, "accepted");
    const url = fake.rest.find((c) => c.statusCallback.includes(res.body.id))!.statusCallback;
    await twilioPost(url, { MessageSid: "SM9", MessageStatus: "undelivered", ErrorCode: "30005" });
    const bounced = await waitForStatus(res.body.id, "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({ errorCode: 30005, class: "hard" });
    await waitFor(async () => (await api(`/v1/suppressions/sms/${encodeURIComponent(to)}`)).status === 200);
  });

  it("STOP over REST suppresses the pair and confirms once; START lifts it; HELP answers with the account's text", async () => {
    fake = installSms();
    const from = handset();
    const moUrl = `${BASE}/v1/webhooks/twilio?account=acct-a&route=rest`;
    const stop = await twilioPost(moUrl, {
      MessageSid: "SMmo1",
      From: from,
      To: "+15005550006",
      Body: "  stop ",
      AccountSid: TEST_TWILIO.accountSid,
    });
    expect(stop.status).toBe(200);
    expect(await stop.text()).toContain("<Response>");
    // The confirmation goes out (past the opt-out) and the pair is suppressed.
    await waitFor(async () => fake.smpp.find((i) => i.to === from && i.body.includes("unsubscribed")));
    const blocked = await send(sms(from));
    expect(blocked.body).toMatchObject({ status: "suppressed", reason: "sms_stop" });
    // Another sender of the account still reaches them: the opt-out is per sender.
    const other = await send(sms(from, { from: "12345" }));
    expect(other.body.status).toBe("queued");
    // A replayed webhook replies no second time.
    await twilioPost(moUrl, { MessageSid: "SMmo1", From: from, To: "+15005550006", Body: "  stop ", AccountSid: TEST_TWILIO.accountSid });

    await twilioPost(moUrl, { MessageSid: "SMmo2", From: from, To: "+15005550006", Body: "Start" });
    await waitFor(async () => fake.smpp.find((i) => i.to === from && i.body.includes("resubscribed")));
    // The START reply is the marker: a second STOP reply to the replay would have gone out before it.
    expect(fake.smpp.filter((i) => i.to === from && i.body.includes("unsubscribed"))).toHaveLength(1);
    expect((await send(sms(from))).body.status).toBe("queued");

    await twilioPost(moUrl, { MessageSid: "SMmo3", From: from, To: "+15005550006", Body: "aide" });
    await waitFor(async () => fake.smpp.find((i) => i.to === from && i.body === "ACME alerts: reply STOP to stop."));
    const inbox = (await (await api("/v1/sms/inbound?limit=10")).json()) as any;
    expect(inbox.data.filter((m: { from: string }) => m.from === from).map((m: { keyword: string }) => m.keyword)).toEqual([
      "help",
      "start",
      "stop",
    ]);
  });

  it("MO over SMPP (from the bridge): STOP without a + is understood, a message that merely contains stop is not", async () => {
    fake = installSms();
    const from = handset();
    const receivedAt = new Date().toISOString();
    const res = await postInboundSms({ kind: "mo", route: "smsc", from: from.slice(1), to: "15005550006", body: "STOP", receivedAt });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ outcome: "recorded", keyword: "stop" });
    await waitFor(async () => (await api(`/v1/suppressions/sms/${encodeURIComponent(`${from}:+15005550006`)}`)).status === 200);
    const replay = await postInboundSms({ kind: "mo", route: "smsc", from: from.slice(1), to: "15005550006", body: "STOP", receivedAt });
    expect(await replay.json()).toMatchObject({ outcome: "duplicate" });
    const chat = await postInboundSms({ kind: "mo", route: "smsc", from, to: "+15005550006", body: "please stop texting me", receivedAt });
    expect(await chat.json()).toMatchObject({ outcome: "recorded", keyword: null });
    const notOurs = await postInboundSms({ kind: "mo", route: "other", from, to: "+19999999999", body: "hi", receivedAt });
    expect(notOurs.status).toBe(422);
  });
});
