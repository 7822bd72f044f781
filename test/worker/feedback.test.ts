import { env, SELF } from "cloudflare:test";
import { EDGE_EVENTS_PATH } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/bytes.ts";
import { ACCOUNT_A } from "../fixtures.ts";
import { installPushService } from "./push-service.ts";
import { waitFor } from "../wait.ts";
import { BASE, api, effectsDone, eventsMarker, getMessage, postEvents, send, subscription, waitForStatus, webpush } from "./helpers.ts";

let push: ReturnType<typeof installPushService>;
beforeEach(() => {
  push = installPushService();
});
afterEach(() => push.restore());

function event(messageId: string, type: string, id = crypto.randomUUID(), detail: Record<string, unknown> = {}) {
  return { id, account: ACCOUNT_A, messageId, type, occurredAt: new Date().toISOString(), provider: "bridge", detail };
}

async function acceptedMessage(path: string) {
  const res = await send(await webpush(path));
  return waitForStatus(res.body.id, "accepted");
}

async function statsCount(outcome: string, channel = "webpush") {
  const res = await api(`/v1/stats?channel=${channel}`);
  const body = (await res.json()) as any;
  return body.buckets.reduce((n: number, b: any) => n + (b.counts[outcome] ?? 0), 0);
}

describe("webhook authentication", () => {
  it.each([
    ["a wrong secret", { secret: `whsec_${btoa("another secret of 32 bytes......")}` }],
    ["a timestamp over 5 minutes old", { skewSeconds: -301 }],
    ["a timestamp over 5 minutes ahead", { skewSeconds: 301 }],
  ])("refuses %s with 401 and changes nothing", async (_, opts: { secret?: string; skewSeconds?: number }) => {
    const message = await acceptedMessage("wh-auth");
    const res = await postEvents([event(message.id, "delivered")], {
      secret: opts.secret,
      now: opts.skewSeconds ? Date.now() + opts.skewSeconds * 1000 : undefined,
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.code).toBe("invalid_signature");
    // Marker: a later event, on another message so this one's timeline stays as it was.
    await eventsMarker((await acceptedMessage("wh-auth-marker")).id);
    const after = await getMessage(message.id);
    expect(after.body.status).toBe("accepted");
    expect(after.body.events).toHaveLength(message.events.length);
  });

  it("refuses a body changed after signing", async () => {
    const message = await acceptedMessage("wh-tamper");
    const signed = JSON.stringify({ events: [event(message.id, "delivered")] });
    const headers = await signedHeaders(await doorSecret(env.WEBHOOK_SECRET, EDGE_EVENTS_PATH), signed);
    const res = await SELF.fetch(`${BASE}/v1/webhooks/bridge`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: signed.replace("delivered", "failed"),
    });
    expect(res.status).toBe(401);
  });

  it("answers 404 for an unknown provider and 400 for events that do not validate", async () => {
    const message = await acceptedMessage("wh-bad");
    const unknown = await SELF.fetch(`${BASE}/v1/webhooks/nobody`, { method: "POST", body: "{}" });
    expect(unknown.status).toBe(404);
    const bad = await postEvents([{ ...event(message.id, "exploded"), occurredAt: "yesterday" }]);
    expect(bad.status).toBe(400);
    const paths = ((await bad.json()) as any).error.details.map((d: any) => d.path);
    expect(paths).toEqual(expect.arrayContaining(["events.0.type", "events.0.occurredAt"]));
  });
});

