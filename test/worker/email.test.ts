import { SELF, env } from "cloudflare:test";
import PostalMime from "postal-mime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ACCOUNT_A, API_KEY_B } from "../fixtures.ts";
import { installBridge } from "./bridge-fake.ts";
import { waitFor, waitForWhileProgressing } from "../wait.ts";
import { BASE, api, effectsDone, eventsMarker, getMessage, send, sendMarker, waitForStatus } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

const email = (to: string, extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@lasthop.test",
  fromName: "Lasthop News",
  to,
  subject: "Grüße — your order 👋",
  text: "Hello ünïcode\nSecond line",
  html: "<p>Hello <b>ünïcode</b></p>",
  tags: ["newsletter"],
  ...extra,
});

async function relayed(id: string) {
  return waitFor(async () => bridge.mail.find((m) => m.id === id));
}

describe("email composition and relay", () => {
  it("composes valid MIME with our headers, relays it with the VERP envelope, and ends accepted", async () => {
    const res = await send(email("reader@example.com", { headers: { "X-Campaign": "spring" }, replyTo: "help@lasthop.test" }));
    expect(res.status).toBe(202);

    const message = await waitForStatus(res.body.id, "accepted");
    expect(message.providerMessageId).toMatch(/^Q1/);
    const item = await relayed(res.body.id);
    expect(item.mailFrom).toBe(`bounce+${res.body.id}@bounces.lasthop.test`);
    expect(item.rcptTo).toBe("reader@example.com");
    expect(item.raw).toMatch(/\r\n\r\n/);
    const parsed = await PostalMime.parse(item.raw);
    expect(parsed.subject).toBe("Grüße — your order 👋");
    expect(parsed.from).toMatchObject({ name: "Lasthop News", address: "news@lasthop.test" });
    expect(parsed.text?.replace(/\r\n/g, "\n").trim()).toBe("Hello ünïcode\nSecond line");
    expect(parsed.html).toContain("<b>ünïcode</b>");
    expect(parsed.messageId).toBe(`<${res.body.id}@lasthop.test>`);
    const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value;
    expect(header("x-lasthop-message-id")).toBe(res.body.id);
    expect(header("feedback-id")).toBe("newsletter:acct-a:lasthop:lasthop");
    expect(header("x-campaign")).toBe("spring");
    expect(header("reply-to")).toContain("help@lasthop.test");
    expect(header("list-unsubscribe")).toMatch(
      new RegExp(`^<https://lasthop\\.test/u/[\\w-]+\\.[\\w-]+>, <mailto:unsubscribe\\+${res.body.id}@bounces\\.lasthop\\.test>$`),
    );
    expect(header("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    // Every line of the message is 7-bit: non-ASCII bodies went base64.
    expect(/^[\x00-\x7f]*$/.test(item.raw)).toBe(true);
  });

  it("a queue redelivery of a message whose outcome is recorded sends nothing again", async () => {
    const res = await send(email("twice@example.com"));
    await waitForStatus(res.body.id, "accepted");
    await env.SEND_EMAIL.send({ account: ACCOUNT_A, messageId: res.body.id });
    await sendMarker(email("after-twice@example.com")); // the redelivered job was taken before it
    expect(bridge.mail.filter((m) => m.rcptTo === "twice@example.com")).toHaveLength(1);
    expect((await getMessage(res.body.id)).body.attempts).toBe(1);
  });

  it("leaves List-Unsubscribe off for transactional mail", async () => {
    const res = await send(email("receipt@example.com", { tags: ["transactional"] }));
    const item = await relayed(res.body.id);
    expect(item.raw).not.toMatch(/^List-Unsubscribe/im);
  });

  it("refuses header injection and platform-owned headers with 400", async () => {
    for (const [body, path] of [
      [email("a@example.com", { headers: { "X-Evil": "a\r\nBcc: victim@example.com" } }), "headers.X-Evil"],
      [email("a@example.com", { headers: { "Return-Path": "x@evil.test" } }), "headers.Return-Path"],
      [email("a@example.com", { subject: "hi\nBcc: victim@example.com" }), "subject"],
      [email("a@example.com", { headers: { "Bad Name": "x" } }), "headers.Bad Name"],
    ] as const) {
      const res = await send(body);
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: any) => d.path)).toContain(path);
    }
  });

  it("422 for a From domain the account does not own, and for an account without email", async () => {
    const other = await send(email("a@example.com", { from: "ceo@bank.test" }));
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe("sender_not_allowed");
    const noConfig = await send(email("a@example.com"), { key: API_KEY_B });
    expect(noConfig.status).toBe(422);
    expect(noConfig.body.error.code).toBe("channel_not_configured");
  });

  it("5.1.1 bounces and suppresses the address; 5.7.1 bounces the message but does not suppress", async () => {
    const dead = await send(email("bounce@example.com"));
    const bounced = await waitForStatus(dead.body.id, "bounced");
    expect(bounced.events.at(-1).detail).toMatchObject({ enhancedCode: "5.1.1", class: "hard" });
    await waitFor(async () => (await api("/v1/suppressions/email/bounce%40example.com")).status === 200);
    expect((await send(email("bounce@example.com"))).body).toMatchObject({ status: "suppressed", reason: "hard_bounce" });

    const blocked = await send(email("block@example.com"));
    await waitForStatus(blocked.body.id, "bounced");
    await effectsDone(blocked.body.id); // a suppression would be one of them
    expect((await api("/v1/suppressions/email/block%40example.com")).status).toBe(404);
  });

  it("a 4xx is deferred, retried by the queue on the email schedule, then accepted", async () => {
    const res = await send(email("soft@example.com"));
    const message = await waitForStatus(res.body.id, "accepted");
    expect(message.attempts).toBe(2);
    expect(message.events.find((e: any) => e.type === "deferred").detail).toMatchObject({ smtpCode: 451, enhancedCode: "4.7.1" });
  });

  it("a message deferred past its maximum age ends expired with the last reply", async () => {
    const res = await send(email("never@example.com"));
    const expired = async () => {
      const m = await getMessage(res.body.id);
      return m.body.status === "expired" ? m.body : null;
    };
    const attempts = () => bridge.relayed.filter((i) => i.id === res.body.id).length;
    const message = await waitForWhileProgressing(expired, attempts, { stallMs: 20_000, what: "attempts at the bridge" });
    expect(message.events.at(-1).detail).toMatchObject({ reason: "max_age_exceeded", lastError: { smtpCode: 451 } });
    expect(message.attempts).toBeGreaterThan(1);
  });
});

