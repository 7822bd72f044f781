import { describe, expect, it } from "vitest";
import { signUnsubscribeToken, verifyUnsubscribeToken } from "../../src/core/email.ts";
import {
  machineReason,
  readerDetail,
  rewriteLinks,
  signTrackingToken,
  trackedHtml,
  trackedLinks,
  trackingSection,
  trackingWanted,
  truncateIp,
  verifyTrackingToken,
  withPixel,
} from "../../src/core/tracking.ts";

const SECRET = "tracking-test-secret";
const BASE = "https://lh.example";
const links = { base: BASE, secret: SECRET, account: "acme", messageId: "0f0e0d0c-0000-4000-8000-000000000001" };

describe("trackingWanted: the send's choice over the account's, and off by default", () => {
  const on = trackingSection.parse({ opens: true, clicks: true });
  it.each([
    [undefined, undefined, { opens: false, clicks: false }],
    [trackingSection.parse({}), undefined, { opens: false, clicks: false }],
    [on, undefined, { opens: true, clicks: true }],
    [on, { clicks: false }, { opens: true, clicks: false }],
    [undefined, { opens: true }, { opens: true, clicks: false }],
  ])("section %j, override %j → %j", (section, override, wanted) => {
    expect(trackingWanted(section, override)).toEqual(wanted);
  });
  it("privacy defaults to truncated", () => expect(trackingSection.parse({}).privacy).toBe("truncated"));
});

describe("tracking tokens: signed, and refused when anything changes", () => {
  const claim = { account: "acme", messageId: links.messageId, kind: "c" as const, index: 2 };
  it("round-trips", async () => {
    expect(await verifyTrackingToken(SECRET, await signTrackingToken(SECRET, claim), "c")).toEqual(claim);
  });
  it("refuses every one-character change of the token", async () => {
    const token = await signTrackingToken(SECRET, claim);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (let i = 0; i < token.length; i++) {
      if (token[i] === ".") continue;
      const other = alphabet[(alphabet.indexOf(token[i]!) + 1) % alphabet.length]!;
      expect(await verifyTrackingToken(SECRET, token.slice(0, i) + other + token.slice(i + 1), "c"), `position ${i}`).toBeNull();
    }
  });
  it.each([
    ["another secret", async () => verifyTrackingToken("other", await signTrackingToken(SECRET, claim), "c")],
    [
      "a pixel token used as a link",
      async () => verifyTrackingToken(SECRET, await signTrackingToken(SECRET, { ...claim, kind: "o" }), "c"),
    ],
    ["a negative index", async () => verifyTrackingToken(SECRET, await signTrackingToken(SECRET, { ...claim, index: -1 }), "c")],
    [
      "an unsubscribe token (same secret, other purpose)",
      async () =>
        verifyTrackingToken(SECRET, await signUnsubscribeToken(SECRET, { account: "acme", recipient: "a@b.c", messageId: "x" }), "c"),
    ],
    ["a truncated token", async () => verifyTrackingToken(SECRET, (await signTrackingToken(SECRET, claim)).slice(0, -1), "c")],
    ["garbage", () => verifyTrackingToken(SECRET, "not.a.token", "c")],
  ])("refuses %s", async (_, attempt) => {
    expect(await attempt()).toBeNull();
  });
  it("a tracking token is no unsubscribe token", async () => {
    expect(await verifyUnsubscribeToken(SECRET, await signTrackingToken(SECRET, claim))).toBeNull();
  });
});

describe("trackedLinks and rewriteLinks: http(s) hrefs of <a> only, in order", () => {
  const html = [
    `<p><a href="https://shop.example/a?x=1&amp;y=2">one</a>`,
    `<a class="b" href='http://shop.example/b'>two</a>`,
    `<a href=https://shop.example/c>three</a>`,
    `<a href="mailto:help@shop.example">mail</a> <a href="tel:+15550100">call</a> <a href="#top">top</a>`,
    `<a href="${BASE}/u/sometoken">unsubscribe</a> <a href="javascript:alert(1)">js</a>`,
    `<img src="https://shop.example/logo.png"> <link href="https://shop.example/style.css">`,
    `<A HREF="HTTPS://Shop.Example/D">four</A></p>`,
  ].join("\n");
  it("lists the tracked links, entities decoded", () => {
    expect(trackedLinks(html, BASE)).toEqual([
      "https://shop.example/a?x=1&y=2",
      "http://shop.example/b",
      "https://shop.example/c",
      "https://shop.example/D",
    ]);
  });
  it("rewrites exactly those, each to its own index, and leaves the rest byte for byte", async () => {
    const rewritten = await rewriteLinks(html, links);
    const hrefs = [...rewritten.matchAll(/\/t\/c\/([\w-]+\.[\w-]+)/g)].map((m) => m[1]!);
    expect(hrefs).toHaveLength(4);
    const claims = await Promise.all(hrefs.map((t) => verifyTrackingToken(SECRET, t, "c")));
    expect(claims.map((c) => c?.index)).toEqual([0, 1, 2, 3]);
    for (const kept of [
      "mailto:help@shop.example",
      "tel:+15550100",
      'href="#top"',
      `${BASE}/u/sometoken`,
      "javascript:alert(1)",
      "logo.png",
      "style.css",
    ]) {
      expect(rewritten).toContain(kept);
    }
    expect(rewritten).not.toContain("shop.example/a?");
    // The rewritten html has no link to follow again.
    expect(trackedLinks(rewritten, BASE)).toEqual([]);
  });
  it("is deterministic: the same html and message give the same bytes (every retry relays the same)", async () => {
    expect(await trackedHtml(html, { opens: true, clicks: true }, links)).toBe(
      await trackedHtml(html, { opens: true, clicks: true }, links),
    );
  });
});