describe("applying events", () => {
  it("a delivery replayed 10 times is one timeline entry and one count", async () => {
    const message = await acceptedMessage("replay");
    const before = await statsCount("delivered");
    const delivered = event(message.id, "delivered", `dlr-${crypto.randomUUID()}`);
    for (let i = 0; i < 10; i++) expect((await postEvents([delivered])).status).toBe(202);
    const done = await waitForStatus(message.id, "delivered");
    // Marker: a later event (on another message, so this timeline stays as it was), and this
    // message's effects, its count among them, done.
    await eventsMarker((await acceptedMessage("replay-marker")).id);
    await effectsDone(message.id);
    const after = await getMessage(message.id);
    expect(after.body.events.filter((e: any) => e.type === "delivered")).toHaveLength(1);
    expect(after.body.events).toHaveLength(done.events.length);
    expect(await statsCount("delivered")).toBe(before + 1);
  });

  it("delivered arriving before accepted ends delivered, and both are in the timeline", async () => {
    const res = await send(await webpush("down-order"));
    const id = res.body.id;
    await waitForStatus(id, "deferred");
    await postEvents([event(id, "delivered", "early-delivered")]);
    await waitForStatus(id, "delivered");
    await postEvents([event(id, "accepted", "late-accepted")]);
    const message = await waitFor(async () => {
      const m = await getMessage(id);
      return m.body.events.some((e: any) => e.id === "late-accepted") ? m.body : null;
    });
    expect(message.status).toBe("delivered");
  });

  it("a complaint is recorded and suppresses, without changing the delivery state", async () => {
    const body = await webpush("complaint");
    const res = await send(body);
    await waitForStatus(res.body.id, "accepted");
    await postEvents([event(res.body.id, "complained", "arf-1", { feedbackType: "abuse" })]);
    const entry = await waitFor(async () => {
      const r = await api(`/v1/suppressions/webpush/${await sha256Hex(body.to.endpoint)}`);
      return r.status === 200 ? ((await r.json()) as any) : null;
    });
    expect(entry).toMatchObject({ reason: "complaint", sourceEventId: "arf-1" });
    const after = await getMessage(res.body.id);
    expect(after.body.status).toBe("accepted");
    expect(after.body.events.at(-1)).toMatchObject({ id: "arf-1", type: "complained" });
  });

  it("soft bounces suppress at the limit (3); a delivery in between resets the count", async () => {
    const to = await subscription("soft-run");
    const hash = await sha256Hex(to.endpoint);
    const ids = await Promise.all(
      [0, 1, 2, 3, 4, 5].map(async (i) => (await send({ channel: "webpush", to, payload: `n${i}` })).body.id as string),
    );
    await Promise.all(ids.map((id) => waitForStatus(id, "accepted")));
    const soft = (id: string) => event(id, "bounced", `soft-${id}`, { class: "soft", reason: "mailboxfull" });
    // Each step waits for the effects (the recipient's count) of the one before: order matters here.
    const applied = async (id: string, status: string) => {
      await waitForStatus(id, status);
      await effectsDone(id);
    };
    await postEvents([soft(ids[0]), soft(ids[1])]);
    await Promise.all([applied(ids[0], "bounced"), applied(ids[1], "bounced")]);
    await postEvents([event(ids[2], "delivered", `dlv-${ids[2]}`)]);
    await applied(ids[2], "delivered");
    await postEvents([soft(ids[3])]);
    await applied(ids[3], "bounced");
    expect((await api(`/v1/suppressions/webpush/${hash}`)).status).toBe(404);
    // Replaying a soft bounce does not count twice.
    await postEvents([soft(ids[3])]);
    await eventsMarker(ids[3]); // the replay was handled before it, effects included
    expect((await api(`/v1/suppressions/webpush/${hash}`)).status).toBe(404);
    await postEvents([soft(ids[4])]);
    await applied(ids[4], "bounced");
    expect((await api(`/v1/suppressions/webpush/${hash}`)).status).toBe(404);
    await postEvents([soft(ids[5])]);
    await waitForStatus(ids[5], "bounced");
    const entry = await waitFor(async () => {
      const res = await api(`/v1/suppressions/webpush/${hash}`);
      return res.status === 200 ? ((await res.json()) as any) : null;
    });
    expect(entry).toMatchObject({ reason: "soft_bounce_limit", sourceEventId: `soft-${ids[5]}`, messageId: ids[5] });
  });

  it("counts hard and soft bounces and complaints once per event, whatever the state did", async () => {
    const ids = await Promise.all(
      ["count-hard", "count-soft", "count-complaint"].map(async (p) => (await acceptedMessage(p)).id as string),
    );
    const before = {
      hard: await statsCount("bounce_hard"),
      soft: await statsCount("bounce_soft"),
      complained: await statsCount("complained"),
    };
    const events = [
      event(ids[0]!, "bounced", `hard-${ids[0]}`, { class: "hard", reason: "userunknown" }),
      event(ids[1]!, "bounced", `soft-${ids[1]}`, { class: "soft", reason: "mailboxfull" }),
      event(ids[2]!, "complained", `arf-${ids[2]}`, { feedbackType: "abuse" }),
    ];
    // Each twice: a replay counts nothing.
    expect((await postEvents([...events, ...events])).status).toBe(202);
    for (const id of ids) await eventsMarker(id);
    for (const id of ids) await effectsDone(id);
    expect({
      hard: await statsCount("bounce_hard"),
      soft: await statsCount("bounce_soft"),
      complained: await statsCount("complained"),
    }).toEqual({ hard: before.hard + 1, soft: before.soft + 1, complained: before.complained + 1 });
  });

  it("bounces nobody could classify never suppress, and are counted as bounce_unclassified", async () => {
    const to = await subscription("onhold-run");
    const hash = await sha256Hex(to.endpoint);
    const counted = async () => {
      const body = (await (await api("/v1/stats")).json()) as any;
      return body.buckets
        .filter((b: any) => b.channel === "webpush")
        .reduce((s: number, b: any) => s + (b.counts.bounce_unclassified ?? 0), 0);
    };
    const before = await counted();
    const ids = await Promise.all(
      [0, 1, 2, 3].map(async (i) => (await send({ channel: "webpush", to, payload: `h${i}` })).body.id as string),
    );
    await Promise.all(ids.map((id) => waitForStatus(id, "accepted")));
    const kinds = [
      { class: "soft", reason: "onhold" },
      { class: "soft", reason: "undefined" },
      { class: "undetermined", reason: "mailboxfull" },
      { class: "soft", reason: "onhold" },
    ];
    await postEvents(ids.map((id, i) => event(id, "bounced", `unknown-${id}`, kinds[i])));
    for (const id of ids) {
      await waitForStatus(id, "bounced");
      await effectsDone(id);
    }
    await waitFor(async () => (await counted()) === before + 4, "four unclassified bounces counted");
    // Four in a row, over the soft-bounce limit of 3: still not suppressed.
    expect((await api(`/v1/suppressions/webpush/${hash}`)).status).toBe(404);
  });

  it("an event for a message nobody knows is counted as unlinked, not dropped", async () => {
    const unlinked = async () => {
      const body = (await (await api("/v1/stats")).json()) as any;
      return body.buckets.filter((b: any) => b.channel === "none").reduce((s: number, b: any) => s + (b.counts.unlinked ?? 0), 0);
    };
    const before = await unlinked();
    const res = await postEvents([event(crypto.randomUUID(), "delivered")]);
    expect(res.status).toBe(202);
    await waitFor(async () => (await unlinked()) === before + 1);
  });
});

