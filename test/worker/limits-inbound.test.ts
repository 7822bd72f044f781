/**
 * /v1/inbound/email takes up to 16 MiB: its signature headers are judged before a byte of
 * the body is read (401), and a declared length over the limit is 413 before the read too.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { doorSecret, signedHeaders } from "../../src/core/standard-webhooks.ts";
import { BASE } from "./helpers.ts";

const CHUNK = 64 * 1024;

/** An endless body that counts what the Worker pulled from it. */
function endlessBody() {
  const counter = { bytes: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      counter.bytes += CHUNK;
      controller.enqueue(new Uint8Array(CHUNK).fill(0x41));
    },
  });
  return { stream, counter };
}

async function postEndless(path: string, headers: Record<string, string>) {
  const { stream, counter } = endlessBody();
  const res = await SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: stream,
  });
  return { res, pulled: counter.bytes };
}

// Well-formed headers; the pre-check never reads the body, so any door key will do for it.
const fresh = async () => signedHeaders(await doorSecret(env.WEBHOOK_SECRET, "/v1/inbound/email"), "{}");

describe.each(["/v1/inbound/email", "/v1/inbound/sms"])("%s before the body", (path) => {
  it.each<[string, () => Promise<Record<string, string>>, string]>([
    ["no signature headers", async () => ({}), "missing"],
    ["a timestamp that is not a Unix time", async () => ({ ...(await fresh()), "webhook-timestamp": "yesterday" }), "not a Unix timestamp"],
    [
      "a timestamp 6 minutes old",
      async () => ({ ...(await fresh()), "webhook-timestamp": String(Math.floor(Date.now() / 1000) - 360) }),
      "tolerance",
    ],
    [
      "a timestamp 6 minutes ahead",
      async () => ({ ...(await fresh()), "webhook-timestamp": String(Math.floor(Date.now() / 1000) + 360) }),
      "tolerance",
    ],
    ["no v1 signature", async () => ({ ...(await fresh()), "webhook-signature": "v2,abc" }), "no v1"],
  ])("401 for %s, with an endless body left unread", async (_, headers, reason) => {
    const { res, pulled } = await postEndless(path, await headers());
    expect(res.status).toBe(401);
    const error = ((await res.json()) as any).error;
    expect(error).toMatchObject({ code: "invalid_signature", message: expect.stringContaining(reason) });
    // Reading to the limit would have pulled 16 MiB (or 256 KiB); at most what the runtime buffers ahead was.
    expect(pulled).toBeLessThanOrEqual(4 * CHUNK);
  });
});

describe("/v1/inbound/email and its declared length", () => {
  it("413 for a Content-Length over 16 MiB with well-formed headers, before the read", async () => {
    const body = new FixedLengthStream(16 * 1024 * 1024 + 1);
    const writer = body.writable.getWriter();
    void writer.write(new Uint8Array(CHUNK)).catch(() => {});
    const res = await SELF.fetch(`${BASE}/v1/inbound/email`, {
      method: "POST",
      headers: { ...(await fresh()), "content-type": "application/json" },
      body: body.readable,
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as any).error.code).toBe("payload_too_large");
    void writer.abort().catch(() => {});
  });

  it("401 rather than 413 when the same oversized request is also unsigned", async () => {
    const body = new FixedLengthStream(16 * 1024 * 1024 + 1);
    const writer = body.writable.getWriter();
    void writer.write(new Uint8Array(CHUNK)).catch(() => {});
    const res = await SELF.fetch(`${BASE}/v1/inbound/email`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: body.readable,
    });
    expect(res.status).toBe(401);
    void writer.abort().catch(() => {});
  });
});
