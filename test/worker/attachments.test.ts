/**
 * Attachments through the API (issue 19): every limit and bad field refused with 400/413 before
 * anything is made; the MIME the bridge receives parses back (postal-mime) to the very bytes
 * sent, a non-ASCII filename and an inline CID image included; a message at the size limit is
 * accepted, relayed, and its attachments go with its body when retention drops it.
 */
import { createScheduledController, env, runInDurableObject } from "cloudflare:test";
import worker from "../../src/index.ts";
import PostalMime from "postal-mime";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AccountDO } from "../../src/state/account.ts";
import { MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_SEND_BODY_BYTES, MAX_STORED_REQUEST_BYTES } from "../../src/core/attachment.ts";
import { toBase64 } from "../../src/core/bytes.ts";
import { counterStub, messageStub } from "../../src/state/stubs.ts";
import { waitFor } from "../wait.ts";
import { installBridge } from "./bridge-fake.ts";
import { adminAccount, api, effectsDone, json, send, unique, waitForStatus, webpush } from "./helpers.ts";

let bridge: ReturnType<typeof installBridge>;
beforeEach(() => {
  bridge = installBridge();
});
afterEach(() => bridge.restore());

const DAY = 86_400_000;
const random = (n: number) => {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(bytes.subarray(i, Math.min(n, i + 65_536)));
  return bytes;
};
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 1, 2, 3]);

const email = (to: string, attachments: unknown, extra: Record<string, unknown> = {}) => ({
  channel: "email",
  from: "news@lasthop.test",
  to,
  subject: "Your invoice",
  text: "See attached.",
  html: '<p>Logo: <img src="cid:logo@lasthop.test"></p>',
  attachments,
  ...extra,
});
const file = (n = 16) => ({ content: toBase64(random(n)), filename: "a.bin", contentType: "application/octet-stream" });

async function nothingFor(to: string): Promise<void> {
  const found = await json(await api(`/v1/messages?recipient=${encodeURIComponent(to)}`));
  expect(found.body.data).toEqual([]);
  expect(bridge.mail.some((m) => m.rcptTo === to)).toBe(false);
}