describe("suppressions API", () => {
  it("PUT, GET, list with a cursor, DELETE", async () => {
    const emails = ["Zed@Example.COM", "amy@example.com"];
    for (const address of emails) {
      const res = await api(`/v1/suppressions/email/${encodeURIComponent(address)}`, { method: "PUT" });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ channel: "email", reason: "manual" });
    }
    const got = await api(`/v1/suppressions/email/${encodeURIComponent("Zed@example.com")}`);
    expect(await got.json()).toMatchObject({ recipientKey: "Zed@example.com", reason: "manual" });

    const first = (await (await api("/v1/suppressions?channel=email&limit=1")).json()) as any;
    expect(first.data).toHaveLength(1);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = (await (
      await api(`/v1/suppressions?channel=email&limit=1&cursor=${encodeURIComponent(first.nextCursor)}`)
    ).json()) as any;
    expect(second.data).toHaveLength(1);
    expect(second.data[0].recipientKey).not.toBe(first.data[0].recipientKey);

    expect((await api(`/v1/suppressions/email/amy%40example.com`, { method: "DELETE" })).status).toBe(204);
    expect((await api(`/v1/suppressions/email/amy%40example.com`)).status).toBe(404);
    expect((await api(`/v1/suppressions/email/amy%40example.com`, { method: "DELETE" })).status).toBe(404);
    const list = (await (await api("/v1/suppressions?channel=email")).json()) as any;
    expect(list.data.map((e: any) => e.recipientKey)).not.toContain("amy@example.com");
  });

  it("a manually suppressed endpoint is answered suppressed; lifting it lets the next send through", async () => {
    const body = await webpush("manual");
    const hash = await sha256Hex(body.to.endpoint);
    expect((await api(`/v1/suppressions/webpush/${hash}`, { method: "PUT" })).status).toBe(200);
    const blocked = await send(body);
    expect(blocked.body).toMatchObject({ status: "suppressed", reason: "manual" });
    expect((await api(`/v1/suppressions/webpush/${hash}`, { method: "DELETE" })).status).toBe(204);
    const sent = await send(body);
    await waitForStatus(sent.body.id, "accepted");
    expect(push.to("manual")).toHaveLength(1);
  });

  it("refuses bad recipients, channels, cursors and limits", async () => {
    expect((await api("/v1/suppressions/webpush/not-a-hash", { method: "PUT" })).status).toBe(400);
    expect((await api("/v1/suppressions/sms/0612345678")).status).toBe(400);
    expect((await api("/v1/suppressions/fax/123")).status).toBe(404);
    expect((await api("/v1/suppressions?cursor=garbage")).status).toBe(400);
    expect((await api("/v1/suppressions?limit=0")).status).toBe(400);
    expect((await api("/v1/stats?from=yesterday")).status).toBe(400);
  });
});
