/**
 * The status poll's Mailgun half: the Events API request, and its documented answer
 * (`{items, paging}`, each item the `event-data` of Mailgun's webhook samples) read through the
 * webhook's own mapping, so a polled event has the webhook's id.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { normalizePoll, pollRequest } from "../../src/core/poll/mailgun.ts";
import { normalize } from "../../src/webhooks/mailgun.ts";

const MID = "20260203192030.53383e583ab41f62@sample.mailgun.com";
const OURS = "0b6a1d52-4a8e-4f7e-9a51-2f6c3c1d9e10";
const ctx = { account: "acct-a", messageId: OURS, providerMessageId: MID, now: "2026-12-07T02:00:00.000Z" };
const creds = { apiKey: "key-0123456789abcdef", domain: "mg.example.com" };

/** A webhook sample's event-data, made about message MID (the samples are each of another message). */
const item = (name: string, messageId = MID): Record<string, unknown> => {
  const data = JSON.parse(readFileSync(new URL(`../fixtures/webhooks/mailgun/${name}.json`, import.meta.url), "utf8")).body["event-data"];
  return { ...data, message: { ...data.message, headers: { ...data.message.headers, "message-id": messageId } } };
};
/** The Events API's page, as documented: items and the paging links. */
const page = (...items: unknown[]) => ({
  items,
  paging: {
    next: "https://api.mailgun.net/v3/mg.example.com/events/W3siYSI6IGZhbHNlfQ==",
    previous: "https://api.mailgun.net/v3/mg.example.com/events/Lkawm32==",
    first: "https://api.mailgun.net/v3/mg.example.com/events/W3siYSI6IGZhbHNlLCAiYiI6ZmFsc2V9XQ==",
    last: "https://api.mailgun.net/v3/mg.example.com/events/W3siYSI6IGZhbHNlLCAiYiI6dHJ1ZX1d",
  },
});

describe("pollRequest (Mailgun)", () => {
  it("GETs the domain's events of this message-id with Basic api:key, no redirects", () => {
    const request = pollRequest(MID, "https://api.mailgun.net/", creds);
    const url = new URL(request.url);
    expect(`${url.origin}${url.pathname}`).toBe("https://api.mailgun.net/v3/mg.example.com/events");
    expect(url.searchParams.get("message-id")).toBe(MID);
    expect(url.searchParams.get("ascending")).toBe("yes");
    expect(url.searchParams.get("limit")).toBe("300");
    expect(request.init).toMatchObject({ method: "GET", redirect: "manual" });
    expect((request.init.headers as Record<string, string>).authorization).toBe(`Basic ${btoa(`api:${creds.apiKey}`)}`);
  });
  it("escapes the domain and the id", () => {
    const request = pollRequest("a&b=<c>", "https://api.eu.mailgun.net", { ...creds, domain: "x/../y" });
    expect(request.url).toContain("/v3/x%2F..%2Fy/events?message-id=a%26b%3D%3Cc%3E");
  });
});

describe("normalizePoll (Mailgun): each item as its webhook maps it, with the webhook's id", () => {
  it.each([
    [["accepted"], ["accepted"], false],
    [["accepted", "delivered"], ["accepted", "delivered"], true],
    [["accepted", "failed-temporary"], ["accepted", "deferred"], false],
    [["accepted", "failed-permanent"], ["accepted", "bounced"], true],
    [["failed-suppress-bounce"], ["suppressed"], true],
    [["accepted", "delivered", "opened", "clicked"], ["accepted", "delivered", "opened", "clicked"], true],
  ])("%j → %j (final %s)", async (names, types, final) => {
    const items = names.map((name) => item(name));
    const result = await normalizePoll(ctx, 200, page(...items));
    expect(result.kind).toBe("events");
    if (result.kind !== "events") return;
    expect(result.final).toBe(final);
    expect(result.events.map((e) => e.type)).toEqual(types);
    for (const [i, event] of result.events.entries()) {
      expect(event).toMatchObject({ account: "acct-a", provider: "mailgun", providerMessageId: MID, messageId: OURS });
      // The webhook of the same event (its own body) is the same event: applied once.
      const hook = await normalize({ "event-data": items[i] }, { account: "acct-a", receivedAt: "2026-12-07T02:01:00.000Z" });
      expect(hook.ok && hook.events[0]!.id).toBe(event.id);
      expect(hook.ok && hook.events[0]!.type).toBe(event.type);
    }
  });

  it("no items yet: still in flight, nothing to apply", async () => {
    expect(await normalizePoll(ctx, 200, page())).toEqual({ kind: "events", events: [], final: false });
  });
  it("an item about another message is not applied to this one", async () => {
    const result = await normalizePoll(ctx, 200, page(item("delivered", "other@sample.mailgun.com"), item("accepted")));
    expect(result.kind === "events" && result.events.map((e) => e.type)).toEqual(["accepted"]);
    expect(result.kind === "events" && result.final).toBe(false);
  });

  it.each([
    [401, "Forbidden", "http_401"],
    [404, { message: "Domain not found: mg.example.com" }, "http_404"],
    [429, { message: "Too many requests" }, "http_429"],
    [500, null, "http_500"],
    [200, { message: "hello" }, "not_an_events_page"],
    [200, "Forbidden", "not_an_events_page"],
  ])("HTTP %s %j is an error that changes nothing (%s)", async (status, body, reason) => {
    expect(await normalizePoll(ctx, status, body)).toEqual({ kind: "error", reason, status });
  });
});
