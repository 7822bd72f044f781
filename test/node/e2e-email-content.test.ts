// Email content and timing end to end, through the whole stack: wrangler dev (TemplateDO,
// MessageDO alarms, the send queue, the tracking doors) → the bridge → the sandbox MTA, and the
// event stream to the sandbox's webhook receiver. The worker tests prove each rule with fakes;
// this file proves the parts hold together where a customer meets them: the mail as it arrives
// over SMTP, the links in it followed over HTTP, the events as the endpoint receives them.
import { randomUUID } from "node:crypto";
import PostalMime from "postal-mime";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor, waitForProgress } from "../wait.ts";
import { startTestStack, type TestStack } from "./stack-helpers.ts";

let stack: TestStack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => stack?.stop());

const run = randomUUID().slice(0, 8);
type Arrival = { to: string; at: string; outcome: string; payload: string | null; headers: { mailFrom: string } };
type StreamEvent = { type: string; timestamp: string; data: { message: { id: string; status: string }; detail: Record<string, unknown> } };

/** What the sandbox MTA accepted for addresses that end with this suffix. */
async function arrived(suffix: string): Promise<Arrival[]> {
  const all = (await stack.sandboxGet("/_sandbox/received?channel=email")) as Arrival[];
  return all.filter((r) => r.outcome === "accepted" && r.to.endsWith(suffix));
}

/** The account's event stream as the sandbox receiver got it, each delivery verified with the endpoint's secret. */
async function streamed(messageId: string): Promise<StreamEvent[]> {
  const receiver = stack.webhookReceiver!;
  const { received } = (await stack.sandboxGet(`/_sandbox/hooks/${receiver.name}/received`)) as {
    received: Array<{ headers: Record<string, string>; body: string }>;
  };
  const hook = new Webhook(receiver.secret!);
  return received.map((r) => hook.verify(r.body, r.headers) as StreamEvent).filter((e) => e.data?.message?.id === messageId);
}

async function sendOne(body: Record<string, unknown>): Promise<string> {
  const res = await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(body) });
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id;
}

const RECIPIENTS = 1000;