describe("withPixel: before the last </body>, else at the end", () => {
  it.each([
    ["<html><body><p>hi</p></body></html>", /<p>hi<\/p><img src="https:\/\/lh\.example\/t\/o\/[\w-]+\.[\w-]+"[^>]*><\/body><\/html>$/],
    ["<p>hi</p>", /^<p>hi<\/p><img [^>]*>$/],
    ["<BODY>x</BODY>", /^<BODY>x<img [^>]*><\/BODY>$/],
  ])("%s", async (html, shape) => {
    expect(await withPixel(html, links)).toMatch(shape);
  });
});

// Real user agents as mail clients, proxies and scanners send them.
const CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const IPHONE_MAIL = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";
const OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)";
const GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
const YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html";

describe("machineReason: the first rule that flags an open or click", () => {
  it.each([
    ["Chrome", "GET", CHROME, 60_000, null],
    ["Apple Mail on iOS (MPP off)", "GET", IPHONE_MAIL, 60_000, null],
    ["Outlook", "GET", OUTLOOK, 60_000, null],
    ["Gmail's image proxy (fetches when the reader opens)", "GET", GMAIL_PROXY, 60_000, null],
    ["Yahoo's mail proxy", "GET", YAHOO_PROXY, 60_000, null],
    ["no accepted yet", "GET", CHROME, undefined, null],
    ["Apple Mail Privacy Protection", "GET", "Mozilla/5.0", 60_000, "apple_mpp"],
    ["a HEAD from a link checker", "HEAD", CHROME, 60_000, "head_request"],
    ["no user agent", "GET", "", 60_000, "no_user_agent"],
    ["Barracuda", "GET", "Mozilla/5.0 (compatible; Barracuda Sentinel)", 60_000, "scanner"],
    [
      "Bing's link preview",
      "GET",
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b",
      60_000,
      "scanner",
    ],
    ["Googlebot", "GET", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 60_000, "scanner"],
    ["Slack's unfurler", "GET", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 60_000, "scanner"],
    [
      "headless Chrome",
      "GET",
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
      60_000,
      "scanner",
    ],
    ["python-requests", "GET", "python-requests/2.31.0", 60_000, "scanner"],
    ["curl", "GET", "curl/8.5.0", 60_000, "scanner"],
    ["Go", "GET", "Go-http-client/1.1", 60_000, "scanner"],
    ["a click 400 ms after accepted", "GET", CHROME, 400, "too_soon"],
    ["a fetch before accepted was recorded", "GET", CHROME, -50, "too_soon"],
    ["a click 1 s after accepted", "GET", CHROME, 1000, null],
  ])("%s", (_, method, userAgent, sinceAcceptedMs, reason) => {
    expect(machineReason({ method, userAgent, sinceAcceptedMs })).toBe(reason);
  });
});

describe("privacy: what an event keeps of the reader", () => {
  it.each([
    ["203.0.113.77", "203.0.113.0"],
    ["::ffff:203.0.113.77", "203.0.113.0"],
    ["2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"],
    ["2001:db8::1", "2001:db8:0::"],
    ["2001:0DB8:0001::", "2001:db8:1::"],
    ["not an ip", null],
  ])("truncateIp(%s) = %s", (ip, cut) => {
    expect(truncateIp(ip)).toBe(cut);
  });
  it.each([
    ["full", { ip: "203.0.113.77", userAgent: CHROME }],
    ["truncated", { ip: "203.0.113.0", userAgent: CHROME }],
    ["none", {}],
  ] as const)("%s", (privacy, kept) => {
    expect(readerDetail(privacy, "203.0.113.77", CHROME)).toEqual(kept);
  });
});