describe("attachments: refused before anything is made", () => {
  it.each<[string, unknown, number, string, RegExp]>([
    ["more than the count limit", Array.from({ length: MAX_ATTACHMENTS + 1 }, () => file()), 400, "attachments", /10|at most|<=/],
    [
      "over the size limit, decoded",
      [file(MAX_ATTACHMENT_BYTES - 10), file(11)],
      400,
      "attachments",
      new RegExp(`${MAX_ATTACHMENT_BYTES + 1} bytes decoded`),
    ],
    ["bad base64", [{ ...file(), content: "not base64!" }], 400, "attachments.0.content", /base64/],
    ["inline without a contentId", [{ ...file(), disposition: "inline" }], 400, "attachments.0.contentId", /inline attachment needs/],
    ["CR/LF in the filename", [{ ...file(), filename: "x.pdf\r\nBcc: victim@example.com" }], 400, "attachments.0.filename", /CR, LF/],
    ["CR/LF in the content type", [{ ...file(), contentType: "text/plain\r\nX: y" }], 400, "attachments.0.contentType", /media type/],
    ["CR/LF in the contentId", [{ ...file(), contentId: "a\r\nb" }], 400, "attachments.0.contentId", /Content-ID/],
  ])("%s: refused with the field's path, and nothing is made", async (_, attachments, status, path, message) => {
    const to = `refused-${unique()}@example.com`;
    const res = await send(email(to, attachments));
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe("validation_failed");
    const detail = res.body.error.details.find((d: { path: string }) => d.path === path);
    expect(detail?.message).toMatch(message);
    await nothingFor(to);
  });

  it("413 for a send body over the send routes' limit, and for a push send over 256 KiB", async () => {
    const to = `huge-${unique()}@example.com`;
    const big = await api("/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(email(to, [{ ...file(), content: "A".repeat(MAX_SEND_BODY_BYTES) }])),
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe("payload_too_large");
    await nothingFor(to);
    const push = await webpush(`big-${unique()}`, { metadata: { pad: "x".repeat(300 * 1024) } });
    const res = await send(push);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });

  it("413 for a template send whose rendered text and html with its attachments would not fit the MessageDO's row", async () => {
    const name = `big-${unique()}`;
    const created = await api("/v1/templates", {
      method: "POST",
      json: { name, subject: "Big", text: "{{#rows}}{{pad}}{{/rows}}", html: "{{#rows}}{{pad}}{{/rows}}" },
    });
    expect(created.status).toBe(201);
    const to = `stored-${unique()}@example.com`;
    const variables = { rows: Array.from({ length: 100 }, () => ({})), pad: "y".repeat(4_900) };
    const res = await send({
      channel: "email",
      from: "news@lasthop.test",
      to,
      template: { name },
      variables,
      attachments: [file(MAX_ATTACHMENT_BYTES)],
    });
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(new RegExp(`at most ${MAX_STORED_REQUEST_BYTES}`));
    await nothingFor(to);
  });
});

describe("attachments: through the relay", () => {
  it("the bridge receives MIME that parses back to the same bytes, filename (RFC 2231), type and Content-ID", async () => {
    const bytes = random(5_000);
    const filename = "Rechnung März 2026 – Übersicht (endgültig).bin";
    const res = await send(
      email("attach@example.com", [
        { content: toBase64(bytes), filename, contentType: "application/octet-stream" },
        { content: toBase64(PNG), filename: "logo.png", contentType: "image/png", disposition: "inline", contentId: "logo@lasthop.test" },
      ]),
    );
    expect(res.status).toBe(202);
    await waitForStatus(res.body.id, "accepted");
    const item = await waitFor(async () => bridge.mail.find((m) => m.id === res.body.id));
    expect(item.raw.split("\r\n").every((line) => line.length <= 998)).toBe(true);
    expect(item.raw).toContain("filename*0*=utf-8''Rechnung%20M%C3%A4rz");
    const parsed = await PostalMime.parse(item.raw, { attachmentEncoding: "arraybuffer" });
    expect(parsed.html).toContain("cid:logo@lasthop.test");
    expect(parsed.text).toContain("See attached.");
    const [doc, logo] = [
      parsed.attachments.find((a) => a.filename === filename),
      parsed.attachments.find((a) => a.filename === "logo.png"),
    ];
    expect(new Uint8Array(doc!.content as ArrayBuffer)).toEqual(bytes);
    expect(doc).toMatchObject({ mimeType: "application/octet-stream", disposition: "attachment" });
    expect(new Uint8Array(logo!.content as ArrayBuffer)).toEqual(PNG);
    expect(logo).toMatchObject({ mimeType: "image/png", disposition: "inline", contentId: "<logo@lasthop.test>", related: true });
  });

  it("a template send and a batch item carry attachments too", async () => {
    const name = `inv-${unique()}`;
    expect((await api("/v1/templates", { method: "POST", json: { name, subject: "Invoice {{n}}", text: "Hi {{who}}" } })).status).toBe(201);
    const bytes = random(300);
    const attachments = [{ content: toBase64(bytes), filename: "inv.bin", contentType: "application/octet-stream" }];
    const templated = await send({
      channel: "email",
      from: "news@lasthop.test",
      to: "tpl@example.com",
      template: { name },
      variables: { n: 7, who: "Ann" },
      attachments,
    });
    expect(templated.status).toBe(202);
    const batch = await json(
      await api("/v1/messages/batch", { method: "POST", json: { messages: [email("batch-item@example.com", attachments)] } }),
    );
    expect(batch.status).toBe(202);
    for (const id of [templated.body.id, batch.body.results[0].id]) {
      const item = await waitFor(async () => bridge.mail.find((m) => m.id === id));
      const parsed = await PostalMime.parse(item.raw, { attachmentEncoding: "arraybuffer" });
      expect(new Uint8Array(parsed.attachments[0]!.content as ArrayBuffer)).toEqual(bytes);
    }
  });
});

async function storedRequest(account: string, id: string): Promise<Record<string, unknown> | null> {
  return runInDurableObject(messageStub(env, account, id), (_i: unknown, state: DurableObjectState) => {
    const row = state.storage.sql.exec<{ request: string }>("SELECT request FROM message").toArray()[0];
    return row ? (JSON.parse(row.request) as Record<string, unknown>) : null;
  });
}

describe("attachments: at the size limit", () => {
  it("a message with the most attachment bytes is accepted, relayed whole, and its attachments expire with its body", async () => {
    const account = await adminAccount("Attach Co");
    const settings = await api("/v1/email/settings", {
      method: "PUT",
      key: account.key,
      json: { bounceDomain: `bounces.${unique()}.example`, sendingDomains: ["keep.example"], relay: { mode: "direct" } },
    });
    expect(settings.status).toBe(200);
    expect((await api("/v1/retention", { method: "PUT", key: account.key, json: { timelineDays: 10, bodyDays: 2 } })).status).toBe(200);
    const parts = [random(MAX_ATTACHMENT_BYTES - 1000), random(1000)];
    const res = await send(
      email(
        `max-${unique()}@example.net`,
        parts.map((bytes, i) => ({ content: toBase64(bytes), filename: `part-${i}.bin`, contentType: "application/octet-stream" })),
        { from: "news@keep.example" },
      ),
      { key: account.key },
    );
    expect(res.status).toBe(202);
    const id = res.body.id as string;
    await waitForStatus(id, "accepted", account.key);
    await effectsDone(id, account.id);
    const item = bridge.mail.find((m) => m.id === id)!;
    const parsed = await PostalMime.parse(item.raw, { attachmentEncoding: "arraybuffer" });
    expect(parsed.attachments.map((a) => new Uint8Array(a.content as ArrayBuffer))).toEqual(parts);
    expect((await storedRequest(account.id, id))?.attachments).toHaveLength(2);

    // The scheduled handler hands the account's policy to its shards; a pass three days on drops the body.
    await worker.scheduled!(createScheduledController({ scheduledTime: Date.now(), cron: "17 * * * *" }), env);
    const shard = counterStub(env, account.id, id) as unknown as DurableObjectStub<AccountDO>;
    await shard.retentionPass(Date.now() + 3 * DAY);
    const stripped = await storedRequest(account.id, id);
    expect(stripped?.bodyExpired).toBe(true);
    expect(stripped).not.toHaveProperty("attachments");
    expect(JSON.stringify(stripped).length).toBeLessThan(1000);
  });
});
