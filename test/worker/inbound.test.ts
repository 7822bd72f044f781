import { env, SELF } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import worker from "../../src/index.ts";
import { EDGE_EMAIL_INBOUND_PATH } from "../../src/core/bridge.ts";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { API_KEY_B } from "../fixtures.ts";
import { installBridge } from "./bridge-fake.ts";
import { installPushService } from "./push-service.ts";
import { dsn } from "../dsn-fixture.ts";
import { waitFor } from "../wait.ts";
import { BASE, api, eventsMarker, getMessage, routed, send, waitForStatus, webpush } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

const email = (to: string) => ({ channel: "email", from: "news@lasthop.test", to, subject: "Hi", text: "Hello" });

describe("email() — Cloudflare Email Routing for the bounce domain", () => {
  it("a DSN to the VERP address bounces the message and suppresses the recipient", async () => {
    const res = await send(email("gone@example.org"));
    await waitForStatus(res.body.id, "accepted");
    const message = routed(`bounce+${res.body.id}@bounces.lasthop.test`, dsn(res.body.id, "gone@example.org"));
    await worker.email(message as unknown as ForwardableEmailMessage, env);
    expect(message.setReject).not.toHaveBeenCalled();
    const bounced = await waitForStatus(res.body.id, "bounced");
    expect(bounced.events.at(-1)).toMatchObject({
      provider: "inbound-email",
      detail: { class: "hard", reason: "userunknown", enhancedCode: "5.1.1" },
    });
    await waitFor(async () => (await api("/v1/suppressions/email/gone%40example.org")).status === 200);
  });

  it("the same DSN delivered twice is one timeline entry", async () => {
    const res = await send(email("twice-gone@example.org"));
    await waitForStatus(res.body.id, "accepted");
    for (let i = 0; i < 2; i++) {
      await worker.email(
        routed(
          `bounce+${res.body.id}@bounces.lasthop.test`,
          dsn(res.body.id, "twice-gone@example.org"),
        ) as unknown as ForwardableEmailMessage,
        env,
      );
    }
    await waitForStatus(res.body.id, "bounced");
    await eventsMarker(res.body.id); // both copies were handled before it
    expect((await getMessage(res.body.id)).body.events.filter((e: any) => e.type === "bounced")).toHaveLength(1);
  });

  it("rejects mail for addresses that are not at a bounce domain", async () => {
    const message = routed("someone@lasthop.test", dsn(crypto.randomUUID(), "x@example.org"));
    await worker.email(message as unknown as ForwardableEmailMessage, env);
    expect(message.setReject).toHaveBeenCalledWith(expect.stringContaining("550"));
  });

  it("a forged report naming another account's message changes nothing there and is counted unlinked", async () => {
    // Account B's message is a web push: swap the fake bridge for the fake push service meanwhile.
    bridge.restore();
    const push = installPushService();
    const other = await send(await webpush("forged-target"), { key: API_KEY_B });
    await waitForStatus(other.body.id, "accepted", API_KEY_B);
    push.restore();
    bridge = installBridge();
    const unlinked = async () => {
      const body = (await (await api("/v1/stats")).json()) as any;
      return body.buckets.filter((b: any) => b.channel === "none").reduce((n: number, b: any) => n + (b.counts.unlinked ?? 0), 0);
    };
    const before = await unlinked();
    await worker.email(
      routed(`bounce+${other.body.id}@bounces.lasthop.test`, dsn(other.body.id, "x@example.org")) as unknown as ForwardableEmailMessage,
      env,
    );
    await waitFor(async () => (await unlinked()) === before + 1);
    const after = await getMessage(other.body.id, API_KEY_B);
    expect(after.body.status).toBe("accepted");
    expect(after.body.events.some((e: any) => e.type === "bounced")).toBe(false);
  });
});

describe("POST /v1/inbound/email — the bridge's inbound SMTP", () => {
  const post = async (payload: unknown, secret = env.WEBHOOK_SECRET) => {
    const body = JSON.stringify(payload);
    const headers = await signedHeaders(await doorSecret(secret, EDGE_EMAIL_INBOUND_PATH), body);
    return SELF.fetch(`${BASE}${EDGE_EMAIL_INBOUND_PATH}`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body,
    });
  };
  const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

  it("applies a signed DSN (202), refuses unsigned (401) and addresses that are not ours (422 not_ours)", async () => {
    const res = await send(email("inbound-gone@example.org"));
    await waitForStatus(res.body.id, "accepted");
    const to = `bounce+${res.body.id}@bounces.lasthop.test`;
    const raw = b64(dsn(res.body.id, "inbound-gone@example.org"));
    expect((await post({ to, from: "", raw }, `whsec_${btoa("a different secret of 32 bytes!!")}`)).status).toBe(401);
    const ok = await post({ to, from: "", raw });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({ outcome: "enqueued", kind: "dsn", events: 1 });
    await waitForStatus(res.body.id, "bounced");
    const stray = await post({ to: "postmaster@lasthop.test", from: "", raw });
    expect(stray.status).toBe(422);
    expect(((await stray.json()) as any).error.code).toBe("not_ours");
  });

  it("a batch: one result per message in order (not_ours among them), every linked message bounced", async () => {
    const sent = await Promise.all(["batch-a@example.org", "batch-b@example.org"].map((to) => send(email(to))));
    for (const s of sent) await waitForStatus(s.body.id, "accepted");
    const item = (id: string, to: string) => ({ to: `bounce+${id}@bounces.lasthop.test`, from: "", raw: b64(dsn(id, to)) });
    const res = await post({
      messages: [
        item(sent[0]!.body.id, "batch-a@example.org"),
        { to: "postmaster@lasthop.test", from: "", raw: b64(dsn(sent[0]!.body.id, "batch-a@example.org")) },
        item(sent[1]!.body.id, "batch-b@example.org"),
      ],
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as any;
    expect(body.results).toHaveLength(3);
    expect(body.results[0]).toMatchObject({ outcome: "enqueued", kind: "dsn", events: 1 });
    expect(body.results[1].error.code).toBe("not_ours");
    expect(body.results[2]).toMatchObject({ outcome: "enqueued", kind: "dsn", events: 1 });
    for (const s of sent) await waitForStatus(s.body.id, "bounced");
  });

  it("a batch that is not one (empty, or an item with a bad field) is refused whole: 400", async () => {
    const good = { to: "bounce+x@bounces.lasthop.test", from: "", raw: b64(dsn("x", "batch-bad@example.org")) };
    expect((await post({ messages: [] })).status).toBe(400);
    const bad = await post({ messages: [good, { ...good, raw: "not base64!" }] });
    expect(bad.status).toBe(400);
    const error = ((await bad.json()) as any).error;
    expect(error.code).toBe("validation_failed");
    expect(JSON.stringify(error.details)).toContain("raw");
  });
});