describe("one-click unsubscribe (RFC 8058)", () => {
  async function linkFor(to: string) {
    const res = await send(email(to));
    const item = await relayed(res.body.id);
    const url = /List-Unsubscribe: <(https:\/\/[^>]+)>/.exec(item.raw)![1];
    return { id: res.body.id as string, path: new URL(url).pathname };
  }
  const post = (path: string, body = "List-Unsubscribe=One-Click") =>
    SELF.fetch(`${BASE}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body });

  it("GET shows a confirmation page that POSTs; POST One-Click suppresses, idempotently", async () => {
    const { id, path } = await linkFor("Reader.One@Example.com");
    const page = await SELF.fetch(`${BASE}${path}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<form method="post">');
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    // Looking at the page changed nothing.
    expect((await api("/v1/suppressions/email/Reader.One%40example.com")).status).toBe(404);

    expect((await post(path)).status).toBe(200);
    expect((await post(path)).status).toBe(200);
    const entry = await waitFor(async () => {
      const r = await api("/v1/suppressions/email/Reader.One%40example.com");
      return r.status === 200 ? ((await r.json()) as any) : null;
    });
    expect(entry).toMatchObject({ reason: "unsubscribe", messageId: id });
    const message = (await getMessage(id)).body;
    expect(message.events.filter((e: any) => e.type === "unsubscribed")).toHaveLength(1);
    expect(message.status).toBe("accepted");
  });

  it("forged or tampered tokens answer 400 and change nothing", async () => {
    const { id, path } = await linkFor("reader.two@example.com");
    const [payload, mac] = path.slice(3).split(".");
    const forgedPayload = btoa(JSON.stringify(["acct-a", "victim@example.com", crypto.randomUUID()]))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    for (const bad of [`/u/${forgedPayload}.${mac}`, `/u/${payload}.${mac.slice(0, -2)}AA`, `/u/${payload}`, "/u/garbage"]) {
      expect((await post(bad)).status).toBe(400);
      expect((await SELF.fetch(`${BASE}${bad}`)).status).toBe(400);
    }
    expect((await post(path, "something=else")).status).toBe(400);
    await eventsMarker(id); // an unsubscribe the refusals let through would be applied by now, effects too
    expect((await api("/v1/suppressions/email/victim%40example.com")).status).toBe(404);
    expect((await api("/v1/suppressions/email/reader.two%40example.com")).status).toBe(404);
  });
});
