/** Open and click tracking through the public API: the html each route receives, the two public doors, the events. */
import { SELF, env } from "cloudflare:test";
import PostalMime from "postal-mime";
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from "vitest";
import { signTrackingToken } from "../../src/core/tracking.ts";
import { messageStub } from "../../src/state/stubs.ts";
import { passTime, waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { espFake, FAKE_SENDGRID } from "./esp-fake.ts";
import { installHooks } from "./hooks-fake.ts";
import { adminAccount, api, BASE, getMessage, json, send, unique, waitForStatus, type AdminAccount } from "./helpers.ts";

let esp: ReturnType<typeof espFake>;
let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  esp = espFake();
  bridge = installBridge({ other: esp.handle });
});
afterEach(() => bridge.restore());

const CHROME = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const HTML = [
  "<html><body>",
  `<p><a href="https://shop.example/a">first</a> and <a href="https://shop.example/b?x=1&amp;y=2">second</a></p>`,
  `<p><a href="mailto:help@shop.example">help</a> <a href="#top">top</a></p>`,
  "</body></html>",
].join("");

async function account(tracking?: Record<string, unknown>, routing: Record<string, unknown> = {}): Promise<AdminAccount> {
  const a = await adminAccount("Tracking Co");
  const put = async (path: string, body: unknown) => {
    const res = await json(await api(path, { method: "PUT", json: body, key: a.key }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  };
  if (routing.routes) await put("/v1/providers/sendgrid", { apiKey: FAKE_SENDGRID.apiKey });
  await put("/v1/email/settings", {
    bounceDomain: `bounces.${unique()}.example`,
    sendingDomains: ["shop.example"],
    relay: { mode: "direct" },
    ...routing,
  });
  if (tracking) await put("/v1/email/tracking", tracking);
  return a;
}

async function sendMail(a: AdminAccount, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await send(
    { channel: "email", from: "news@shop.example", to: `reader-${unique()}@example.net`, subject: "Hi", text: "Hi", html: HTML, ...extra },
    { key: a.key },
  );
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

async function relayedHtml(id: string): Promise<string> {
  const item = await waitFor(() => bridge.mail.find((m) => m.id === id), "the relayed mail");
  return (await PostalMime.parse(item.raw)).html ?? "";
}

const tokensOf = (html: string, door: "o" | "c") =>
  [...html.matchAll(new RegExp(`${BASE}/t/${door}/([\\w-]+\\.[\\w-]+)`, "g"))].map((m) => m[1]!);
const get = (path: string, headers: Record<string, string> = {}) =>
  SELF.fetch(`${BASE}${path}`, { redirect: "manual", headers: { "user-agent": CHROME, ...headers } });
/** The token with one character of its payload changed. */
const tampered = (token: string) => `${token.slice(0, 6)}${token[6] === "A" ? "B" : "A"}${token.slice(7)}`;
const trackingEvents = async (id: string, key: string) =>
  (await getMessage(id, key)).body.events.filter((e: { type: string }) => e.type === "opened" || e.type === "clicked");

describe("open and click tracking", () => {
  it("is off by default: the relayed html is the send's own", async () => {
    const a = await account();
    const id = await sendMail(a);
    const html = await relayedHtml(id);
    expect(html).toContain(`<a href="https://shop.example/a">`);
    expect(html).not.toContain("/t/");
  });

  it("rewrites links and adds a pixel; a click leads to its link, opens and clicks are recorded, flagged and streamed", async () => {
    // The event stream's receiver, for this test only (its fetch rebuilds requests, which a hosted provider's body cannot survive).
    const hooks = installHooks();
    onTestFinished(() => hooks.restore());
    const a = await account({ opens: true, clicks: true, privacy: "truncated" });
    const endpoint = await json(
      await api("/v1/webhook-endpoints", { method: "POST", json: { url: hooks.url(`track-${a.id}`) }, key: a.key }),
    );
    expect(endpoint.status).toBe(201);
    const id = await sendMail(a);
    const html = await relayedHtml(id);
    const clicks = tokensOf(html, "c");
    const [pixel] = tokensOf(html, "o");
    expect(clicks).toHaveLength(2);
    expect(pixel).toBeDefined();
    expect(html).toMatch(/<img src="https:\/\/lasthop\.test\/t\/o\/[^"]+" width="1" height="1"[^>]*><\/body>/);
    for (const kept of ["mailto:help@shop.example", `href="#top"`]) expect(html).toContain(kept);
    expect(html).not.toContain("https://shop.example/");
    await waitForStatus(id, "accepted", a.key);
    // The clock defines the rule: within 1 s of `accepted` every open or click counts as a machine's.
    await passTime(1000);

    const click = await get(`/t/c/${clicks[1]}`, { "cf-connecting-ip": "203.0.113.77" });
    expect(click.status).toBe(302);
    expect(click.headers.get("location")).toBe("https://shop.example/b?x=1&y=2");
    expect(click.headers.get("cache-control")).toContain("no-store");

    const mpp = await get(`/t/o/${pixel}`, { "user-agent": "Mozilla/5.0", "cf-connecting-ip": "17.58.0.1" });
    expect([mpp.status, mpp.headers.get("content-type"), mpp.headers.get("cache-control")]).toEqual([
      200,
      "image/gif",
      "no-store, max-age=0",
    ]);
    expect(new Uint8Array(await mpp.arrayBuffer()).slice(0, 6)).toEqual(new TextEncoder().encode("GIF89a"));
    expect((await get(`/t/o/${pixel}`, { "cf-connecting-ip": "2001:db8:85a3:8d3::1" })).status).toBe(200);

    const events = await waitFor(async () => {
      const found = await trackingEvents(id, a.key);
      return found.length === 3 && found;
    }, "three tracking events");
    expect(events.map((e: { type: string; detail: unknown }) => [e.type, e.detail])).toEqual([
      ["clicked", { machine: false, first: true, link: 1, url: "https://shop.example/b?x=1&y=2", ip: "203.0.113.0", userAgent: CHROME }],
      ["opened", { machine: true, machineReason: "apple_mpp", first: false, ip: "17.58.0.0", userAgent: "Mozilla/5.0" }],
      ["opened", { machine: false, first: true, ip: "2001:db8:85a3::", userAgent: CHROME }],
    ]);
    // An open or a click never moves the delivery state.
    expect((await getMessage(id, a.key)).body.status).toBe("accepted");

    const streamed = await waitFor(() => {
      const got = hooks.to(`track-${a.id}`).filter((d) => d.event.type === "message.opened" || d.event.type === "message.clicked");
      return got.length === 3 && got;
    }, "the opens and the click on the event stream");
    expect(streamed.map((d) => [d.event.type, d.event.data.detail.machine, d.event.data.message.id]).sort()).toEqual(
      [
        ["message.clicked", false, id],
        ["message.opened", false, id],
        ["message.opened", true, id],
      ].sort(),
    );
  });

  it("refuses tampered tokens and links that were not in the message, and records nothing", async () => {
    const a = await account({ opens: true, clicks: true });
    const id = await sendMail(a);
    const html = await relayedHtml(id);
    const [click] = tokensOf(html, "c");
    const [pixel] = tokensOf(html, "o");

    const forged = await get(`/t/c/${tampered(click!)}`);
    expect(forged.status).toBe(400);
    expect(forged.headers.get("location")).toBeNull();
    expect(((await forged.json()) as any).error.code).toBe("invalid_token");
    // The mac itself changed by one character: refused as well.
    const macChanged = `${click!.slice(0, -1)}${click!.endsWith("A") ? "B" : "A"}`;
    expect((await get(`/t/c/${macChanged}`)).status).toBe(400);

    // Signed by us, but no message of ours has a 100th link: no redirect, anywhere.
    const outOfRange = await signTrackingToken(env.UNSUBSCRIBE_SECRET, { account: a.id, messageId: id, kind: "c", index: 99 });
    const nowhere = await get(`/t/c/${outOfRange}`);
    expect([nowhere.status, nowhere.headers.get("location")]).toEqual([404, null]);
    // A pixel token is no link token.
    expect((await get(`/t/c/${pixel}`)).status).toBe(400);

    // The pixel answers the same image whatever the token, and records only for a real one.
    const fakePixel = await get(`/t/o/${tampered(pixel!)}`);
    expect([fakePixel.status, fakePixel.headers.get("content-type")]).toEqual([200, "image/gif"]);
    expect((await get(`/t/o/not-a-token`)).status).toBe(200);

    // A real click afterwards is the only event the message has.
    expect((await get(`/t/c/${click}`)).status).toBe(302);
    const events = await waitFor(async () => {
      const found = await trackingEvents(id, a.key);
      return found.length > 0 && found;
    }, "the real click");
    expect(events.map((e: { type: string; detail: { link?: number } }) => [e.type, e.detail.link])).toEqual([["clicked", 0]]);
  });

  it("a token names its account: A's message under B's name is no message, and nothing of A's moves", async () => {
    const a = await account({ clicks: true });
    const b = await account({ clicks: true });
    const id = await sendMail(a);
    await relayedHtml(id);
    const asB = await signTrackingToken(env.UNSUBSCRIBE_SECRET, { account: b.id, messageId: id, kind: "c", index: 0 });
    expect((await get(`/t/c/${asB}`)).status).toBe(404);
    expect(await trackingEvents(id, a.key)).toEqual([]);
  });

  it("a click still leads to its link after the message's body expired (retention keeps the tracked links)", async () => {
    const a = await account({ clicks: true });
    const id = await sendMail(a);
    const [, second] = tokensOf(await relayedHtml(id), "c");
    await waitForStatus(id, "accepted", a.key);
    expect(await messageStub(env, a.id, id).expireBody()).toBe("expired");
    const click = await get(`/t/c/${second}`);
    expect([click.status, click.headers.get("location")]).toEqual([302, "https://shop.example/b?x=1&y=2"]);
  });

  it("a hosted provider receives the rewritten html too; the send's own choice overrides the account's", async () => {
    const a = await account(undefined, { routes: [{ name: "sg", type: "sendgrid", baseUrl: `https://${FAKE_SENDGRID.host}` }] });
    const id = await sendMail(a, { tracking: { clicks: true } });
    const call = await waitFor(() => esp.of("sendgrid", id)[0], "SendGrid's request");
    const html = (call.body.content as Array<{ type: string; value: string }>).find((c) => c.type === "text/html")!.value;
    expect(tokensOf(html, "c")).toHaveLength(2);
    // Opens were not asked for.
    expect(tokensOf(html, "o")).toHaveLength(0);
    await waitForStatus(id, "accepted", a.key);
  });

  it("the tracking section is validated like every other", async () => {
    const a = await adminAccount("Tracking Co");
    const bad = await json(await api("/v1/email/tracking", { method: "PUT", json: { opens: "yes", privacy: "some" }, key: a.key }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("validation_failed");
    expect((await api("/v1/email/tracking", { key: a.key })).status).toBe(404);
    const put = await json(await api("/v1/email/tracking", { method: "PUT", json: { opens: true }, key: a.key }));
    expect(put.body).toEqual({ opens: true, clicks: false, privacy: "truncated" });
  });
});