describe("a template batch of 1,000 recipients through the relay to the sandbox MTA", () => {
  it("1,000 messages arrive, each rendered for its recipient (html escaped, text as given) with its own Message-ID, VERP, unsubscribe and tracking links", async () => {
    const name = `invoice-${run}`;
    const created = await stack.api("/v1/templates", {
      method: "POST",
      body: JSON.stringify({
        name,
        subject: "Invoice {{n}} for {{who}}",
        text: "Dear {{who}}, invoice {{n}} is ready.",
        html: '<html><body><p>Dear {{who}},</p><p><a href="https://shop.example/invoices/{{n}}">Invoice {{n}}</a></p></body></html>',
      }),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const tracking = await stack.api("/v1/email/tracking", { method: "PUT", body: JSON.stringify({ opens: true, clicks: true }) });
    expect(tracking.status, JSON.stringify(tracking.body)).toBe(200);

    // Names that must be escaped in html and kept as they are in the subject and the text.
    const who = (i: number) => (i % 3 === 0 ? `<b>Ann ${i}</b>` : i % 3 === 1 ? `Tom & Jerry ${i}` : `Zoë "${i}"`);
    const escaped = (i: number) =>
      i % 3 === 0 ? `&lt;b&gt;Ann ${i}&lt;&#x2F;b&gt;` : i % 3 === 1 ? `Tom &amp; Jerry ${i}` : `Zoë &quot;${i}&quot;`;
    const suffix = `-${run}@example.com`;
    const to = (i: number) => `tb${i}${suffix}`;
    const messages = Array.from({ length: RECIPIENTS }, (_, i) => ({
      channel: "email",
      from: "news@lasthop.test",
      to: to(i),
      template: { name },
      variables: { who: who(i), n: i },
    }));
    const res = await stack.api("/v1/messages/batch", { method: "POST", body: JSON.stringify({ messages }) });
    expect(res.status, JSON.stringify(res.body).slice(0, 500)).toBe(202);
    const results = res.body.results as Array<{ id: string; status: string }>;
    expect(results.filter((r) => r.status !== "queued")).toEqual([]);
    const ids = results.map((r) => r.id);
    expect(new Set(ids).size).toBe(RECIPIENTS);

    // A thousand sends are a queue backlog: wait while arrivals keep coming, not a fixed time each.
    await waitForProgress(async () => (await arrived(suffix)).length, RECIPIENTS, {
      stallMs: 180_000,
      what: "template batch messages at the sandbox MTA",
      everyMs: 1000,
    });
    const mail = await arrived(suffix);
    // Nothing sent twice: one arrival per recipient.
    expect(new Set(mail.map((m) => m.to)).size).toBe(RECIPIENTS);
    expect(mail).toHaveLength(RECIPIENTS);

    const index = new Map(ids.map((id, i) => [id, i]));
    const seen = { messageId: new Set<string>(), verp: new Set<string>(), unsubscribe: new Set<string>(), click: new Set<string>() };
    for (const m of mail) {
      const i = Number(/^tb(\d+)-/.exec(m.to)![1]);
      const parsed = await PostalMime.parse(m.payload!);
      const id = parsed.headers.find((h) => h.key === "x-lasthop-message-id")!.value;
      // The message the batch answered for this recipient, and no other.
      expect(index.get(id)).toBe(i);
      expect(m.headers.mailFrom).toBe(`bounce+${id}@bounces.lasthop.test`);
      expect(parsed.subject).toBe(`Invoice ${i} for ${who(i)}`);
      expect(parsed.text?.trim()).toBe(`Dear ${who(i)}, invoice ${i} is ready.`);
      expect(parsed.html).toContain(`<p>Dear ${escaped(i)},</p>`);
      expect(parsed.html).not.toContain("<b>Ann");
      // The link goes through the tracking door; the pixel is in.
      const links = [...parsed.html!.matchAll(/href="([^"]+)"/g)].map((x) => x[1]!);
      expect(links).toHaveLength(1);
      expect(links[0]).toMatch(new RegExp(`^${stack.workerUrl}/t/c/`));
      expect(parsed.html).toMatch(new RegExp(`<img[^>]+src="${stack.workerUrl}/t/o/`));
      seen.messageId.add(parsed.messageId!);
      seen.verp.add(m.headers.mailFrom);
      seen.unsubscribe.add(parsed.headers.find((h) => h.key === "list-unsubscribe")!.value);
      seen.click.add(links[0]!);
    }
    for (const [what, values] of Object.entries(seen)) expect(values.size, what).toBe(RECIPIENTS);

    // A sample of the links leads where each recipient's own message did.
    for (const i of [0, 1, 2, 499, 999]) {
      const m = mail.find((x) => x.to === to(i))!;
      const link = /href="([^"]+)"/.exec((await PostalMime.parse(m.payload!)).html!)![1]!;
      const click = await fetch(link, { redirect: "manual", headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0" } });
      expect(click.status).toBe(302);
      expect(click.headers.get("location")).toBe(`https://shop.example/invoices/${i}`);
    }
    const off = await stack.api("/v1/email/tracking", { method: "PUT", body: JSON.stringify({ opens: false, clicks: false }) });
    expect(off.status).toBe(200);
  }, 1_800_000);
});

describe("tracking links in delivered mail", () => {
  it("a click leads to its link, an open answers the GIF; machines are flagged; tampered tokens refused; events on the stream", async () => {
    const to = `reader${run}@example.com`;
    const id = await sendOne({
      channel: "email",
      from: "news@lasthop.test",
      to,
      subject: "Sale",
      html: '<html><body><p><a href="https://shop.example/sale?x=1&amp;y=2">Sale</a> <a href="mailto:help@shop.example">Help</a></p></body></html>',
      tracking: { opens: true, clicks: true },
    });
    const [mail] = await waitFor(async () => {
      const r = await arrived(to);
      return r.length > 0 ? r : null;
    }, "the tracked message at the sandbox MTA");
    const html = (await PostalMime.parse(mail!.payload!)).html!;
    const click = /href="(http[^"]+\/t\/c\/[^"]+)"/.exec(html)![1]!;
    const pixel = /src="(http[^"]+\/t\/o\/[^"]+)"/.exec(html)![1]!;
    expect(html).toContain('href="mailto:help@shop.example"');

    // A scanner's HEAD and Apple MPP's bare agent: machine; a person, once past the first second: human.
    const accepted = await stack.waitForMessage(id, "accepted");
    const acceptedAt = Date.parse(accepted.events.find((e) => e.type === "accepted")!.occurredAt);
    const head = await fetch(click, { method: "HEAD", redirect: "manual" });
    expect(head.status).toBe(302);
    const mpp = await fetch(pixel, { headers: { "user-agent": "Mozilla/5.0" } });
    expect(mpp.status).toBe(200);
    expect(mpp.headers.get("content-type")).toBe("image/gif");
    await waitFor(async () => Date.now() > acceptedAt + 1500, "past the too-soon second");
    const human = { "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15" };
    const person = await fetch(click, { redirect: "manual", headers: human });
    expect(person.status).toBe(302);
    expect(person.headers.get("location")).toBe("https://shop.example/sale?x=1&y=2");
    expect((await fetch(pixel, { headers: human })).status).toBe(200);

    // Tampering: one character of the token's payload changed, or a made-up token: refused, no redirect.
    const token = click.slice(click.lastIndexOf("/") + 1);
    const flipped = `${token[0] === "A" ? "B" : "A"}${token.slice(1)}`;
    for (const bad of [`${stack.workerUrl}/t/c/${flipped}`, `${stack.workerUrl}/t/c/not.a-token`]) {
      const res = await fetch(bad, { redirect: "manual", headers: human });
      expect(res.status).toBe(400);
      expect(res.headers.get("location")).toBeNull();
    }

    const events = await waitFor(async () => {
      const e = (await streamed(id)).filter((x) => x.type === "message.opened" || x.type === "message.clicked");
      return e.length >= 4 ? e : null;
    }, "two opens and two clicks on the event stream");
    const clicks = events.filter((e) => e.type === "message.clicked");
    const opens = events.filter((e) => e.type === "message.opened");
    expect(clicks.map((e) => e.data.detail).sort((a, b) => Number(a.machine) - Number(b.machine))).toEqual([
      expect.objectContaining({ machine: false, first: true, url: "https://shop.example/sale?x=1&y=2", link: 0 }),
      expect.objectContaining({ machine: true, machineReason: "head_request" }),
    ]);
    expect(opens.map((e) => e.data.detail).sort((a, b) => Number(a.machine) - Number(b.machine))).toEqual([
      expect.objectContaining({ machine: false, first: true }),
      expect.objectContaining({ machine: true, machineReason: "apple_mpp" }),
    ]);
    // Opens and clicks never move the message's status.
    expect((await stack.api(`/v1/messages/${id}`)).body.status).toBe("accepted");
  });
});

describe("scheduled sends through the stack", () => {
  it("one is sent at its time and not before (its Date is its sendAt); one canceled before it goes never arrives", async () => {
    const mail = (to: string, sendAt: string) => ({
      channel: "email",
      from: "news@lasthop.test",
      to,
      subject: "Later",
      text: "Scheduled",
      sendAt,
    });
    const toCanceled = `sched-cancel-${run}@example.com`;
    const toSent = `sched-sent-${run}@example.com`;
    // The canceled one is due first: once the later one has arrived, the canceled one would have too.
    const cancelAt = new Date(Date.now() + 8_000);
    const sendAt = new Date(Date.now() + 12_000);
    const canceled = await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(mail(toCanceled, cancelAt.toISOString())) });
    const sent = await stack.api("/v1/messages", { method: "POST", body: JSON.stringify(mail(toSent, sendAt.toISOString())) });
    expect([canceled.body.status, sent.body.status]).toEqual(["scheduled", "scheduled"]);
    const cancel = await stack.api(`/v1/messages/${canceled.body.id}/cancel`, { method: "POST" });
    expect(cancel.status, JSON.stringify(cancel.body)).toBe(200);
    expect(cancel.body.status).toBe("canceled");

    const [arrival] = await waitFor(
      async () => {
        const r = await arrived(toSent);
        return r.length > 0 ? r : null;
      },
      "the scheduled message at the sandbox MTA",
      120_000,
    );
    // Whole seconds: Date carries seconds, and the clocks are the same machine's.
    expect(Date.parse(arrival!.at)).toBeGreaterThanOrEqual(Math.floor(sendAt.getTime() / 1000) * 1000);
    const parsed = await PostalMime.parse(arrival!.payload!);
    expect(Date.parse(parsed.date!)).toBe(Math.floor(sendAt.getTime() / 1000) * 1000);
    expect(await arrived(toCanceled)).toEqual([]);
    expect((await stack.api(`/v1/messages/${canceled.body.id}`)).body.status).toBe("canceled");

    const sentEvents = await waitFor(async () => {
      const e = (await streamed(sent.body.id)).map((x) => x.type);
      return e.includes("message.accepted") ? e : null;
    }, "the sent message's events on the stream");
    // message.scheduled is opt-in on an endpoint (like message.queued); the timeline has it.
    expect(sentEvents).not.toContain("message.canceled");
    const timeline = (await stack.api(`/v1/messages/${sent.body.id}`)).body.events.map((e: { type: string }) => e.type);
    expect(timeline.indexOf("scheduled")).toBeGreaterThanOrEqual(0);
    expect(timeline.indexOf("scheduled")).toBeLessThan(timeline.indexOf("accepted"));
    const canceledEvents = await waitFor(async () => {
      const e = (await streamed(canceled.body.id)).map((x) => x.type);
      return e.includes("message.canceled") ? e : null;
    }, "message.canceled on the stream");
    expect(canceledEvents).not.toContain("message.accepted");
  });
});
